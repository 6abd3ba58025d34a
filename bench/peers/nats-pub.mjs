// BASELINE PEER, not the product: NATS. The shared throttled stream (broker-feed.mjs) published
// into a nats-server the harness starts (bench/lib/brokers.mjs) with the NATS text protocol over
// TCP: `PUB q.AAPL.100 <len>\r\n<json>\r\n` per quote flush, `PUB t.AAPL ...` per trade batch.
// Subscribers hold `SUB q.SYM.100` + `SUB t.SYM` over nats-server's WebSocket listener.
import { runBrokerPublisher } from './broker-feed.mjs';

const CRLF = Buffer.from('\r\n');

runBrokerPublisher('nats-pub', {
  topic: (room) => room.replaceAll(':', '.'),
  publish: (subject, payload) => Buffer.concat([Buffer.from(`PUB ${subject} ${payload.length}\r\n`), payload, CRLF]),
  handshake(socket, ready) {
    let buf = '';
    let done = false;
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\r\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (line.startsWith('INFO ') && !done) {
          socket.write(
            `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name: 'tickdeck-bench' })}\r\nPING\r\n`,
          );
        } else if (line === 'PONG' && !done) {
          done = true;
          ready();
        } else if (line === 'PING') {
          socket.write('PONG\r\n');
        } else if (line.startsWith('-ERR')) {
          console.error(`nats-pub: ${line}`);
        }
      }
    });
  },
});
