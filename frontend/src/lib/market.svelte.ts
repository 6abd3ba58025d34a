import { SvelteMap } from 'svelte/reactivity';
import type { FeedState, InstrumentSpec, QuoteState, Snapshot, Status } from '@tickdeck/protocol';

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

/** One watchlist line: an instrument and its latest quote, if one has arrived. */
export interface MarketRow {
  spec: InstrumentSpec;
  quote: QuoteState | undefined;
}

interface Held {
  quote: QuoteState;
  /** Connection session the quote arrived in; `seq` is only comparable within one gateway run. */
  session: number;
}

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

  #held = new SvelteMap<string, Held>();
  #session = 0;

  /** Every instrument with its latest quote, in display order. */
  readonly rows: MarketRow[] = $derived(
    this.instruments.map((spec) => ({ spec, quote: this.#held.get(spec.symbol)?.quote })),
  );

  /** Values on screen may be out of date: not subscribed, or the gateway's feed is not live. */
  readonly stale: boolean = $derived(this.connection.state !== 'live' || this.feed === 'stale' || this.feed === 'down');

  /** The latest quote of `symbol`, if any. */
  quote(symbol: string): QuoteState | undefined {
    return this.#held.get(symbol)?.quote;
  }

  setInstruments(instruments: readonly InstrumentSpec[]): void {
    this.instruments = instruments;
  }

  /**
   * Applies quotes in order, skipping any whose `seq` is not newer than the one held for its
   * symbol in this session. Returns how many were applied.
   */
  applyQuotes(quotes: readonly QuoteState[]): number {
    let applied = 0;
    for (const quote of quotes) if (this.#apply(quote)) applied++;
    return applied;
  }

  /** Snapshots obey the same `seq` rule as quotes: a quote that overtook its snapshot wins. */
  applySnapshots(snapshots: readonly Snapshot[]): number {
    return this.applyQuotes(snapshots);
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

  /**
   * The socket connected: a new session begins. The gateway may have restarted, and its `seq`
   * with it, so the first quote or snapshot of each symbol in this session replaces what is held.
   */
  sessionStarted(): void {
    this.#session++;
    this.feed = undefined;
    this.connection = { state: 'connecting' };
  }

  /** The subscribe ack arrived: apply its snapshots and go live. */
  subscribed(ack: { throttleMs?: number; snapshots: readonly Snapshot[] }): void {
    this.applySnapshots(ack.snapshots);
    this.throttleMs = ack.throttleMs;
    this.notice = undefined;
    this.connection = { state: 'live' };
  }

  reconnecting(attempt: number): void {
    this.connection = { state: 'reconnecting', attempt };
  }

  offline(reason: string): void {
    this.connection = { state: 'offline', reason };
  }

  #apply(quote: QuoteState): boolean {
    const held = this.#held.get(quote.symbol);
    if (held && held.session === this.#session && quote.seq <= held.quote.seq) return false;
    this.#held.set(quote.symbol, { quote, session: this.#session });
    return true;
  }
}

/** The dashboard's one market store. */
export const market = new MarketStore();
