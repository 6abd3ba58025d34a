import { LIMITS } from '@tickdeck/protocol';

/**
 * Where an SSE stream stands, as its events' `id:` carries it: the epoch, and per symbol the
 * `seq` of the last trade the stream has sent (its snapshot's `tradeSeq` before any).
 *
 * Format: `<epoch>:<SYMBOL>=<tradeSeq>,<SYMBOL>=<tradeSeq>,...`, e.g. `3f9a0c1b2d4e:AAPL=41,MSFT=7`.
 * Symbols are letters, digits, `.` and `-`, so the last `:` ends the epoch whatever it holds.
 */
export interface EventId {
  readonly epoch: string;
  /** Per symbol (upper case), the last trade seq sent. */
  readonly trades: ReadonlyMap<string, number>;
}

/** Longest `Last-Event-ID` read: every symbol a request may name, with room to spare. */
export const MAX_EVENT_ID_LENGTH = 16_384;
const MAX_EPOCH_LENGTH = 64;
const SYMBOL = new RegExp(`^[A-Za-z0-9.-]{1,${LIMITS.maxSymbolLength}}$`);
const SEQ = /^(0|[1-9]\d{0,15})$/;

/** The `id:` of an event: the epoch, then `SYMBOL=tradeSeq` per symbol, in the order given. */
export function formatEventId(epoch: string, trades: Iterable<readonly [string, number]>): string {
  let body = '';
  for (const [symbol, seq] of trades) body += `${body === '' ? '' : ','}${symbol}=${seq}`;
  return `${epoch}:${body}`;
}

/**
 * Reads a `Last-Event-ID` this gateway (or another node of its cluster) wrote; null when it is
 * not one: too long, no epoch, a symbol or seq out of shape, a symbol twice, or more symbols than
 * a request may name.
 */
export function parseEventId(id: string): EventId | null {
  if (id.length > MAX_EVENT_ID_LENGTH) return null;
  const colon = id.lastIndexOf(':');
  if (colon < 1 || colon > MAX_EPOCH_LENGTH) return null;
  const epoch = id.slice(0, colon);
  const body = id.slice(colon + 1);
  const trades = new Map<string, number>();
  if (body === '') return null;
  const pairs = body.split(',');
  if (pairs.length > LIMITS.maxSymbolsPerRequest) return null;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) return null;
    const symbol = pair.slice(0, eq);
    const seq = pair.slice(eq + 1);
    if (!SYMBOL.test(symbol) || !SEQ.test(seq)) return null;
    const key = symbol.toUpperCase();
    if (trades.has(key)) return null;
    const n = Number(seq);
    if (!Number.isSafeInteger(n)) return null;
    trades.set(key, n);
  }
  return { epoch, trades };
}
