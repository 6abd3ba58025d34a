import type { Snapshot, Trade, TradeBatch } from '@tickdeck/protocol';

/** One line of the trade tape: a trade, or a mark where trades were lost. */
export type TapeEntry =
  | { kind: 'trade'; key: string; symbol: string; trade: Trade; notional: number; large: boolean }
  | { kind: 'gap'; key: string; symbol: string; ts: number };

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
 * of the last trade applied, so that a resubscribe asks for exactly what it missed (`since`)
 * and nothing is shown twice.
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

  /** The `since` of a resubscribe: every symbol whose trades we have followed. */
  since(): Record<string, number> {
    return Object.fromEntries(this.#lastSeq);
  }

  /** Applies a live batch; trades at or below the last seq held are repeats and skipped. */
  applyBatch(batch: TradeBatch): Trade[] {
    const accepted: Trade[] = [];
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
   * `tradeSeq` is where live trades continue. A snapshot behind what we hold means the gateway
   * restarted and counts from 1 again: its trades are new, and what we missed is a gap.
   */
  applyAck(ack: { snapshots: readonly Snapshot[]; trades: readonly TradeBatch[]; gaps: readonly string[] }): void {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const restarted = new Set<string>();
    for (const s of ack.snapshots) {
      const held = this.#lastSeq.get(s.symbol);
      if (held !== undefined && s.tradeSeq < held) {
        restarted.add(s.symbol);
        this.#lastSeq.set(s.symbol, s.tradeSeq);
      }
    }
    for (const batch of ack.trades) if (!restarted.has(batch.symbol)) this.applyBatch(batch);
    const gapped = [...ack.gaps, ...[...restarted].filter((s) => !ack.gaps.includes(s))];
    for (const symbol of gapped) {
      this.#pending.push({ kind: 'gap', key: `gap:${++this.#gapCount}`, symbol, ts: this.#now() });
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
