import { parseEventId } from './event-id.js';

/** Query parameters `GET /api/stream` reads; any other is BAD_REQUEST. */
const PARAMS = new Set(['symbols', 'throttleMs', 'candles']);
const MS = /^\d{1,7}$/;

/** What an SSE request asks for, as the `subscribe` payload SubscriptionService validates. */
export interface StreamRequest {
  /** `{symbols, throttleMs?, candles?, epoch?, since?}`: `since` from `Last-Event-ID` in the same epoch. */
  readonly subscribe: {
    symbols: string[];
    throttleMs?: number;
    candles?: string[];
    epoch?: string;
    since?: Record<string, number>;
  };
  /** The epoch of a `Last-Event-ID` from another epoch (the stream says so, then starts afresh). */
  readonly previousEpoch?: string;
}

export type StreamRequestResult = { ok: true; request: StreamRequest } | { ok: false; message: string };

/** A comma-separated list, blanks dropped (`AAPL,,MSFT` = `AAPL,MSFT`). */
const items = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Reads `?symbols=A,B&throttleMs=250&candles=1m,5s` and the `Last-Event-ID` header into the
 * `subscribe` a socket would send. Shape only (each parameter at most once, known names, ms as
 * digits, a well-formed id): symbols, tiers and intervals are checked by the subscribe itself, so
 * the stream refuses exactly what a socket's ack refuses. An id of `epoch` asks for the trades
 * after its seqs (`since`) of the symbols both name; of another epoch, for a fresh start.
 */
export function readStreamRequest(
  query: URLSearchParams,
  lastEventId: string | undefined,
  epoch: string,
): StreamRequestResult {
  for (const key of new Set(query.keys())) {
    if (!PARAMS.has(key)) {
      return {
        ok: false,
        message: `unknown parameter ${JSON.stringify(key.slice(0, 32))} (expected symbols, throttleMs, candles)`,
      };
    }
    if (query.getAll(key).length > 1) return { ok: false, message: `${key}: give it once (a comma-separated list)` };
  }
  const symbols = items(query.get('symbols') ?? '');
  if (symbols.length === 0)
    return { ok: false, message: 'symbols: a comma-separated list of symbols, e.g. ?symbols=AAPL,MSFT' };
  const subscribe: StreamRequest['subscribe'] = { symbols };
  const ms = query.get('throttleMs');
  if (ms !== null) {
    if (!MS.test(ms)) return { ok: false, message: 'throttleMs: a whole number of milliseconds, one of the tiers' };
    subscribe.throttleMs = Number(ms);
  }
  const candles = query.get('candles');
  if (candles !== null) subscribe.candles = items(candles);
  if (lastEventId === undefined || lastEventId === '') return { ok: true, request: { subscribe } };

  const id = parseEventId(lastEventId);
  if (id === null) {
    return { ok: false, message: 'Last-Event-ID: not an id of this gateway (<epoch>:<SYMBOL>=<tradeSeq>,...)' };
  }
  if (id.epoch !== epoch) return { ok: true, request: { subscribe, previousEpoch: id.epoch } };
  const since: Record<string, number> = {};
  for (const symbol of symbols) {
    const seq = id.trades.get(symbol.toUpperCase());
    if (seq !== undefined) since[symbol.toUpperCase()] = seq;
  }
  return { ok: true, request: { subscribe: { ...subscribe, epoch, since } } };
}
