// BASELINE PEER, not the product: MQTT. The shared throttled stream (broker-feed.mjs) published
// into a mosquitto the harness starts (bench/lib/brokers.mjs) as raw MQTT 3.1.1 PUBLISH packets,
// QoS 0, over TCP: topic `q/AAPL/100` per quote flush, `t/AAPL` per trade batch. Subscribers
// hold those topics over mosquitto's WebSocket listener.
import { runBrokerPublisher } from './broker-feed.mjs';
import { mqttConnect, mqttPacket } from '../lib/mqtt-wire.mjs';

runBrokerPublisher('mqtt-pub', {
  topic: (room) => room.replaceAll(':', '/'),
  publish(topic, payload) {
    const t = Buffer.from(topic);
    const head = Buffer.allocUnsafe(2);
    head.writeUInt16BE(t.length, 0);
    return mqttPacket(0x30, [head, t, payload]);
  },
  handshake(socket, ready) {
    socket.write(mqttConnect(`tickdeck-pub-${process.pid}`, 60));
    let done = false;
    socket.on('data', (chunk) => {
      // CONNACK: 0x20 0x02 <flags> <return code>; afterwards only PINGRESPs arrive
      if (!done && chunk[0] === 0x20) {
        if (chunk[3] !== 0) {
          console.error(`mqtt-pub: CONNACK refused (${chunk[3]})`);
          process.exit(1);
        }
        done = true;
        ready();
      }
    });
  },
  keepalive: Buffer.from([0xc0, 0x00]), // PINGREQ
  keepaliveMs: 30_000,
});
