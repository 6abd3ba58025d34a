import { SvelteMap } from 'svelte/reactivity';
import {
  DEFAULT_THROTTLE_TIERS_MS,
  type FeedState,
  type InstrumentSpec,
  type QuoteState,
  type Snapshot,
  type Status,
} from '@tickdeck/protocol';

/** Where the dashboard's link to the gateway stands. */
export type Connection =
  /** Opening the socket, or connected and waiting for the subscribe ack. */
  | { state: 'connecting' }
  /** Subscribed: quotes are flowing. */
  | { state: 'live' }
  /** Lost the connection; socket.io is retrying. `attempt` counts from 1 (0: not yet retried). */
  | { state: 'reconnecting'; attempt: number }
  /** Not connected and not retrying on its own; `reason` is safe to show. */
  | { state: 'offline'; reason: string };

/** Which way the last price moved with the latest update. */
export type Tick = 'up' | 'down' | 'flat';

/** Socket.IO transport carrying the connection. */
export type Transport = 'websocket' | 'polling';

/** Sparkline: one point per this many ms of feed time (the newest price within it). */
export const SPARK_BUCKET_MS = 500;
/** Sparkline length in points: 30 s at {@link SPARK_BUCKET_MS}. */
export const SPARK_POINTS = 60;

/** One watchlist line: an instrument and its latest quote, if one has arrived. */
export interface MarketRow {
  spec: InstrumentSpec;
  quote: QuoteState | undefined;
  /** Move of the last price with the latest update ('flat' before the second one). */
  tick: Tick;
  /** Recent last prices, oldest first, one per {@link SPARK_BUCKET_MS}. */
  spark: readonly number[];
}

interface Held {
  quote: QuoteState;
  tick: Tick;
  spark: readonly number[];
  /** Feed time of the newest sparkline bucket. */
  sparkTs: number;
}

const NO_SPARK: readonly number[] = [];

/** Latest market state as the dashboard sees it. Fed by `lib/socket.ts`; read by components. */
export class MarketStore {
  /** Instruments in display order, as `GET /api/symbols` lists them. */
  instruments: readonly InstrumentSpec[] = $state.raw([]);
  connection: Connection = $state.raw({ state: 'connecting' });
  /** Feed state the gateway last reported this session; `undefined` until it reports one. */
  feed: FeedState | undefined = $state();
  /** Throttle tier quotes arrive at, in ms, once subscribed. */
  throttleMs: number | undefined = $state();
  /** The latest server notice (shutdown, slow consumer), cleared by the next successful subscribe. */
  notice: string | undefined = $state();
  /** Round trip of the latest `ping`, in ms; `undefined` until measured or while disconnected. */
  latencyMs: number | undefined = $state();
  /** Transport in use while connected. */
  transport: Transport | undefined = $state();
  /** Quotes applied per second, over the latest sampling interval. */
  updatesPerSec: number | undefined = $state();
  /** Throttle tiers the gateway offers, in ms (the protocol's defaults until it says). */
  tiers: readonly number[] = $state.raw(DEFAULT_THROTTLE_TIERS_MS);
  /** The gateway refused the handshake for want of a valid token (viewer auth is on). */
  authRequired = $state(false);

  #held = new SvelteMap<string, Held>();
  #epoch: string | undefined;
  /** Quotes applied per symbol since the page loaded, and in all since the last rate sample. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a counter for the test hook, not state
  #counts = new Map<string, number>();
  #sinceSample = 0;

  /** Every instrument with its latest quote, in display order. */
  readonly rows: MarketRow[] = $derived(
    this.instruments.map((spec) => {
      const held = this.#held.get(spec.symbol);
      return { spec, quote: held?.quote, tick: held?.tick ?? 'flat', spark: held?.spark ?? NO_SPARK };
    }),
  );

  /** Values on screen may be out of date: not subscribed, or the gateway's feed is not live. */
  readonly stale: boolean = $derived(this.connection.state !== 'live' || this.feed === 'stale');

  /** The epoch the held quotes' `seq` count in, from the latest ack; `undefined` before the first. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** The latest quote of `symbol`, if any. */
  quote(symbol: string): QuoteState | undefined {
    return this.#held.get(symbol)?.quote;
  }

  setInstruments(instruments: readonly InstrumentSpec[]): void {
    this.instruments = instruments;
  }

  /** Quotes applied for `symbol` since the page loaded (snapshots included). */
  quoteCount(symbol: string): number {
    return this.#counts.get(symbol) ?? 0;
  }

  /**
   * Applies quotes in order, skipping any whose `seq` is not newer than the one held for its
   * symbol (quotes count in the epoch of the latest ack). Returns the ones applied, in order.
   */
  applyQuotes<Q extends QuoteState>(quotes: readonly Q[]): Q[] {
    const applied: Q[] = [];
    for (const quote of quotes) if (this.#apply(quote)) applied.push(quote);
    this.#sinceSample += applied.length;
    return applied;
  }

  /**
   * Snapshots obey the same `seq` rule as quotes (a quote that overtook its snapshot wins), within
   * an epoch: a snapshot of another epoch starts over from it.
   */
  applySnapshots(snapshots: readonly Snapshot[]): Snapshot[] {
    for (const s of snapshots) this.#enter(s.epoch);
    return this.applyQuotes(snapshots);
  }

  /** Publishes the update rate over the `elapsedMs` since the previous sample. */
  sampleRate(elapsedMs: number): void {
    this.updatesPerSec = elapsedMs > 0 ? (this.#sinceSample * 1000) / elapsedMs : undefined;
    this.#sinceSample = 0;
  }

  /** A `ping` came back after `ms`. */
  measuredLatency(ms: number): void {
    this.latencyMs = Math.round(ms);
  }

  setTransport(transport: Transport | undefined): void {
    this.transport = transport;
  }

  applyStatus(status: Status): void {
    if (status.feed) this.feed = status.feed;
    if (status.server === 'shutdown') this.notice = 'The gateway is shutting down.';
    if (status.notice) this.notice = status.notice.message;
  }

  /** The socket is opening (first time, or on request after going offline). */
  connecting(): void {
    this.connection = { state: 'connecting' };
  }

  /** The socket connected: a new session begins (its ack says whether the epoch still holds). */
  sessionStarted(): void {
    this.authRequired = false;
    this.feed = undefined;
    this.connection = { state: 'connecting' };
  }

  /**
   * The subscribe ack arrived: apply its snapshots and go live. Returns the snapshots applied.
   * An ack of another epoch than the one held (the gateway restarted) drops every held quote and
   * sparkline: their seqs and prices belong to another run.
   */
  subscribed(ack: { throttleMs?: number; epoch?: string; snapshots: readonly Snapshot[] }): Snapshot[] {
    if (ack.epoch !== undefined) this.#enter(ack.epoch);
    const applied = this.applySnapshots(ack.snapshots);
    this.throttleMs = ack.throttleMs;
    this.notice = undefined;
    this.connection = { state: 'live' };
    return applied;
  }

  reconnecting(attempt: number): void {
    this.#lost();
    this.connection = { state: 'reconnecting', attempt };
  }

  offline(reason: string): void {
    this.#lost();
    this.connection = { state: 'offline', reason };
  }

  /** The handshake was refused as UNAUTHORIZED: offline until the user gives a token. */
  unauthorized(reason: string): void {
    this.offline(reason);
    this.authRequired = true;
  }

  #lost(): void {
    this.latencyMs = undefined;
    this.transport = undefined;
    this.updatesPerSec = undefined;
  }

  /** From now on seqs count in `epoch`; what is held of another one is dropped. */
  #enter(epoch: string): void {
    if (epoch === this.#epoch) return;
    if (this.#epoch !== undefined) this.#held.clear();
    this.#epoch = epoch;
  }

  #apply(quote: QuoteState): boolean {
    const held = this.#held.get(quote.symbol);
    if (held && quote.seq <= held.quote.seq) return false;
    // A stored quote is the latest state only: drop `conflated`, `tradeSeq` and `epoch` riders.
    const state: QuoteState = {
      symbol: quote.symbol,
      seq: quote.seq,
      ts: quote.ts,
      last: quote.last,
      bid: quote.bid,
      ask: quote.ask,
      open: quote.open,
      high: quote.high,
      low: quote.low,
      volume: quote.volume,
      change: quote.change,
      changePct: quote.changePct,
    };
    const previous = held?.quote.last;
    const tick: Tick =
      previous === undefined || previous === quote.last ? 'flat' : quote.last > previous ? 'up' : 'down';
    let spark = held?.spark ?? NO_SPARK;
    let sparkTs = held?.sparkTs ?? 0;
    if (spark.length > 0 && quote.ts >= sparkTs && quote.ts - sparkTs < SPARK_BUCKET_MS) {
      spark = [...spark.slice(0, -1), quote.last];
    } else if (quote.ts > sparkTs || spark.length === 0) {
      spark = [...spark.slice(spark.length >= SPARK_POINTS ? 1 : 0), quote.last];
      sparkTs = quote.ts;
    }
    this.#held.set(quote.symbol, { quote: state, tick, spark, sparkTs });
    this.#counts.set(quote.symbol, (this.#counts.get(quote.symbol) ?? 0) + 1);
    return true;
  }
}

/** The dashboard's one market store. */
export const market = new MarketStore();
