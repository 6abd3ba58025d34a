// The lean counting subscribers of the two broker peers, in the style of lean-client.mjs and
// counting into the same Counters: NATS over nats-server's WebSocket listener, MQTT 3.1.1 over
// mosquitto's. Each subscribes to its 10 symbols' quote subject/topic at the tier and their
// trades, confirms the subscription (NATS: PING -> PONG after the SUBs; MQTT: SUBACK), answers
// or sends keepalives, and then counts without decoding: one message (NATS MSG / MQTT PUBLISH)
// counts as one frame, quotes by `"seq":`, and one quotes message in `sampleEvery` is parsed for
// latency = receipt time - quote `ts`. Both protocols may pack several messages into one
// WebSocket message or split one over several, so both parse the payloads as one byte stream.
import WebSocket from 'ws';
import { CountingSocket } from './lean-client.mjs';
import { PINGREQ, mqttConnect, mqttSubscribe } from './mqtt-wire.mjs';

/** @typedef {import('./lean-client.mjs').LeanClientOptions} LeanClientOptions */
/** @typedef {import('./lean-client.mjs').Counters} Counters */

const SEQ = Buffer.from('"seq":');
const CH_Q = 0x71;
const CH_T = 0x74;
const CRLF = Buffer.from('\r\n');
const MQTT_KEEPALIVE_S = 120;

let nextClientId = 0;

/** What both subscribers share beyond {@link CountingSocket}: a byte stream over the messages, counting one message. */
class BrokerClient extends CountingSocket {
  /** @param {LeanClientOptions} opts */
  constructor(opts) {
    super(opts);
    // States: connecting -> open (WebSocket open) -> subscribing -> subscribed | closed.
    /** @type {Buffer | null} an incomplete message carried over to the next WebSocket message */
    this.pending = null;
  }

  /** @override */
  opened() {
    this.state = 'open';
    this.start();
  }

  /** Sent once the WebSocket is open. */
  start() {}

  /**
   * Parses as many complete messages of `buf` as it holds. @param {Buffer} buf
   * @returns {number} bytes consumed (the rest is kept for the next WebSocket message)
   */
  parse(buf) {
    return buf.length;
  }

  /** @param {Buffer} bytes one binary WebSocket message */
  send(bytes) {
    if (this.raw) this.raw.sendFrame(0x2, bytes);
    else if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** @override @param {Buffer} data a WebSocket message: only valid during this call */
  onMessage(data) {
    this.counters.bytes += data.length;
    const buf = this.pending ? Buffer.concat([this.pending, data]) : data;
    this.pending = null;
    const used = this.parse(buf);
    if (used < buf.length) this.pending = Buffer.from(buf.subarray(used));
  }

  /**
   * Counts one message. @param {number} kind first byte of its subject/topic
   * @param {Buffer} payload only valid during this call
   */
  count(kind, payload) {
    const c = this.counters;
    c.frames += 1;
    if (this.state !== 'subscribed') {
      c.otherFrames += 1;
      return;
    }
    if (kind === CH_Q) {
      c.quoteFrames += 1;
      let n = 0;
      let i = payload.indexOf(SEQ);
      while (i !== -1) {
        n += 1;
        i = payload.indexOf(SEQ, i + 6);
      }
      c.quotes += n;
      if (--this.sampleCountdown === 0) {
        this.sampleCountdown = this.opts.sampleEvery;
        const now = Date.now();
        try {
          const quotes = JSON.parse(payload.toString('utf8'));
          if (Array.isArray(quotes)) {
            c.sampledFrames += 1;
            for (const q of quotes) if (typeof q?.ts === 'number') c.latency.record(now - q.ts);
          }
        } catch {
          c.otherFrames += 1;
        }
      }
    } else if (kind === CH_T) {
      c.tradeFrames += 1;
    } else {
      c.otherFrames += 1;
    }
  }

  subscribed() {
    this.state = 'subscribed';
    this.resolveReady?.(this.opts.throttleMs);
  }
}

/** NATS over WebSocket: CONNECT, SUB per subject, PING/PONG to confirm, count MSG. */
export class NatsWsClient extends BrokerClient {
  /** @override */
  start() {
    // nats-server sends INFO first; CONNECT may follow it right away (it buffers)
    const { symbols, throttleMs } = this.opts;
    let sid = 0;
    const subs = symbols.map((s) => `SUB q.${s}.${throttleMs} ${++sid}\r\nSUB t.${s} ${++sid}\r\n`).join('');
    const connect = JSON.stringify({ verbose: false, pedantic: false, protocol: 1, name: `bench-${++nextClientId}` });
    this.state = 'subscribing';
    this.send(Buffer.from(`CONNECT ${connect}\r\n${subs}PING\r\n`));
  }

  /** @override @param {Buffer} buf */
  parse(buf) {
    const total = buf.length;
    let off = 0;
    while (off < total) {
      const nl = buf.indexOf(CRLF, off);
      if (nl === -1) break;
      const b0 = buf[off];
      if (b0 === 0x4d /* M */ && buf[off + 1] === 0x53 && buf[off + 2] === 0x47 && buf[off + 3] === 0x20) {
        // MSG <subject> <sid> [reply-to] <#bytes>: the size is the line's last field
        let size = 0;
        let mul = 1;
        for (let i = nl - 1; i > off; i -= 1) {
          const d = /** @type {number} */ (buf[i]);
          if (d === 0x20) break;
          size += (d - 0x30) * mul;
          mul *= 10;
        }
        const start = nl + 2;
        if (total < start + size + 2) break;
        this.count(/** @type {number} */ (buf[off + 4]), buf.subarray(start, start + size));
        off = start + size + 2;
        continue;
      }
      const line = buf.toString('latin1', off, nl);
      off = nl + 2;
      this.counters.otherFrames += 1;
      if (line === 'PING') {
        this.counters.pings += 1;
        this.send(Buffer.from('PONG\r\n'));
      } else if (line === 'PONG') {
        if (this.state === 'subscribing') this.subscribed();
      } else if (line.startsWith('-ERR')) {
        this.rejectReady?.(new Error(`nats: ${line.slice(0, 200)}`));
      }
      // INFO, +OK: nothing to do
    }
    return off;
  }
}

/** MQTT 3.1.1 over WebSocket (subprotocol `mqtt`): CONNECT, SUBSCRIBE at QoS 0, count PUBLISH, PINGREQ. */
export class MqttWsClient extends BrokerClient {
  /** @param {LeanClientOptions} opts */
  constructor(opts) {
    super(opts);
    /** @type {NodeJS.Timeout | undefined} */
    this.pinger = undefined;
  }

  /** @override */
  subprotocol() {
    return 'mqtt';
  }

  /** @override */
  start() {
    this.send(mqttConnect(`bench-${process.pid}-${++nextClientId}`, MQTT_KEEPALIVE_S));
  }

  /** @override */
  stopTimers() {
    clearInterval(this.pinger);
  }

  /** @override @param {Buffer} buf */
  parse(buf) {
    const total = buf.length;
    let off = 0;
    while (total - off >= 2) {
      const b0 = /** @type {number} */ (buf[off]);
      let len = 0;
      let mul = 1;
      let i = off + 1;
      let complete = false;
      for (; i < total && i < off + 5; i += 1) {
        const b = /** @type {number} */ (buf[i]);
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i += 1;
          break;
        }
      }
      if (!complete || total < i + len) break;
      const body = i;
      off = i + len;
      const type = b0 >> 4;
      if (type === 3) {
        // PUBLISH: topic length, topic, [packet id if QoS > 0], payload
        const tlen = buf.readUInt16BE(body);
        const qos = (b0 >> 1) & 3;
        const payloadAt = body + 2 + tlen + (qos > 0 ? 2 : 0);
        this.count(/** @type {number} */ (buf[body + 2]), buf.subarray(payloadAt, off));
        continue;
      }
      this.counters.otherFrames += 1;
      if (type === 2) {
        // CONNACK: session present, return code
        if (buf[body + 1] !== 0) {
          this.rejectReady?.(new Error(`mqtt: CONNACK refused (${buf[body + 1]})`));
          return off;
        }
        const { symbols, throttleMs } = this.opts;
        this.state = 'subscribing';
        this.send(
          mqttSubscribe(
            1,
            symbols.flatMap((s) => [`q/${s}/${throttleMs}`, `t/${s}`]),
          ),
        );
        this.pinger = setInterval(() => this.send(PINGREQ), (MQTT_KEEPALIVE_S * 1000) / 2);
        this.pinger.unref();
      } else if (type === 9) {
        // SUBACK: packet id, then one return code per topic (0x80 = refused)
        for (let k = body + 2; k < off; k += 1) {
          if (buf[k] === 0x80) {
            this.rejectReady?.(new Error('mqtt: SUBACK refused a topic'));
            return off;
          }
        }
        if (this.state === 'subscribing') this.subscribed();
      } else if (type === 13) {
        this.counters.pings += 1; // PINGRESP
      }
    }
    return off;
  }
}
