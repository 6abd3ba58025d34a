import { DEFAULT_INSTRUMENTS, type Quote, type Snapshot, type Status, type TradeBatch } from '@tickdeck/protocol';

/** Decimals of each default instrument's tick size (0.01 -> 2): its prices print with exactly these. */
const DECIMALS = new Map(DEFAULT_INSTRUMENTS.map((i) => [i.symbol, decimalsOf(i.tickSize)]));

function decimalsOf(step: number): number {
  for (let d = 0; d < 12; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9) return d;
  }
  return 12;
}

/** Shortest form up to 8 decimals: 0.1 + 0.2 prints as 0.3, 100 as 100. */
function plain(n: number): string {
  return String(Number(n.toFixed(8)));
}

/** A price of `symbol`: with its tick size's decimals when it is a default instrument (189.20), plain otherwise. */
export function formatPrice(symbol: string, price: number): string {
  const decimals = DECIMALS.get(symbol);
  return decimals === undefined ? plain(price) : price.toFixed(decimals);
}

function book(symbol: string, q: { last: number; bid: number; ask: number; seq: number }): string {
  return `${formatPrice(symbol, q.last)} bid ${formatPrice(symbol, q.bid)} ask ${formatPrice(symbol, q.ask)} seq ${q.seq}`;
}

/** `AAPL 189.23 bid 189.22 ask 189.24 seq 1234 (x3)`; the `(xN)` only when the quote stands for more than one tick. */
export function formatQuote(q: Quote): string {
  return `${q.symbol} ${book(q.symbol, q)}${q.conflated > 1 ? ` (x${q.conflated})` : ''}`;
}

/** `AAPL snapshot 189.23 bid 189.22 ask 189.24 seq 1234 trade #56`, or that the symbol has no tick yet. */
export function formatSnapshot(s: Snapshot): string {
  if (s.seq === 0) return `${s.symbol} snapshot: no tick yet`;
  return `${s.symbol} snapshot ${book(s.symbol, s)}${s.tradeSeq > 0 ? ` trade #${s.tradeSeq}` : ''}`;
}

/** A gap warning first when the batch has one, then `AAPL trade buy 100 @ 189.23 #57` per trade, in order. */
export function formatTrades(batch: TradeBatch): string[] {
  const lines = batch.gap
    ? [
        `warning: ${batch.symbol} trades were lost${batch.trades[0] ? ` before #${batch.trades[0].seq}` : ''} (they came faster than the gateway keeps them)`,
      ]
    : [];
  for (const t of batch.trades) {
    lines.push(`${batch.symbol} trade ${t.side} ${plain(t.size)} @ ${formatPrice(batch.symbol, t.price)} #${t.seq}`);
  }
  return lines;
}

/** What the missed-trade recovery of a resubscribe could not bring back. */
export function formatGap(symbol: string): string {
  return `warning: ${symbol} trades missed while disconnected are no longer held; the tape has a gap`;
}

/** `status: feed stale, notice TOKEN_EXPIRED (the token expired)`: every field the status carries. */
export function formatStatus(status: Status): string {
  const parts: string[] = [];
  if (status.feed) parts.push(`feed ${status.feed}`);
  if (status.server) parts.push(`server ${status.server}`);
  if (status.cluster) parts.push(`cluster ${status.cluster}`);
  if (status.notice) parts.push(`notice ${status.notice.code} (${status.notice.message})`);
  return `status: ${parts.length > 0 ? parts.join(', ') : 'nothing new'}`;
}
