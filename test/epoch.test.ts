import type { ChildProcess } from 'node:child_process';
import type { Snapshot, SubscribeAck, TradeBatch } from '@tickdeck/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, getJson } from './support/cluster.js';
import { onFrame } from './support/frame.js';
import { connectViewer, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const SYMBOLS = ['AAPL', 'BTC-USD', 'ETH-USD'];
/** Trades come fast, so the restarted run passes the old run's seqs within seconds. */
const FEED = { FEED_RATE: '1500', FEED_TRADE_PROBABILITY: '0.6' };

type Ok = Extract<SubscribeAck, { ok: true }>;

function okAck(ack: SubscribeAck): Ok {
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack.error)}`);
  return ack;
}

const health = (url: string) => getJson<{ epoch: string }>(`${url}/api/health`);
const restSnapshots = (url: string) => getJson<Snapshot[]>(`${url}/api/snapshot?symbols=${SYMBOLS.join(',')}`);

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('epochs: a gateway killed and restarted on the same port starts a new sequence space', () => {
  const gateways: RunningGateway[] = [];
  const sockets: MarketClient[] = [];
  let second: RunningGateway | undefined;

  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all(gateways.map((g) => g.stop()));
  });

  const viewer = async (url: string) => {
    const socket = await connectViewer(url);
    sockets.push(socket);
    return socket;
  };

  it('a since of the old run is a gap for every symbol once the new run passed its seqs; no new trade comes back as missed', async () => {
    const port = await freePort();
    const first = await startGateway({ PORT: String(port), ...FEED });
    gateways.push(first);

    const socket = await viewer(first.url);
    const got: TradeBatch[] = [];
    onFrame(socket, { trades: (b) => got.push(b) });
    const ack = okAck(await socket.timeout(5000).emitWithAck('subscribe', { symbols: SYMBOLS }));
    const epoch = ack.epoch;
    expect(epoch).toMatch(/^\S{1,64}$/);
    expect(ack.snapshots.map((s) => s.epoch)).toEqual(SYMBOLS.map(() => epoch));
    expect((await health(first.url)).epoch).toBe(epoch);
    expect((await restSnapshots(first.url)).every((s) => s.epoch === epoch)).toBe(true);

    // What a client holds: the snapshot's tradeSeq, then every trade it received.
    const since: Record<string, number> = Object.fromEntries(ack.snapshots.map((s) => [s.symbol, s.tradeSeq]));
    const held = () => {
      for (const b of got) for (const t of b.trades) since[b.symbol] = t.seq;
      return since;
    };
    const followed = await until(() => SYMBOLS.every((s) => held()[s]! >= 3), 15_000);
    expect(followed, `trades did not flow: ${JSON.stringify(held())}`).toBe(true);
    const heldAtKill = { ...held() };

    first.child.kill('SIGKILL');
    await exited(first.child);
    second = await startGateway({ PORT: String(port), ...FEED });
    gateways.push(second);
    expect(second.port).toBe(port);
    const newEpoch = (await health(second.url)).epoch;
    expect(newEpoch).not.toBe(epoch);

    // The new run's trade seqs pass the old ones: without epochs they would read as a continuation.
    const url = second.url;
    const passed = await until(async () => {
      const snaps = await restSnapshots(url);
      return snaps.every((s) => s.tradeSeq > heldAtKill[s.symbol]! + 2);
    }, 30_000);
    expect(passed, `the new run did not pass ${JSON.stringify(heldAtKill)}`).toBe(true);

    const back = await viewer(second.url);
    const backAck = okAck(
      await back.timeout(5000).emitWithAck('subscribe', { symbols: SYMBOLS, epoch, since: heldAtKill }),
    );
    expect(backAck.epoch).toBe(newEpoch);
    expect([...backAck.gaps].sort()).toEqual([...SYMBOLS].sort());
    expect(backAck.trades).toEqual([]);
    for (const s of backAck.snapshots) {
      expect(s.epoch).toBe(newEpoch);
      expect(s.tradeSeq).toBeGreaterThan(heldAtKill[s.symbol]!);
    }
    expect((await health(second.url)).epoch).toBe(newEpoch);
    const rest = await restSnapshots(second.url);
    expect(rest.map((s) => s.epoch)).toEqual(SYMBOLS.map(() => newEpoch));
    const one = await getJson<Snapshot>(`${second.url}/api/snapshot/AAPL`);
    expect(one.epoch).toBe(newEpoch);
  });

  it('refuses a since without its epoch, and recovers trades as before within the epoch', async () => {
    expect(second, 'needs the restarted gateway of the previous test').toBeDefined();
    const gw = second!;
    const socket = await viewer(gw.url);
    const bare = await socket.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'], since: { AAPL: 1 } });
    expect(bare).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });

    const ack = okAck(await socket.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'] }));
    const from = ack.snapshots[0]!.tradeSeq - 3;
    const again = okAck(
      await socket
        .timeout(5000)
        .emitWithAck('subscribe', { symbols: ['AAPL'], epoch: ack.epoch, since: { AAPL: from } }),
    );
    expect(again.gaps).toEqual([]);
    const seqs = again.trades.flatMap((b) => b.trades.map((t) => t.seq));
    expect(seqs.slice(0, 3)).toEqual([from + 1, from + 2, from + 3]);
    expect(seqs).toEqual([...seqs.keys()].map((n) => from + 1 + n));
  });
});
