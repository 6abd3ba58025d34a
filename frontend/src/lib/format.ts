import type { InstrumentSpec, QuoteState } from '@tickdeck/protocol';
import type { Connection } from './market.svelte';

// One fixed locale: a dashboard's columns should not change shape with the viewer's settings.
const LOCALE = 'en-US';
const MINUS = '\u2212';
const PLACEHOLDER = '\u2014';

const fixed = new Map<number, Intl.NumberFormat>();
const signed = new Map<number, Intl.NumberFormat>();
const compact = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 2 });

function formatter(cache: Map<number, Intl.NumberFormat>, decimals: number, signDisplay: 'auto' | 'exceptZero') {
  let format = cache.get(decimals);
  if (!format) {
    format = new Intl.NumberFormat(LOCALE, {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
      signDisplay,
    });
    cache.set(decimals, format);
  }
  return format;
}

/** Decimal places a tick size needs: 0.01 -> 2, 0.00001 -> 5, 0.25 -> 2, 1 -> 0. */
export function decimalsOf(tickSize: number): number {
  for (let decimals = 0; decimals < 10; decimals++) {
    const scaled = tickSize * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return decimals;
  }
  return 10;
}

/** A price with exactly `decimals` places and thousands separators: `67,250.00`. */
export function formatPrice(value: number, decimals: number): string {
  return formatter(fixed, decimals, 'auto').format(value).replace('-', MINUS);
}

/** A difference with an explicit sign, and none when it rounds to zero: `+1.25`, `−0.03`, `0.00`. */
export function formatSigned(value: number, decimals: number): string {
  return formatter(signed, decimals, 'exceptZero').format(value).replace('-', MINUS);
}

/** Units traded, compact: `950`, `12.35K`, `1.2M`; fractional coins keep two places: `0.08`. */
export function formatVolume(value: number): string {
  return compact.format(value);
}

export type Direction = 'up' | 'down' | 'flat';

/** What one watchlist line shows, every value already formatted. */
export interface WatchlistLine {
  symbol: string;
  name: string;
  last: string;
  change: string;
  changePct: string;
  /** Sign of the change as displayed (a change that rounds to zero is flat). */
  direction: Direction;
  arrow: '\u25B2' | '\u25BC' | '';
  bid: string;
  ask: string;
  volume: string;
}

/** Formats one instrument's quote for the watchlist, prices to its tick size. */
export function watchlistLine(spec: InstrumentSpec, quote: QuoteState | undefined): WatchlistLine {
  const base = { symbol: spec.symbol, name: spec.name };
  if (!quote) {
    return {
      ...base,
      last: PLACEHOLDER,
      change: PLACEHOLDER,
      changePct: PLACEHOLDER,
      direction: 'flat',
      arrow: '',
      bid: PLACEHOLDER,
      ask: PLACEHOLDER,
      volume: PLACEHOLDER,
    };
  }
  const decimals = decimalsOf(spec.tickSize);
  const change = formatSigned(quote.change, decimals);
  const direction: Direction = change.startsWith('+') ? 'up' : change.startsWith(MINUS) ? 'down' : 'flat';
  return {
    ...base,
    last: formatPrice(quote.last, decimals),
    change,
    changePct: `${formatSigned(quote.changePct, 2)}%`,
    direction,
    arrow: direction === 'up' ? '\u25B2' : direction === 'down' ? '\u25BC' : '',
    bid: formatPrice(quote.bid, decimals),
    ask: formatPrice(quote.ask, decimals),
    volume: formatVolume(quote.volume),
  };
}

/** A short description of the connection for the header. */
export function connectionLabel(connection: Connection): string {
  switch (connection.state) {
    case 'connecting':
      return 'Connecting\u2026';
    case 'live':
      return 'Live';
    case 'reconnecting':
      return connection.attempt > 0 ? `Reconnecting (attempt ${connection.attempt})` : 'Reconnecting\u2026';
    case 'offline':
      return `Offline: ${connection.reason}`;
  }
}

const clock = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const clockShort = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit', hour12: false });

/** Local wall-clock time of an epoch-ms instant: `14:03:27`, or `14:03` without seconds. */
export function formatClock(ms: number, seconds = true): string {
  return (seconds ? clock : clockShort).format(ms);
}

const money = new Intl.NumberFormat(LOCALE, {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumFractionDigits: 2,
});

/** A notional amount, compact: `$1.25M`, `$980K`. */
export function formatNotional(value: number): string {
  return money.format(value);
}

const sizeFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 4 });

/** A trade size: whole shares with separators, coins up to 4 decimals: `1,200`, `0.0812`. */
export function formatSize(value: number): string {
  return sizeFormat.format(value);
}
