import type { FeedTick, FeedTrade } from '@tickdeck/protocol';
import type { Sequencer } from '../feed/sequencer.js';
import type { MarketState, MarketStateExport } from '../market/market-state.js';

/** One feed event as a publisher sent it (validated): a trade has a `side`, a tick does not. */
export type FeedEvent = FeedTick | FeedTrade;

/** Where the bus applies events: the node's own, local ingest path. */
export interface FeedSink {
  tick(tick: FeedTick): unknown;
  trade(trade: FeedTrade): unknown;
}

/** What the bus needs from Redis (or a fake in specs): one channel, in order, and up/down. */
export interface BusTransport {
  start(events: BusTransportEvents): void;
  /** Publishes on the channel; rejects at once when the connection is not usable. */
  publish(message: string): Promise<unknown>;
  /** Drops the connections and connects again (after a publish failed on a connection thought up). */
  recycle(): void;
  close(): Promise<void>;
}

export interface BusTransportEvents {
  /** A message from the channel, in the order Redis delivered it (this node's own included). */
  message(message: string): void;
  /** Publishing and receiving both work (again). */
  up(): void;
  /** Publishing or receiving stopped working. */
  down(reason: string): void;
}

/**
 * Messages on the bus channel, JSON; `n` is the sending node. `batch`: feed events the node
 * received, in its order, numbered `id` within the node's epoch `ep` (bumped each time the node
 * loses Redis); `sync`: the node's whole market, which every node (the sender too) adopts on
 * receipt, and which stands for every batch of that node from an epoch before `ep`; `sync?`: a
 * node asks the feed's owner for a `sync`.
 */
export type BusMessage =
  | { t: 'batch'; n: string; ep: number; id: number; e: FeedEvent[] }
  | { t: 'sync'; n: string; ep: number; s: MarketStateExport }
  | { t: 'sync?'; n: string };

/** `connecting` before Redis was first reached, `ok` while it is, `degraded` after it was lost. */
export type BusState = 'connecting' | 'ok' | 'degraded';

export interface FeedBusOptions {
  /** This node's id, unique in the cluster. */
  node: string;
  /** A node that received a local feed event this recently owns the feed and answers `sync?` at once. */
  ownerWindowMs?: number;
  /** A node that does not own the feed answers `sync?` after this long, unless a `sync` went by. */
  answerDelayMs?: number;
  /** After asking for a `sync`, local events wait at most this long for it before going out. */
  joinWaitMs?: number;
  /** Redis not reached this long after start: the node goes `degraded` and applies its own feed. */
  startGraceMs?: number;
  /** Events buffered before a batch goes out without waiting for the end of the current task. */
  maxBatch?: number;
  now?: () => number;
  log?: (level: 'log' | 'warn' | 'error', message: string) => void;
}

export interface FeedBusStats {
  /** Batches this node published. */
  published: number;
  /** Batches received from the bus (this node's own included). */
  received: number;
  /** Events applied straight to local state because the bus was not up. */
  appliedLocally: number;
  syncsSent: number;
  syncsAdopted: number;
}

/**
 * The cluster feed bus. While Redis is up, a node does NOT apply the feed events it receives: it
 * publishes them, and every node (itself included) applies every batch in the order Redis
 * delivers it, so every node's market state, seq included, is the same.
 *
 * While Redis is down a node applies its own events at once (its viewers keep their feed) and
 * remembers that it went its own way; when Redis returns it publishes its whole state (`sync`)
 * and every node adopts it. A node that comes up without having diverged (a new node, or one that
 * only missed batches) asks for a `sync` instead and holds its own events until the answer is in
 * (at most `joinWaitMs`), so they continue the cluster's state: the node owning the feed answers
 * at once, any other node that holds a market answers after `answerDelayMs` unless a `sync` went
 * by first (so a node joins a cluster whose feed is idle, or whose feed node is the one joining).
 */
export class FeedBus implements Sequencer {
  state: BusState = 'connecting';
  readonly node: string;
  readonly stats: FeedBusStats = { published: 0, received: 0, appliedLocally: 0, syncsSent: 0, syncsAdopted: 0 };
  private sink: FeedSink | null = null;
  private buffer: FeedEvent[] = [];
  private flushQueued = false;
  private nextId = 1;
  /** Own batches published and not received back yet, oldest first. */
  private inFlight: { id: number; events: FeedEvent[] }[] = [];
  /** Applied local events while the bus was not up: the cluster does not have them. */
  private diverged = false;
  /** A `sync` waits for this node's in-flight batches, so it includes them. */
  private syncPending = false;
  /** Asked for a `sync`: local events wait for it (or for `joinTimer`). */
  private awaitingSync = false;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  private answerTimer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private lastLocalAt = -Infinity;
  private readonly ownerWindowMs: number;
  private readonly answerDelayMs: number;
  private readonly joinWaitMs: number;
  private readonly startGraceMs: number;
  private readonly maxBatch: number;
  private readonly now: () => number;
  private readonly log: NonNullable<FeedBusOptions['log']>;
  private readonly stateListeners: ((state: BusState) => void)[] = [];
  private readonly syncListeners: ((from: string, lowered: string[]) => void)[] = [];
  /** Bumped on every loss of Redis: batches of an older epoch were applied here already. */
  private epoch = 0;
  /** Per node, the epoch of its latest `sync`: its batches from before are in that sync. */
  private readonly syncedEpoch = new Map<string, number>();

  constructor(
    private readonly transport: BusTransport,
    private readonly market: MarketState,
    options: FeedBusOptions,
  ) {
    this.node = options.node;
    this.ownerWindowMs = options.ownerWindowMs ?? 10_000;
    this.answerDelayMs = options.answerDelayMs ?? 100;
    this.joinWaitMs = options.joinWaitMs ?? 500;
    this.startGraceMs = options.startGraceMs ?? 3000;
    this.maxBatch = options.maxBatch ?? 5000;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  /** The local ingest path the bus applies events with. */
  attach(sink: FeedSink): void {
    this.sink = sink;
  }

  onState(fn: (state: BusState) => void): void {
    this.stateListeners.push(fn);
  }

  /**
   * Called after this node adopted a `sync` (its state may have jumped), with the symbols whose
   * seq went down (only when two nodes were fed at once while Redis was away).
   */
  onSync(fn: (from: string, lowered: string[]) => void): void {
    this.syncListeners.push(fn);
  }

  /** Whether this node received feed events of its own recently (it answers `sync?` at once). */
  get ownsFeed(): boolean {
    return this.now() - this.lastLocalAt < this.ownerWindowMs;
  }

  start(): void {
    this.graceTimer = setTimeout(() => this.down('Redis not reachable since start'), this.startGraceMs);
    this.graceTimer.unref?.();
    this.transport.start({
      message: (m) => this.receive(m),
      up: () => this.up(),
      down: (reason) => this.down(reason),
    });
  }

  async stop(): Promise<void> {
    this.clearTimers();
    clearTimeout(this.graceTimer);
    if (this.state === 'ok') this.flush();
    await this.transport.close();
  }

  /** The {@link Sequencer} side: a validated tick from a feed source on this node. */
  tick(tick: FeedTick): void {
    this.local(tick);
  }

  /** The {@link Sequencer} side: a validated trade from a feed source on this node. */
  trade(trade: FeedTrade): void {
    this.local(trade);
  }

  /** A validated event from a feed source on this node. */
  local(event: FeedEvent): void {
    if (this.state === 'degraded') {
      this.applyLocally(event);
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.maxBatch && this.canPublish()) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      // One batch per synchronous run of a source (a /feed batch, a simulator step).
      queueMicrotask(() => this.flush());
    }
  }

  /** Publishes the buffered events as one batch (or applies them, when the bus is not up). */
  flush(): void {
    this.flushQueued = false;
    if (this.buffer.length === 0) return;
    this.lastLocalAt = this.now();
    if (this.state === 'degraded') {
      const events = this.buffer;
      this.buffer = [];
      for (const e of events) this.applyLocally(e);
      return;
    }
    // Held: not connected yet, or a sync this node sends or waits for must go first.
    if (!this.canPublish()) return;
    const all = this.buffer;
    this.buffer = [];
    // What piled up while held goes out in batches of at most maxBatch.
    for (let from = 0; from < all.length; from += this.maxBatch) {
      const events = all.length <= this.maxBatch ? all : all.slice(from, from + this.maxBatch);
      const id = this.nextId++;
      this.inFlight.push({ id, events });
      this.stats.published++;
      this.send({ t: 'batch', n: this.node, ep: this.epoch, id, e: events });
    }
  }

  private canPublish(): boolean {
    return this.state === 'ok' && !this.syncPending && !this.awaitingSync;
  }

  private applyLocally(event: FeedEvent): void {
    this.diverged = true;
    this.lastLocalAt = this.now();
    this.stats.appliedLocally++;
    this.apply(event);
  }

  private apply(event: FeedEvent): void {
    const sink = this.sink;
    if (!sink) return;
    if ('side' in event) sink.trade(event);
    else sink.tick(event);
  }

  private send(message: BusMessage): void {
    this.transport.publish(JSON.stringify(message)).catch((err: unknown) => {
      this.log('warn', `feed bus: publish failed (${err instanceof Error ? err.message : String(err)})`);
      if (this.state === 'ok') {
        this.down('publish failed');
        this.transport.recycle();
      }
    });
  }

  private receive(raw: string): void {
    let msg: BusMessage;
    try {
      msg = JSON.parse(raw) as BusMessage;
    } catch {
      this.log('warn', 'feed bus: dropped a message that is not JSON');
      return;
    }
    switch (msg.t) {
      case 'batch': {
        // A batch from before its sender lost Redis (delivered late, e.g. by a Redis that was
        // frozen) is in the sender's state already: the sender applied it itself, and its sync
        // carries it. Whoever sees it after that sync, the sender included, drops it.
        const own = msg.n === this.node;
        if (own ? msg.ep < this.epoch : msg.ep < (this.syncedEpoch.get(msg.n) ?? -1)) break;
        this.stats.received++;
        if (own) this.landed(msg.id);
        // Nodes that started together, with no state to sync, all name the epoch after this batch.
        this.market.nameEpoch(`${msg.n}/${msg.ep}/${msg.id}`);
        for (const e of msg.e) this.apply(e);
        if (own && this.syncPending && this.inFlight.length === 0) this.sendSync();
        break;
      }
      case 'sync': {
        this.syncedEpoch.set(msg.n, Math.max(msg.ep, this.syncedEpoch.get(msg.n) ?? -1));
        const lowered = this.market.importState(msg.s);
        this.stats.syncsAdopted++;
        clearTimeout(this.answerTimer);
        this.answerTimer = undefined;
        if (msg.n !== this.node) this.log('log', `feed bus: adopted the market state of ${msg.n}`);
        if (lowered.length > 0) {
          this.log('warn', `feed bus: the state of ${msg.n} is behind this node's on ${lowered.join(',')}`);
        }
        for (const fn of this.syncListeners) fn(msg.n, lowered);
        if (this.awaitingSync) this.joined();
        break;
      }
      case 'sync?':
        if (msg.n === this.node || this.state !== 'ok') break;
        if (this.ownsFeed) this.requestSync();
        else if (this.market.ticksApplied > 0 && this.answerTimer === undefined) {
          this.answerTimer = setTimeout(() => {
            this.answerTimer = undefined;
            if (this.state === 'ok') this.requestSync();
          }, this.answerDelayMs);
        }
        break;
      default:
        this.log('warn', 'feed bus: dropped a message of an unknown type');
    }
  }

  /** Own batch `id` came back: it and any older one are no longer in flight. */
  private landed(id: number): void {
    const k = this.inFlight.findIndex((b) => b.id === id);
    if (k >= 0) this.inFlight.splice(0, k + 1);
  }

  /** Sends a `sync` once this node's in-flight batches are back (applied), so it includes them. */
  private requestSync(): void {
    this.syncPending = true;
    if (this.inFlight.length === 0) this.sendSync();
  }

  private sendSync(): void {
    this.syncPending = false;
    this.stats.syncsSent++;
    this.send({ t: 'sync', n: this.node, ep: this.epoch, s: this.market.exportState() });
    // Events that waited for the sync go out right behind it.
    this.flush();
  }

  /** The `sync` asked for is in (or did not come in time): held local events go out. */
  private joined(): void {
    clearTimeout(this.joinTimer);
    this.joinTimer = undefined;
    this.awaitingSync = false;
    this.flush();
  }

  private up(): void {
    clearTimeout(this.graceTimer);
    const wasDegraded = this.state === 'degraded';
    this.state = 'ok';
    if (this.diverged) {
      // Everything this node applied on its own goes to the cluster as one state.
      this.diverged = false;
      this.requestSync();
    } else {
      this.awaitingSync = true;
      this.joinTimer = setTimeout(() => this.joined(), this.joinWaitMs);
      this.send({ t: 'sync?', n: this.node });
    }
    this.log('log', wasDegraded ? 'feed bus: Redis is back, resynchronising' : 'feed bus: connected to Redis');
    for (const fn of this.stateListeners) fn('ok');
  }

  private down(reason: string): void {
    if (this.state === 'degraded') return;
    const wasUp = this.state === 'ok';
    this.state = 'degraded';
    if (wasUp) this.epoch++;
    this.clearTimers();
    // Batches that did not come back may never reach anyone: apply them here, in order; then
    // whatever waited to go out.
    const lost = this.inFlight;
    this.inFlight = [];
    const waiting = this.buffer;
    this.buffer = [];
    for (const b of lost) for (const e of b.events) this.applyLocally(e);
    for (const e of waiting) this.applyLocally(e);
    this.log('warn', `feed bus: Redis lost (${reason}); serving this node's own feed locally until it returns`);
    for (const fn of this.stateListeners) fn('degraded');
  }

  private clearTimers(): void {
    clearTimeout(this.joinTimer);
    clearTimeout(this.answerTimer);
    this.joinTimer = this.answerTimer = undefined;
    this.syncPending = false;
    this.awaitingSync = false;
  }
}
