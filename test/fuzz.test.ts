import { ErrorCode, type Status } from '@tickdeck/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { longestGap } from './support/cadence.js';
import { onFrame } from './support/frame.js';
import { connectViewer, startGateway, type RunningGateway } from './support/gateway.js';

/** One malformed message: event, arguments before the ack, and the code its ack must carry. */
type Case = [event: string, args: unknown[], code: ErrorCode];

const nest = (depth: number): unknown => {
  let v: unknown = ['AAPL'];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const json = (s: string): unknown => JSON.parse(s);

/** Every kind of bad message a viewer can send that still fits in a frame. */
function cases(): Case[] {
  const bad = ErrorCode.BAD_REQUEST;
  const payloads: [unknown, ErrorCode][] = [
    [42, bad],
    ['AAPL', bad],
    [null, bad],
    [true, bad],
    [[], bad],
    [{}, bad],
    [{ symbols: 'AAPL' }, bad],
    [{ symbols: [] }, bad],
    [{ symbols: [1, 2] }, bad],
    [{ symbols: [null] }, bad],
    [{ symbols: [{}] }, bad],
    [{ symbols: ['AAPL'], throttleMs: '100' }, bad],
    [{ symbols: ['AAPL'], throttleMs: -1 }, bad],
    [{ symbols: ['AAPL'], throttleMs: 1e308 }, bad],
    [{ symbols: ['AAPL'], extra: 1 }, bad],
    [{ symbols: Array.from({ length: 600 }, () => 'A') }, bad],
    [{ symbols: ['A'.repeat(10_000)] }, bad],
    [{ symbols: ['AA PL'] }, bad],
    [json('{"__proto__":{"polluted":true},"symbols":["AAPL"]}'), bad],
    [json('{"constructor":{"prototype":{"polluted":true}},"symbols":["AAPL"]}'), bad],
    [json('{"symbols":["AAPL"],"since":{"__proto__":5}}'), bad],
    [{ symbols: ['AAPL'], since: { AAPL: 'x' } }, bad],
    [{ symbols: ['AAPL'], since: [] }, bad],
    [{ symbols: nest(400) }, bad],
    [json(`{"symbols":["AAPL"],"x":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}`), bad],
    [Buffer.from('{"symbols":["AAPL"]}'), bad],
    [{ symbols: [Buffer.from('AAPL')] }, bad],
    [{ symbols: ['NOPE'] }, ErrorCode.UNKNOWN_SYMBOL],
    [{ symbols: ['AAPL', 'ZZZZ'] }, ErrorCode.UNKNOWN_SYMBOL],
    [{ symbols: ['AAPL'], throttleMs: 7 }, ErrorCode.BAD_THROTTLE],
    [{ symbols: ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META'] }, ErrorCode.TOO_MANY_SYMBOLS],
  ];
  const out: Case[] = [];
  for (const [p, code] of payloads) {
    out.push(['subscribe', [p], code]);
    if (code === bad) out.push(['unsubscribe', [p], code]);
  }
  out.push(['unsubscribe', [{ symbols: ['NOPE'] }], ErrorCode.UNKNOWN_SYMBOL]);
  // Extra arguments, and events nobody handles (incl. prototype names and server-only events).
  out.push(['subscribe', [{ symbols: ['AAPL'] }, 'extra'], bad]);
  out.push(['subscribe', [], bad]);
  for (const e of [
    'nonsense',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'frame',
    'status',
    'x'.repeat(2000),
  ]) {
    out.push([e, [{ symbols: ['AAPL'] }], bad]);
  }
  return out;
}

interface AckLike {
  ok: boolean;
  error?: { code: string };
}

describe('fuzz: 10,000+ malformed messages from several clients', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      MAX_SYMBOLS_PER_CLIENT: '5',
      // The fuzz is about validation, not the rate limit (the flood test covers that).
      RATE_LIMIT_PER_S: '100000',
      RATE_LIMIT_BURST: '100000',
      FEED_RATE: '400',
    });
  });
  afterAll(() => gw?.stop());

  const rssMb = async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)![1]) / 2 ** 20;
  };

  it('answers each with its coded error, closes only oversized senders, and a bystander keeps its quotes', async () => {
    const rssBefore = await rssMb();
    // The bystander: 5 symbols at 250 ms; its longest silence is measured throughout.
    const bystander = await connectViewer(gw.url);
    const ack = (await bystander.emitWithAck('subscribe', {
      symbols: ['AAPL', 'MSFT', 'NVDA', 'BTC-USD', 'ETH-USD'],
      throttleMs: 250,
    })) as AckLike;
    expect(ack.ok).toBe(true);
    let quotes = 0;
    onFrame(bystander, { quotes: (q) => (quotes += q.length) });

    const all = cases();
    const FUZZERS = 5;
    const PER_FUZZER = 2000;
    const wrong: string[] = [];
    let answered = 0;
    const fuzz = async (f: number) => {
      const socket = await connectViewer(gw.url);
      let disconnected = false;
      socket.on('disconnect', () => (disconnected = true));
      for (let sent = 0; sent < PER_FUZZER;) {
        const wave: Promise<void>[] = [];
        for (let n = 0; n < 50 && sent < PER_FUZZER; n++, sent++) {
          const [event, args, code] = all[(f * 7 + sent) % all.length]!;
          wave.push(
            (socket.timeout(10_000) as unknown as { emitWithAck: (e: string, ...a: unknown[]) => Promise<AckLike> })
              .emitWithAck(event, ...args)
              .then(
                (res) => {
                  answered++;
                  if (res.ok || res.error?.code !== code) {
                    wrong.push(`${event} ${JSON.stringify(args).slice(0, 80)} -> ${JSON.stringify(res).slice(0, 120)}`);
                  }
                },
                (err: Error) => void wrong.push(`${event}: ${err.message}`),
              ),
          );
          // The same message without an ack: no reply expected, no harm allowed.
          if (sent % 10 === 0) (socket as unknown as { emit: (...a: unknown[]) => void }).emit(event, ...args);
        }
        await Promise.all(wave);
      }
      expect(disconnected).toBe(false);
      socket.close();
    };

    // Oversized frames (JSON and binary): each closes its own sender with FRAME_TOO_LARGE.
    const oversized = async (n: number) => {
      const socket = await connectViewer(gw.url);
      const notice = new Promise<Status['notice']>((resolve) => {
        socket.on('status', (s) => s.notice && resolve(s.notice));
      });
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      const payload = n % 2 ? { symbols: Array.from({ length: 5000 }, () => 'AAPL') } : Buffer.alloc(64 * 1024, 1);
      // No ack: the frame never reaches a handler.
      (socket as unknown as { emit: (...a: unknown[]) => void }).emit('subscribe', payload);
      expect((await notice)?.code).toBe(ErrorCode.FRAME_TOO_LARGE);
      expect(await gone).toBe('io server disconnect');
    };

    // Garbage below Socket.IO's framing (raw Engine.IO websocket): the connection is dropped.
    const garbage = (frame: string) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/socket.io/?EIO=4&transport=websocket`);
        ws.once('message', () => {
          ws.send('40/market,');
          ws.send(frame);
        });
        const timer = setTimeout(() => reject(new Error(`not closed after ${JSON.stringify(frame)}`)), 5000);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.once('error', reject);
      });

    const attack = () =>
      Promise.all([
        ...Array.from({ length: FUZZERS }, (_, f) => fuzz(f)),
        ...Array.from({ length: 10 }, (_, n) => oversized(n)),
        ...[
          '42/market,[',
          '4X/market,',
          '9',
          '42/market,["subscribe",{"symbols":["AAPL"]',
          '4599-/market,["subscribe",{"_placeholder":true,"num":98}]',
          '4' + '['.repeat(5000),
        ].map(garbage),
      ]).then(() => {});
    // Measured through the attack and 500 ms after it.
    const gap = await longestGap(bystander, attack, 500);
    const rssAfter = await rssMb();
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(answered).toBe(FUZZERS * PER_FUZZER);
    expect(bystander.connected).toBe(true);
    expect(quotes).toBeGreaterThan(0);
    // Never silent for more than two 250 ms intervals.
    expect(gap).toBeLessThanOrEqual(500);
    // Bounded memory: the run leaves the gateway well under 300 MB RSS and within 100 MB of its start.
    expect(rssAfter).toBeLessThan(300);
    expect(rssAfter - rssBefore).toBeLessThan(100);
    console.log(
      `fuzz: ${answered} acks, bystander max gap ${gap.toFixed(0)} ms, RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB`,
    );
    bystander.close();

    // Alive, no crash, nothing logged as an error or an unhandled failure.
    expect(gw.child.exitCode).toBeNull();
    expect((await fetch(`${gw.url}/api/health`)).status).toBe(200);
    expect(gw.output()).not.toMatch(/\bERROR\b|unhandled|uncaught/i);
  });
});
