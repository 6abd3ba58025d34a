import { DEFAULT_INSTRUMENTS, type FeedTick, type FeedTrade } from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { MarketState } from '../market/market-state.js';
import { FeedBus, type BusMessage, type BusTransport, type BusTransportEvents } from './feed-bus.js';

const T0 = Date.UTC(2026, 10, 25, 12);

/** In-memory pub/sub standing in for Redis: delivers on `deliver()`, in publish order. */
class Hub {
  queue: string[] = [];
  readonly transports: FakeTransport[] = [];
  /** Delivers everything queued to every transport that is up. */
  deliver(): void {
    const q = this.queue;
    this.queue = [];
    for (const m of q) for (const t of this.transports) if (t.isUp) t.events?.message(m);
  }
  /** Delivers the oldest queued message only. */
  deliverOne(): void {
    const m = this.queue.shift();
    if (m !== undefined) for (const t of this.transports) if (t.isUp) t.events?.message(m);
  }
  messages(): BusMessage[] {
    return this.queue.map((m) => JSON.parse(m) as BusMessage);
  }
}

class FakeTransport implements BusTransport {
  events: BusTransportEvents | null = null;
  isUp = false;
  recycled = 0;
  failPublish = false;
  constructor(private readonly hub: Hub) {
    hub.transports.push(this);
  }
  start(events: BusTransportEvents): void {
    this.events = events;
  }
  publish(message: string): Promise<unknown> {
    if (!this.isUp || this.failPublish) return Promise.reject(new Error('not connected'));
    this.hub.queue.push(message);
    return Promise.resolve(1);
  }
  recycle(): void {
    this.recycled++;
  }
  async close(): Promise<void> {
    this.events = null;
  }
  up(): void {
    this.isUp = true;
    this.events?.up();
  }
  down(): void {
    this.isUp = false;
    this.events?.down('test');
  }
}

interface Node {
  bus: FeedBus;
  market: MarketState;
  transport: FakeTransport;
  /** What the local ingest path applied, in order. */
  applied: string[];
}

function node(hub: Hub, name: string, now = () => T0, startGraceMs = 10_000, joinWaitMs = 20): Node {
  const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 20 });
  const transport = new FakeTransport(hub);
  const bus = new FeedBus(transport, market, { node: name, now, answerDelayMs: 5, joinWaitMs, startGraceMs });
  const applied: string[] = [];
  bus.attach({
    tick: (t) => {
      market.applyTick(t);
      applied.push(`${t.symbol}@${t.last}`);
    },
    trade: (t) => {
      market.applyTrade(t);
      applied.push(`${t.symbol}x${t.size}`);
    },
  });
  bus.start();
  return { bus, market, transport, applied };
}

const tick = (symbol: string, last: number, dt = 0): FeedTick => ({
  symbol,
  ts: T0 + dt,
  last,
  bid: last - 0.01,
  ask: last + 0.01,
  volume: 1,
});
const trade = (symbol: string, size: number, dt = 0): FeedTrade => ({
  symbol,
  ts: T0 + dt,
  price: 100,
  size,
  side: 'buy',
});

/** Lets queued microtasks (the bus's end-of-task flush, rejected publishes) run. */
const settle = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Brings nodes up and lets their first `sync?` go round (unanswered in an empty cluster). */
async function upAll(hub: Hub, ...nodes: Node[]): Promise<void> {
  for (const n of nodes) n.transport.up();
  hub.deliver();
  await sleep(30);
}

const snapshot = (n: Node) => n.market.exportState();

describe(FeedBus.name, () => {
  it('publishes local events as one batch per task and applies every batch in delivery order on every node, the publisher too', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    const b = node(hub, 'b');
    await upAll(hub, a, b); // the `sync?` each sent on start: nobody holds a market yet, nobody answers
    expect(hub.queue).toEqual([]);

    a.bus.local(trade('AAPL', 5));
    a.bus.local(tick('AAPL', 101));
    b.bus.local(tick('MSFT', 400));
    expect(a.applied).toEqual([]);
    await settle();
    expect(hub.messages().map((m) => [m.t, m.n])).toEqual([
      ['batch', 'a'],
      ['batch', 'b'],
    ]);
    hub.deliver();
    for (const n of [a, b]) expect(n.applied).toEqual(['AAPLx5', 'AAPL@101', 'MSFT@400']);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.bus.stats).toMatchObject({ published: 1, received: 2, appliedLocally: 0 });
  });

  it('while Redis is away applies its own events at once; on return its state goes out and every node adopts it', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    const b = node(hub, 'b');
    await upAll(hub, a, b);
    const states: string[] = [];
    b.bus.onState((s) => states.push(s));
    const syncs: string[] = [];
    b.bus.onSync((from) => syncs.push(from));

    a.transport.down();
    b.transport.down();
    expect([a.bus.state, b.bus.state]).toEqual(['degraded', 'degraded']);
    for (let k = 1; k <= 5; k++) a.bus.local(tick('AAPL', 100 + k, k));
    a.bus.local(trade('AAPL', 2, 6));
    expect(a.applied).toHaveLength(6);
    expect(b.applied).toEqual([]);
    expect(a.market.snapshot(a.market.indexOf('AAPL'))).toMatchObject({ seq: 5, tradeSeq: 1, last: 105 });

    b.transport.up();
    a.transport.up();
    // b asks for a sync; a, back with state of its own, sends one unasked, then answers b's.
    hub.deliver();
    hub.deliver();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(b.market.snapshot(b.market.indexOf('AAPL'))).toMatchObject({ seq: 5, tradeSeq: 1, last: 105 });
    expect(b.market.recentTrades(b.market.indexOf('AAPL'), 10)).toEqual(
      a.market.recentTrades(a.market.indexOf('AAPL'), 10),
    );
    expect(b.market.historySince(b.market.indexOf('AAPL'), 0)).toEqual(
      a.market.historySince(a.market.indexOf('AAPL'), 0),
    );
    expect(syncs.length).toBeGreaterThan(0);
    expect(syncs.every((s) => s === 'a')).toBe(true);
    expect(states).toEqual(['degraded', 'ok']);

    // And from there on both apply the same batches again.
    a.bus.local(tick('AAPL', 110, 7));
    await settle();
    hub.deliver();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.market.seqAt(a.market.indexOf('AAPL'))).toBe(6);
  });

  it('answers a late joiner’s request with the feed owner’s state', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    await upAll(hub, a);
    for (let k = 0; k < 10; k++) a.bus.local(tick('BTC-USD', 65_000 + k, k));
    await settle();
    hub.deliver();
    expect(a.bus.ownsFeed).toBe(true);

    const c = node(hub, 'c');
    c.transport.up();
    expect(hub.messages()).toEqual([{ t: 'sync?', n: 'c' }]);
    hub.deliver(); // a answers
    hub.deliver(); // the sync reaches c
    expect(snapshot(c)).toEqual(snapshot(a));
    expect(c.bus.ownsFeed).toBe(false);
  });

  it('applies its own batches that never came back when Redis goes, and drops them if Redis delivers them late', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    const b = node(hub, 'b');
    await upAll(hub, a, b);
    a.bus.local(tick('KO', 60));
    await settle();
    const stale = hub.queue.splice(0); // published, not delivered: Redis froze
    a.transport.down();
    b.transport.down();
    expect(a.applied).toEqual(['KO@60']);

    a.transport.up();
    b.transport.up();
    // Redis wakes up and delivers the old batch after the sync: everyone drops it.
    hub.deliver();
    hub.queue.push(...stale);
    hub.deliver();
    hub.deliver();
    expect(a.applied).toEqual(['KO@60']);
    expect(b.applied).toEqual([]);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.market.seqAt(a.market.indexOf('KO'))).toBe(1);
  });

  it('holds a sync until its own in-flight batches are back, so the sync includes them', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    await upAll(hub, a);
    const b = node(hub, 'b');
    b.transport.up(); // `sync?` first in line
    a.bus.local(tick('NVDA', 900)); // then a's batch
    await settle();
    hub.deliverOne(); // the request reaches a while its batch is still in flight
    a.bus.local(tick('NVDA', 901)); // held back: it must come after the sync
    await settle();
    expect(hub.messages().map((m) => m.t)).toEqual(['batch']);
    hub.deliverOne(); // a's batch is back: now the sync, right behind it the held event
    expect(hub.messages().map((m) => m.t)).toEqual(['sync', 'batch']);
    hub.deliver();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.market.snapshot(a.market.indexOf('NVDA'))).toMatchObject({ seq: 2, last: 901 });
  });

  it('two nodes fed while Redis was away converge on the last sync, and the one whose seq went down is told', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    const b = node(hub, 'b');
    await upAll(hub, a, b);
    a.transport.down();
    b.transport.down();
    for (let k = 1; k <= 5; k++) a.bus.local(tick('AAPL', 100 + k, k));
    for (let k = 1; k <= 2; k++) b.bus.local(tick('AAPL', 200 + k, k));
    const lowered: [string, string[]][] = [];
    a.bus.onSync((from, symbols) => lowered.push([from, symbols]));
    await upAll(hub, a, b);
    hub.deliver();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.market.snapshot(a.market.indexOf('AAPL'))).toMatchObject({ seq: 2, last: 202 });
    expect(lowered).toContainEqual(['b', ['AAPL']]);
  });

  it('a (re)starting feed node holds its events until it has the cluster’s state, so the seq continues', async () => {
    const hub = new Hub();
    let t = T0;
    const a = node(hub, 'a', () => t);
    await upAll(hub, a);
    for (let k = 1; k <= 3; k++) a.bus.local(tick('AAPL', 100 + k, k));
    await settle();
    hub.deliver();
    t += 60_000; // a no longer owns the feed; it still holds the market
    expect(a.bus.ownsFeed).toBe(false);

    // A join wait far above the answer delay: a loaded machine's timers cannot swap them.
    const n = node(hub, 'n', () => t, 10_000, 2000);
    n.transport.up(); // asks for the state
    n.bus.local(tick('AAPL', 150, 10)); // its own feed starts at once: held
    await settle();
    expect(hub.messages()).toEqual([{ t: 'sync?', n: 'n' }]);
    hub.deliver();
    // a answers after answerDelayMs
    for (let waited = 0; hub.messages().length === 0 && waited < 1000; waited += 5) await sleep(5);
    expect(hub.messages().map((m) => [m.t, m.n])).toEqual([['sync', 'a']]);
    hub.deliver(); // n adopts a's state, then publishes its held tick
    expect(hub.messages().map((m) => [m.t, m.n])).toEqual([['batch', 'n']]);
    hub.deliver();
    expect(snapshot(n)).toEqual(snapshot(a));
    expect(a.market.snapshot(a.market.indexOf('AAPL'))).toMatchObject({ seq: 4, last: 150 });
  });

  it('sends what piled up while held in batches of at most maxBatch, in order', async () => {
    const hub = new Hub();
    const market = new MarketState(DEFAULT_INSTRUMENTS, { historySeconds: 60, tradeHistory: 20 });
    const transport = new FakeTransport(hub);
    const bus = new FeedBus(transport, market, { node: 'x', maxBatch: 4, joinWaitMs: 10 });
    bus.start();
    for (let k = 0; k < 10; k++) bus.local(tick('AAPL', 100 + k, k)); // connecting: held
    await settle();
    transport.up();
    await sleep(20);
    const batches = hub.messages().filter((m) => m.t === 'batch');
    expect(batches.map((m) => (m.t === 'batch' ? m.e.map((e) => (e as FeedTick).last) : []))).toEqual([
      [100, 101, 102, 103],
      [104, 105, 106, 107],
      [108, 109],
    ]);
    await bus.stop();
  });

  it('Redis not reachable at start: after the grace it goes degraded and serves its own feed', async () => {
    const hub = new Hub();
    const a = node(hub, 'a', () => T0, 20);
    const states: string[] = [];
    a.bus.onState((st) => states.push(st));
    a.bus.local(tick('KO', 61));
    await settle();
    expect(a.applied).toEqual([]);
    await sleep(40);
    expect(a.bus.state).toBe('degraded');
    expect(states).toEqual(['degraded']);
    expect(a.applied).toEqual(['KO@61']);
    a.transport.up(); // it went its own way: its state goes to the cluster
    expect(hub.messages().map((m) => m.t)).toEqual(['sync']);
  });

  it('a failed publish degrades the node, applies the batch locally and recycles the connection', async () => {
    const hub = new Hub();
    const a = node(hub, 'a');
    await upAll(hub, a);
    a.transport.failPublish = true;
    a.bus.local(tick('AAPL', 99));
    await settle();
    await settle();
    expect(a.bus.state).toBe('degraded');
    expect(a.applied).toEqual(['AAPL@99']);
    expect(a.transport.recycled).toBe(1);
  });
});
