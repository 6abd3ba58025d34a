import { describe, expect, it, vi } from 'vitest';
import type { Trade } from '@tickdeck/protocol';
import { snapshot } from './test-data';
import { TradeStore } from './trades.svelte';

function trade(seq: number, fields: Partial<Trade> = {}): Trade {
  return { id: `AAPL-${seq}`, seq, ts: 1_700_000_000_000 + seq, price: 200, size: 10, side: 'buy', ...fields };
}

function seqs(store: TradeStore): number[] {
  return store.tape.flatMap((e) => (e.kind === 'trade' ? [e.trade.seq] : []));
}

const immediate = (flush: () => void) => flush();

describe(TradeStore.name, () => {
  it('marks a gap on the tape when a batch says trades were lost, then shows the batch', () => {
    const store = new TradeStore({ schedule: (f) => f(), now: () => 5 });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1)] });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(9), trade(10)], gap: true });
    expect(store.tape.map((e) => (e.kind === 'trade' ? e.trade.seq : e.kind))).toEqual([10, 9, 'gap', 1]);
  });

  it('puts trades on the tape newest first and skips repeats', () => {
    const store = new TradeStore({ schedule: immediate });
    expect(store.applyBatch({ symbol: 'AAPL', trades: [trade(1), trade(2)] })).toHaveLength(2);
    expect(store.applyBatch({ symbol: 'AAPL', trades: [trade(2), trade(1), trade(3)] }).map((t) => t.seq)).toEqual([3]);
    expect(seqs(store)).toEqual([3, 2, 1]);
    expect(store.lastSeq('AAPL')).toBe(3);
    expect(store.since()).toEqual({ AAPL: 3 });
  });

  it('keeps at most `limit` lines', () => {
    const store = new TradeStore({ schedule: immediate, limit: 5 });
    store.applyBatch({ symbol: 'AAPL', trades: [1, 2, 3, 4].map((s) => trade(s)) });
    store.applyBatch({ symbol: 'AAPL', trades: [5, 6, 7].map((s) => trade(s)) });
    expect(seqs(store)).toEqual([7, 6, 5, 4, 3]);
  });

  it('coalesces bursts into one tape update', () => {
    const pending: (() => void)[] = [];
    const store = new TradeStore({ schedule: (flush) => pending.push(flush) });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1)] });
    store.applyBatch({ symbol: 'MSFT', trades: [trade(1, { id: 'MSFT-1' })] });
    expect(pending).toHaveLength(1);
    expect(store.tape).toEqual([]);
    pending[0]!();
    expect(store.tape.map((e) => (e.kind === 'trade' ? e.symbol : e.kind))).toEqual(['MSFT', 'AAPL']);
  });

  it('reports trades at or above the notional threshold as large', () => {
    const onLarge = vi.fn();
    let threshold = 10_000;
    const store = new TradeStore({ schedule: immediate, onLarge, largeTrade: () => threshold });
    store.applyBatch({
      symbol: 'AAPL',
      trades: [trade(1, { size: 49 }), trade(2, { size: 50 }), trade(3, { size: 51 })],
    });
    expect(onLarge.mock.calls.map(([symbol, t, notional]) => [symbol, t.seq, notional])).toEqual([
      ['AAPL', 2, 10_000],
      ['AAPL', 3, 10_200],
    ]);
    expect(store.tape.map((e) => e.kind === 'trade' && e.large)).toEqual([true, true, false]);

    threshold = 1_000_000;
    store.applyBatch({ symbol: 'AAPL', trades: [trade(4, { size: 100 })] });
    expect(onLarge).toHaveBeenCalledTimes(2);
  });

  it('applies the trades a subscribe ack recovered once, then continues after its tradeSeq', () => {
    const store = new TradeStore({ schedule: immediate });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1), trade(2)] });
    store.applyAck({
      snapshots: [snapshot('AAPL', 50, { tradeSeq: 4 })],
      trades: [{ symbol: 'AAPL', trades: [trade(2), trade(3), trade(4)] }],
      gaps: [],
    });
    expect(seqs(store)).toEqual([4, 3, 2, 1]);
    store.applyBatch({ symbol: 'AAPL', trades: [trade(4), trade(5)] });
    expect(seqs(store)).toEqual([5, 4, 3, 2, 1]);
  });

  it('marks a gap for each symbol the ack lists, and continues after its tradeSeq', () => {
    const store = new TradeStore({ schedule: immediate, now: () => 42 });
    store.applyAck({ epoch: 'e1', snapshots: [snapshot('AAPL', 3, { tradeSeq: 2 })], trades: [], gaps: [] });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(3)] });
    store.applyAck({ epoch: 'e1', snapshots: [snapshot('AAPL', 90, { tradeSeq: 80 })], trades: [], gaps: ['AAPL'] });
    expect(store.tape[0]).toEqual({ kind: 'gap', key: expect.any(String), symbol: 'AAPL', ts: 42 });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(80), trade(81)] });
    expect(seqs(store)).toEqual([81, 3]);
  });

  it('keeps what it holds when a snapshot of the same epoch is behind it (a node a little behind)', () => {
    const store = new TradeStore({ schedule: immediate });
    store.applyAck({ epoch: 'e1', snapshots: [snapshot('AAPL', 1, { tradeSeq: 0 })], trades: [], gaps: [] });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1), trade(2), trade(3)] });
    store.applyAck({ epoch: 'e1', snapshots: [snapshot('AAPL', 3, { tradeSeq: 2 })], trades: [], gaps: [] });
    expect(store.lastSeq('AAPL')).toBe(3);
    expect(store.tape.every((e) => e.kind === 'trade')).toBe(true);
    store.applyBatch({ symbol: 'AAPL', trades: [trade(3), trade(4)] });
    expect(seqs(store)).toEqual([4, 3, 2, 1]);
  });

  it('clears the tape and its seqs on an ack of another epoch, though the new seqs passed the old ones', () => {
    const store = new TradeStore({ schedule: immediate, now: () => 42 });
    store.applyAck({ epoch: 'e1', snapshots: [snapshot('AAPL', 1, { tradeSeq: 0 })], trades: [], gaps: [] });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1), trade(2)] });
    store.applyBatch({ symbol: 'MSFT', trades: [trade(1, { id: 'MSFT-1' })] });
    expect(store.epoch).toBe('e1');

    store.applyAck({
      epoch: 'e2',
      snapshots: [snapshot('AAPL', 40, { tradeSeq: 30, epoch: 'e2' })],
      // What a gateway of another epoch could never answer: a stray batch and gaps are ignored.
      trades: [{ symbol: 'AAPL', trades: [trade(3)] }],
      gaps: ['AAPL'],
    });
    expect(store.epoch).toBe('e2');
    expect(store.tape).toEqual([{ kind: 'restart', key: expect.any(String), ts: 42 }]);
    expect(store.since()).toEqual({ AAPL: 30 });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(30), trade(31)] });
    store.applyBatch({ symbol: 'MSFT', trades: [trade(1, { id: 'MSFT-1' })] });
    expect(store.tape.map((e) => (e.kind === 'trade' ? `${e.symbol}:${e.trade.seq}` : e.kind))).toEqual([
      'MSFT:1',
      'AAPL:31',
      'restart',
    ]);
  });

  it('drops what was waiting for the tape when the epoch changes', () => {
    const pending: (() => void)[] = [];
    const store = new TradeStore({ schedule: (flush) => pending.push(flush), now: () => 7 });
    store.applyAck({ epoch: 'e1', snapshots: [], trades: [], gaps: [] });
    store.applyBatch({ symbol: 'AAPL', trades: [trade(1)] });
    store.applyAck({ epoch: 'e2', snapshots: [], trades: [], gaps: [] });
    for (const flush of pending.splice(0)) flush();
    expect(store.tape.map((e) => e.kind)).toEqual(['restart']);
  });
});
