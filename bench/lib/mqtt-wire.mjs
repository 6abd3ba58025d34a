// The few MQTT 3.1.1 packets the broker peer's publisher (peers/mqtt-pub.mjs) and the lean MQTT
// subscriber (broker-clients.mjs) build: no library, just the fixed header and its varint length.

/**
 * One packet: fixed header byte, remaining length (1-4 byte varint), then `parts`.
 * @param {number} first the fixed header's first byte (type << 4 | flags)
 * @param {Buffer[]} parts
 */
export function mqttPacket(first, parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = [first];
  let x = len;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    head.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from(head), ...parts], head.length + len);
}

/** @param {string} s a UTF-8 string with its 2-byte length in front */
export function mqttString(s) {
  const b = Buffer.from(s);
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** CONNECT, MQTT 3.1.1, clean session, no will, no credentials. @param {string} clientId @param {number} keepaliveS */
export function mqttConnect(clientId, keepaliveS) {
  const vh = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, keepaliveS >> 8, keepaliveS & 0xff]);
  return mqttPacket(0x10, [vh, mqttString(clientId)]);
}

/** SUBSCRIBE, every topic at QoS 0. @param {number} packetId @param {string[]} topics */
export function mqttSubscribe(packetId, topics) {
  const parts = [Buffer.from([packetId >> 8, packetId & 0xff])];
  for (const t of topics) parts.push(mqttString(t), Buffer.from([0]));
  return mqttPacket(0x82, parts);
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
