import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FeedAck, type FeedTick, type Quote, type Snapshot } from '@tickdeck/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { onFrame } from './support/frame.js';
import {
  connectViewer,
  sleep,
  startGateway,
  type MarketClient,
  type RunningGateway,
  connectPublisher,
} from './support/gateway.js';
import { startSim, type SimResult } from './support/sim.js';
import { until } from './support/until.js';

const TOKEN = 'feed-test-token-0123';

type CliResult = SimResult;

const children = new Set<ChildProcess>();

/** Starts `tickdeck-sim` with `args`; the environment carries no feed token unless given. */
const startCli = (args: string[], env: Record<string, string> = {}) => startSim(args, children, env);

/** Runs `tickdeck-sim` to completion, killing it after `timeoutMs`. */
async function cli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const { child, done } = startCli(args);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = await done;
  clearTimeout(timer);
  return result;
}

/** The last tick per symbol of an NDJSON recording, and how many ticks each symbol had. */
function lastTicks(ndjson: string): Map<string, { tick: FeedTick; count: number }> {
  const out = new Map<string, { tick: FeedTick; count: number }>();
  for (const line of ndjson.split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as { type: string } & FeedTick;
    if (e.type !== 'tick') continue;
    out.set(e.symbol, { tick: e, count: (out.get(e.symbol)?.count ?? 0) + 1 });
  }
  return out;
}

async function snapshots(gw: RunningGateway, symbols: string[]): Promise<Snapshot[]> {
  const res = await fetch(`${gw.url}/api/snapshot?symbols=${symbols.join(',')}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Snapshot[];
}

async function ticksApplied(gw: RunningGateway): Promise<number> {
  const res = await fetch(`${gw.url}/api/health`);
  return ((await res.json()) as { feed: { ticks: number } }).feed.ticks;
}

const gateways: RunningGateway[] = [];
const sockets: { disconnect(): unknown }[] = [];

async function gateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  const gw = await startGateway({ FEED: 'external', FEED_TOKEN: TOKEN, ...env });
  gateways.push(gw);
  return gw;
}

async function viewer(gw: RunningGateway, symbols: string[]): Promise<{ socket: MarketClient; quotes: Quote[] }> {
  const socket = await connectViewer(gw.url);
  sockets.push(socket);
  const quotes: Quote[] = [];
  onFrame(socket, { quotes: (q) => quotes.push(...q) });
  const ack = await socket.emitWithAck('subscribe', { symbols, throttleMs: 100 });
  expect(ack.ok).toBe(true);
  return { socket, quotes };
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

describe('/feed ingest and the tickdeck-sim CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickdeck-feed-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('run against FEED=external: the snapshot ends at exactly the last prices a record of the same seed has', async () => {
    const gw = await gateway();
    const symbols = ['AAPL', 'BTC-USD'];
    const { quotes } = await viewer(gw, symbols);
    // Nothing is applied within 300 ms: there is no feed yet.
    await sleep(300);
    expect(await ticksApplied(gw)).toBe(0);
    const model = ['--symbols', symbols.join(','), '--rate', '1000', '--duration', '2s', '--seed', '42'];
    const run = await cli(['run', '--url', gw.url, '--token', TOKEN, ...model]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rejected 0/);
    const rec = await cli(['record', '--out', '-', ...model]);
    expect(rec.code).toBe(0);
    const expected = lastTicks(rec.stdout);
    expect([...expected.keys()].sort()).toEqual([...symbols].sort());
    // The viewer has each symbol's last quote within 300 ms.
    const lastQuote = (symbol: string) => quotes.findLast((q) => q.symbol === symbol);
    const caughtUp = () => symbols.every((s) => lastQuote(s)?.seq === expected.get(s)!.count);
    expect(await until(caughtUp, 300), 'the last quotes within 300 ms').toBe(true);
    for (const s of await snapshots(gw, symbols)) {
      const { tick, count } = expected.get(s.symbol)!;
      expect({ last: s.last, bid: s.bid, ask: s.ask, seq: s.seq }).toEqual({
        last: tick.last,
        bid: tick.bid,
        ask: tick.ask,
        seq: count,
      });
      const received = quotes.filter((q) => q.symbol === s.symbol);
      expect(received.length).toBeGreaterThan(5);
      expect(received.at(-1)).toMatchObject({ seq: count, last: tick.last });
    }
  });

  it('a bad or missing token exits 2 naming the problem, and no tick reaches a subscriber', async () => {
    const gw = await gateway();
    const { quotes } = await viewer(gw, ['AAPL']);
    const bad = await cli(['run', '--url', gw.url, '--token', 'not-the-token', '--duration', '2s']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/refused the feed token \(UNAUTHORIZED\): wrong feed token/);
    const missing = await cli(['run', '--url', gw.url, '--duration', '2s']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing feed token/);
    const closed = await startGateway({ FEED: 'external' });
    gateways.push(closed);
    const disabled = await cli(['run', '--url', closed.url, '--token', TOKEN, '--duration', '2s']);
    expect(disabled.code).toBe(2);
    expect(disabled.stderr).toMatch(/start it with FEED_TOKEN=<secret> to enable \/feed/);
    const embedded = await startGateway({ FEED: 'embedded', FEED_TOKEN: TOKEN });
    gateways.push(embedded);
    const shut = await cli(['run', '--url', embedded.url, '--token', TOKEN, '--duration', '2s']);
    expect(shut.code).toBe(2);
    expect(shut.stderr).toMatch(/FEED=embedded\): start it with FEED=external or FEED=both/);
    // Nothing arrives within 300 ms of the last attempt.
    await sleep(300);
    expect(quotes).toEqual([]);
    expect(await ticksApplied(gw)).toBe(0);
    expect(gw.output()).not.toContain('not-the-token');
    await expect(connectPublisher(gw.url, 'not-the-token')).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    await expect(connectPublisher(gw.url)).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });

  it('a batch mixing good and bad items applies the good ones and rejects each bad one with its index and code', async () => {
    const gw = await gateway();
    const { quotes } = await viewer(gw, ['AAPL', 'MSFT']);
    const pub = await connectPublisher(gw.url, TOKEN);
    sockets.push(pub);
    const ts = Date.now();
    const good = { symbol: 'AAPL', ts, last: 201.5, bid: 201.4, ask: 201.6, volume: 10 };
    const batch = [
      { ...good, last: 200, bid: 199.9, ask: 200.1 },
      { symbol: 'MSFT', ts, last: Number.NaN, bid: 1, ask: 2 },
      { symbol: 'NOPE', ts, last: 1, bid: 1, ask: 2 },
      { symbol: 'MSFT', ts: 17, last: 1, bid: 1, ask: 2 },
      { symbol: 'MSFT', ts, last: -5, bid: 1, ask: 2 },
      { symbol: 'MSFT', ts, last: 1, bid: 3, ask: 2 },
      { symbol: 'MSFT' },
      good,
    ] as FeedTick[];
    const ack: FeedAck = await pub.emitWithAck('ticks', batch);
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'BAD_PRICE'],
      [2, 'UNKNOWN_SYMBOL'],
      [3, 'BAD_TIMESTAMP'],
      [4, 'BAD_PRICE'],
      [5, 'BAD_PRICE'],
      [6, 'BAD_TIMESTAMP'],
    ]);
    const notArray: FeedAck = await pub.emitWithAck('ticks', good as unknown as FeedTick[]);
    expect(notArray).toMatchObject({ accepted: 0, rejected: [{ code: 'BAD_REQUEST' }] });
    // AAPL's quote within 400 ms. MSFT shares its frames (one subscription set), so a quote of a
    // wrongly applied MSFT tick would have come with it or before.
    expect(await until(() => quotes.some((q) => q.symbol === 'AAPL' && q.seq === 2), 400)).toBe(true);
    const [aapl, msft] = await snapshots(gw, ['AAPL', 'MSFT']);
    expect(aapl).toMatchObject({ seq: 2, last: 201.5, bid: 201.4, ask: 201.6 });
    expect(msft).toMatchObject({ seq: 0 });
    expect(quotes.filter((q) => q.symbol === 'MSFT')).toEqual([]);
    expect(quotes.at(-1)).toMatchObject({ symbol: 'AAPL', seq: 2, last: 201.5 });
  });

  it('record twice is byte-identical, and replay into a fresh gateway ends at the recording’s last values', async () => {
    const a = join(dir, 'a.ndjson');
    const b = join(dir, 'b.ndjson');
    const model = ['--rate', '3000', '--duration', '5s', '--seed', '7'];
    expect((await cli(['record', '--out', a, ...model])).code).toBe(0);
    expect((await cli(['record', '--out', b, ...model])).code).toBe(0);
    const recording = readFileSync(a);
    expect(recording.length).toBeGreaterThan(100_000);
    expect(readFileSync(b).equals(recording)).toBe(true);

    const gw = await gateway();
    const replay = await cli(['replay', a, '--url', gw.url, '--token', TOKEN, '--speed', 'max']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/rejected 0/);
    const expected = lastTicks(recording.toString());
    const snaps = await snapshots(gw, [...expected.keys()]);
    expect(snaps).toHaveLength(expected.size);
    for (const s of snaps) {
      const { tick, count } = expected.get(s.symbol)!;
      expect({ ts: s.ts, last: s.last, bid: s.bid, ask: s.ask, seq: s.seq }).toEqual({
        ts: tick.ts,
        last: tick.last,
        bid: tick.bid,
        ask: tick.ask,
        seq: count,
      });
    }
  });

  it('reconnects after the gateway is killed and restarted on the same port, and feeds the new one', async () => {
    let gw = await gateway();
    const port = gw.port;
    const run = startCli(['run', '--url', gw.url, '--token', TOKEN, '--rate', '500', '--seed', '1']);
    expect(await until(async () => (await ticksApplied(gw)) > 0, 5000)).toBe(true);
    gw.child.kill('SIGKILL');
    await gw.stop();
    // Down for 1 s (~500 ticks due meanwhile): the scenario, not a wait.
    await sleep(1000);
    gw = await gateway({ PORT: String(port) });
    const restarted = Date.now();
    expect(await until(async () => (await ticksApplied(gw)) > 100, 8000)).toBe(true);
    expect(Date.now() - restarted).toBeLessThan(8000);
    // Resumed from the present: no burst of the ticks due while the gateway was down arrives
    // within 1 s.
    await sleep(1000);
    const ticks = await ticksApplied(gw);
    expect(ticks).toBeLessThan(500 * ((Date.now() - restarted) / 1000 + 1));
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/reconnects 1/);
  });
});
