import { LIMITS, type CandleInterval } from '@tickdeck/protocol';

/** What the page shows, so what it subscribes to: nothing more. */
export interface Wanted {
  /** Symbols on screen (the watchlist), in order. */
  symbols: readonly string[];
  /** Per symbol, the candle intervals its charts stream (none when absent). */
  candles: Readonly<Record<string, readonly CandleInterval[]>>;
}

/** One `subscribe`: its symbols all stream the same candle intervals (`[]`: none). */
export interface SubscribeGroup {
  symbols: string[];
  candles: CandleInterval[];
}

/** How a symbol is held: its candle intervals, as one string (`''`: quotes and trades only). */
export function holdKey(candles: readonly CandleInterval[] | undefined): string {
  return [...new Set(candles ?? [])].join(',');
}

/**
 * The requests that take the gateway from what a socket holds (`held`: symbol -> {@link holdKey})
 * to what the page wants: one `unsubscribe` for the symbols no longer shown, and one `subscribe`
 * per set of candle intervals for the symbols that are new or whose intervals changed (a
 * `subscribe` replaces a symbol's intervals, and names one set for all its symbols).
 */
export function planSubscriptions(
  held: ReadonlyMap<string, string>,
  wanted: Wanted,
): { unsubscribe: string[]; subscribe: SubscribeGroup[] } {
  const shown = new Set(wanted.symbols);
  const unsubscribe = [...held.keys()].filter((s) => !shown.has(s));
  const groups = new Map<string, SubscribeGroup>();
  const subscribe: SubscribeGroup[] = [];
  for (const symbol of shown) {
    const intervals = [...new Set(wanted.candles[symbol] ?? [])].slice(0, LIMITS.maxCandleIntervals);
    const key = holdKey(intervals);
    if (held.get(symbol) === key) continue;
    let group = groups.get(key);
    if (!group || group.symbols.length >= LIMITS.maxSymbolsPerRequest) {
      group = { symbols: [], candles: intervals };
      groups.set(key, group);
      subscribe.push(group);
    }
    group.symbols.push(symbol);
  }
  return { unsubscribe, subscribe };
}
