import type { Quote, TradeBatch, ViewerFrame } from '@tickdeck/protocol';
import type { MarketClient } from './gateway.js';

/** What to do with the parts of each `frame` a viewer receives; a part a frame lacks is not called. */
export interface FrameHandlers {
  /** The frame's quotes (never empty), with when the frame was read (epoch ms). */
  quotes?: (quotes: Quote[], at: number) => void;
  /** Each of the frame's trade batches (one per symbol), in frame order. */
  trades?: (batch: TradeBatch, at: number) => void;
}

/**
 * Listens for `frame` on a `/market` socket and hands its quotes and trade batches to `handlers`,
 * as the `quotes` and `trades` events of old did. Returns the function that stops listening.
 */
export function onFrame(socket: MarketClient, handlers: FrameHandlers): () => void {
  const listener = (frame: ViewerFrame) => {
    const at = Date.now();
    if (frame.quotes) handlers.quotes?.(frame.quotes, at);
    if (handlers.trades) for (const batch of frame.trades ?? []) handlers.trades(batch, at);
  };
  socket.on('frame', listener);
  return () => socket.off('frame', listener);
}

/**
 * What is wrong with a frame as the protocol defines it, or undefined: `v` 1 first, then
 * `quotes`, `trades` and `candles`, each present only when non-empty, at most one quote and one batch
 * per symbol, and every symbol one of `symbols`. Key order matters to clients that stream-parse
 * the wire text, so it is checked on the parsed object (JSON.parse keeps it).
 */
export function frameProblem(frame: ViewerFrame, symbols: ReadonlySet<string>): string | undefined {
  const keys = Object.keys(frame);
  const order = ['v', 'quotes', 'trades', 'candles', 'alerts'];
  if (keys[0] !== 'v' || keys.some((k, n) => n > 0 && order.indexOf(k) <= order.indexOf(keys[n - 1]!))) {
    return `keys ${keys.join(',')}`;
  }
  if (frame.v !== 1) return `v ${String(frame.v)}`;
  if (!frame.quotes && !frame.trades && !frame.candles && !frame.alerts) return 'an empty frame';
  if (frame.alerts?.length === 0) return 'an empty alerts list';
  if (frame.candles?.length === 0) return 'an empty candles list';
  if (frame.candles?.some((b) => b.bars.length === 0)) return 'an empty candle batch';
  if (frame.quotes?.length === 0) return 'an empty quotes list';
  if (frame.trades?.length === 0) return 'an empty trades list';
  if (frame.trades?.some((b) => b.trades.length === 0)) return 'an empty trade batch';
  const quoted = (frame.quotes ?? []).map((q) => q.symbol);
  const traded = (frame.trades ?? []).map((b) => b.symbol);
  if (new Set(quoted).size !== quoted.length) return `two quotes of one symbol: ${quoted.join(',')}`;
  if (new Set(traded).size !== traded.length) return `two batches of one symbol: ${traded.join(',')}`;
  const charted = (frame.candles ?? []).map((b) => b.symbol);
  const pairs = (frame.candles ?? []).map((b) => `${b.symbol}/${b.interval}`);
  if (new Set(pairs).size !== pairs.length) return `two batches of one candle pair: ${pairs.join(',')}`;
  const foreign = [...quoted, ...traded, ...charted].filter((s) => !symbols.has(s));
  if (foreign.length > 0) return `symbols not subscribed: ${foreign.join(',')}`;
  return undefined;
}
