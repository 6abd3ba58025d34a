import type { Snapshot, Trade, TradeBatch } from '@tickdeck/protocol';

/**
 * One line of the trade tape: a trade, a mark where a symbol's trades were lost, or a mark where
 * the gateway started a new epoch (everything before it was cleared).
 */
export type TapeEntry =
  | { kind: 'trade'; key: string; symbol: string; trade: Trade; notional: number; large: boolean }
  | { kind: 'gap'; key: string; symbol: string; ts: number }
  | { kind: 'restart'; key: string; ts: number };

/** Default large-trade threshold, USD notional (price × size). */
export const DEFAULT_LARGE_TRADE = 500_000;

export interface TradeStoreOptions {
  /** Lines the tape keeps. */
  limit?: number;
  /** Runs `flush` soon (coalescing bursts into one render); the default waits 100 ms. */
  schedule?: (flush: () => void) => void;
  /** A trade at or above the threshold arrived. */
  onLarge?: (symbol: string, trade: Trade, notional: number) => void;
  /** Notional (USD) at or above which a trade counts as large; {@link DEFAULT_LARGE_TRADE} by default. */
  largeTrade?: () => number;
  /** Clock for gap marks, epoch ms. */
  now?: () => number;
}

/**
 * Trades as the dashboard sees them: the tape (newest first, bounded) and, per symbol, the seq
 * of the last trade applied, in the epoch of the latest ack, so that a resubscribe asks for
 * exactly what it missed (`{epoch, since}`) and nothing is shown twice.
 */
export class TradeStore {
  /** Newest first, at most `limit` lines. */
  tape: readonly TapeEntry[] = $state.raw([]);

  readonly limit: number;
  #schedule: (flush: () => void) => void;
  #onLarge: TradeStoreOptions['onLarge'];
  #largeTrade: () => number;
  #now: () => number;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping for `since`, never rendered
  #lastSeq = new Map<string, number>();
  #epoch: string | undefined;
  /** Accepted but not yet on the tape, oldest first. */
  #pending: TapeEntry[] = [];
  #scheduled = false;
  #gapCount = 0;

  constructor({ limit = 80, schedule, onLarge, largeTrade, now = Date.now }: TradeStoreOptions = {}) {
    this.limit = limit;
    this.#largeTrade = largeTrade ?? (() => DEFAULT_LARGE_TRADE);
    this.#schedule = schedule ?? ((flush) => setTimeout(flush, 100));
    this.#onLarge = onLarge;
    this.#now = now;
  }

  /** Seq of the last trade applied for `symbol`, if any. */
  lastSeq(symbol: string): number | undefined {
    return this.#lastSeq.get(symbol);
  }

  /** The epoch the held seqs count in, from the latest ack; `undefined` before the first. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** The `since` of a resubscribe (send it with {@link epoch}): every symbol whose trades we have followed. */
  since(): Record<string, number> {
    return Object.fromEntries(this.#lastSeq);
  }

  /**
   * Applies a live batch; trades at or below the last seq held are repeats and skipped. A batch
   * with `gap` (trades came faster than the gateway keeps them) is marked on the tape first.
   */
  applyBatch(batch: TradeBatch): Trade[] {
    const accepted: Trade[] = [];
    if (batch.gap) {
      this.#pending.push({ kind: 'gap', key: `gap:${++this.#gapCount}`, symbol: batch.symbol, ts: this.#now() });
      this.#soon();
    }
    let last = this.#lastSeq.get(batch.symbol);
    const threshold = this.#largeTrade();
    for (const trade of batch.trades) {
      if (last !== undefined && trade.seq <= last) continue;
      last = trade.seq;
      accepted.push(trade);
      const notional = trade.price * trade.size;
      const large = notional >= threshold;
      this.#pending.push({
        kind: 'trade',
        key: `${batch.symbol}:${trade.id}`,
        symbol: batch.symbol,
        trade,
        notional,
        large,
      });
      if (large) this.#onLarge?.(batch.symbol, trade, notional);
    }
    if (last !== undefined) this.#lastSeq.set(batch.symbol, last);
    if (accepted.length > 0) this.#soon();
    return accepted;
  }

  /**
   * A subscribe ack: its `trades` fill the gap since our `since` (applied once, like live ones),
   * `gaps` lists symbols whose missed trades are gone (marked on the tape), and each snapshot's
   * `tradeSeq` is where live trades continue. An ack of another epoch than the one held (the
   * gateway restarted) clears the tape and the seqs: the old run's trades do not continue into
   * the new one, whatever their seqs, and nothing of the two is shown side by side.
   */
  applyAck(ack: {
    epoch?: string;
    snapshots: readonly Snapshot[];
    trades: readonly TradeBatch[];
    gaps: readonly string[];
  }): void {
    const epoch = ack.epoch ?? ack.snapshots[0]?.epoch;
    const restarted = epoch !== undefined && this.#epoch !== undefined && epoch !== this.#epoch;
    if (epoch !== undefined) this.#epoch = epoch;
    if (restarted) {
      this.#lastSeq.clear();
      this.tape = [];
      this.#pending = [{ kind: 'restart', key: `restart:${++this.#gapCount}`, ts: this.#now() }];
    } else {
      for (const batch of ack.trades) this.applyBatch(batch);
      for (const symbol of ack.gaps) {
        this.#pending.push({ kind: 'gap', key: `gap:${++this.#gapCount}`, symbol, ts: this.#now() });
      }
    }
    for (const s of ack.snapshots) {
      this.#lastSeq.set(s.symbol, Math.max(this.#lastSeq.get(s.symbol) ?? 0, s.tradeSeq));
    }
    this.#soon();
  }

  /** Puts pending trades on the tape now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const fresh = this.#pending.slice(-this.limit).reverse();
    this.#pending = [];
    this.tape = [...fresh, ...this.tape].slice(0, this.limit);
  }

  #soon(): void {
    if (this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    this.#schedule(() => this.flush());
  }
}
