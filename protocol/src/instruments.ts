import { z } from 'zod';

/** Static description of one tradable instrument (`GET /api/symbols`). */
export const InstrumentSpecSchema = z.object({
  /** Ticker, upper case, unique, e.g. `AAPL` or `BTC-USD`. */
  symbol: z.string(),
  /** Human-readable name, e.g. `Apple Inc.`. */
  name: z.string(),
  /** Asset class. */
  kind: z.enum(['equity', 'crypto']),
  /** Quote currency of every price of this instrument (ISO 4217), e.g. `USD`. */
  currency: z.string(),
  /** Price the simulator starts from, in `currency`. */
  startPrice: z.number().positive(),
  /** Minimum price increment, in `currency`; every simulated price is a multiple of it. */
  tickSize: z.number().positive(),
  /**
   * Volatility as the standard deviation of the log return over one hour (0.01 = 1 %/h).
   * Deliberately livelier than real markets so a dashboard visibly moves within a minute.
   */
  volatility: z.number().nonnegative(),
  /** Typical spread between bid and ask, as a fraction of price (0.0005 = 5 bp). */
  spread: z.number().nonnegative(),
  /** Median trade size in units (shares, coins). */
  typicalSize: z.number().positive(),
  /** Relative activity: the share of the feed's ticks and trades this instrument gets. */
  activity: z.number().positive(),
});
export type InstrumentSpec = z.infer<typeof InstrumentSpecSchema>;
export type InstrumentKind = InstrumentSpec['kind'];

/** The default universe: 20 instruments, 14 US equities and 6 crypto pairs, all quoted in USD. */
export const DEFAULT_INSTRUMENTS: readonly InstrumentSpec[] = [
  eq('AAPL', 'Apple Inc.', 228.5, 0.006, 120, 1.4),
  eq('MSFT', 'Microsoft Corp.', 417.2, 0.005, 80, 1.3),
  eq('NVDA', 'NVIDIA Corp.', 131.4, 0.011, 300, 1.8),
  eq('AMZN', 'Amazon.com Inc.', 186.9, 0.007, 150, 1.2),
  eq('GOOGL', 'Alphabet Inc. Class A', 165.3, 0.006, 150, 1.1),
  eq('META', 'Meta Platforms Inc.', 567.8, 0.008, 60, 1.1),
  eq('TSLA', 'Tesla Inc.', 251.2, 0.014, 200, 1.6),
  eq('JPM', 'JPMorgan Chase & Co.', 211.6, 0.005, 90, 0.8),
  eq('V', 'Visa Inc.', 279.4, 0.004, 70, 0.6),
  eq('XOM', 'Exxon Mobil Corp.', 118.7, 0.005, 110, 0.7),
  eq('KO', 'Coca-Cola Co.', 70.15, 0.003, 200, 0.5),
  eq('NFLX', 'Netflix Inc.', 702.3, 0.009, 40, 0.7),
  eq('AMD', 'Advanced Micro Devices Inc.', 163.8, 0.012, 220, 1.2),
  eq('INTC', 'Intel Corp.', 22.41, 0.01, 600, 0.9),
  cx('BTC-USD', 'Bitcoin', 67250, 0.01, 0.012, 0.08, 1.7),
  cx('ETH-USD', 'Ether', 2634.5, 0.01, 0.014, 1.2, 1.4),
  cx('SOL-USD', 'Solana', 152.37, 0.01, 0.02, 25, 1.1),
  cx('XRP-USD', 'XRP', 0.5821, 0.0001, 0.018, 4000, 0.8),
  cx('DOGE-USD', 'Dogecoin', 0.10932, 0.00001, 0.024, 20000, 0.7),
  cx('ADA-USD', 'Cardano', 0.3547, 0.0001, 0.02, 6000, 0.6),
];

function eq(
  symbol: string,
  name: string,
  startPrice: number,
  volatility: number,
  typicalSize: number,
  activity: number,
): InstrumentSpec {
  return {
    symbol,
    name,
    kind: 'equity',
    currency: 'USD',
    startPrice,
    tickSize: 0.01,
    volatility,
    spread: 0.0004,
    typicalSize,
    activity,
  };
}

function cx(
  symbol: string,
  name: string,
  startPrice: number,
  tickSize: number,
  volatility: number,
  typicalSize: number,
  activity: number,
): InstrumentSpec {
  return {
    symbol,
    name,
    kind: 'crypto',
    currency: 'USD',
    startPrice,
    tickSize,
    volatility,
    spread: 0.0008,
    typicalSize,
    activity,
  };
}
