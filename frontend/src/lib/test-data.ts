import { DEFAULT_INSTRUMENTS, type InstrumentSpec, type Quote, type Snapshot } from '@tickdeck/protocol';

/** An instrument of the default universe, by symbol. */
export function spec(symbol: string): InstrumentSpec {
  const found = DEFAULT_INSTRUMENTS.find((s) => s.symbol === symbol);
  if (!found) throw new Error(`no instrument ${symbol}`);
  return found;
}

/** A quote with plausible defaults; `change`/`changePct` follow from `last` and `open`. */
export function quote(symbol: string, seq: number, fields: Partial<Quote> = {}): Quote {
  const last = fields.last ?? 100;
  const open = fields.open ?? 100;
  return {
    symbol,
    seq,
    ts: 1_700_000_000_000 + seq,
    last,
    bid: last - 0.01,
    ask: last + 0.01,
    open,
    high: Math.max(open, last),
    low: Math.min(open, last),
    volume: 1000,
    change: last - open,
    changePct: ((last - open) / open) * 100,
    conflated: 1,
    ...fields,
  };
}

/** The epoch {@link snapshot} stamps unless told otherwise. */
export const EPOCH = 'e1';

export function snapshot(symbol: string, seq: number, fields: Partial<Snapshot> = {}): Snapshot {
  const { conflated: _conflated, ...state } = quote(symbol, seq, fields);
  return { ...state, tradeSeq: 0, epoch: EPOCH, ...fields };
}
