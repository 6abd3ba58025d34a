import { DEFAULT_INSTRUMENTS, type FeedTick, type FeedTrade, type InstrumentSpec } from '@tickdeck/protocol';
import { Random } from './random.js';

const MS_PER_HOUR = 3_600_000;
const BURST_MIN_MS = 3_000;
const BURST_MAX_MS = 10_000;
const BURST_MIN_FACTOR = 3;
const BURST_MAX_FACTOR = 6;
/** Sigma of log(trade size): a trade of 5x the median size comes about once in 20 trades. */
const SIZE_SIGMA = 1;
/** Absorbs float noise (0.3 / 0.1 = 2.9999999999999996) when flooring or ceiling to the tick grid. */
const GRID_EPSILON = 1e-9;

/** Tuning of a {@link MarketSimulator}; every field is optional. */
export interface SimulatorOptions {
  /** Seed of the pseudo-random source, a safe integer; the same seed and options give the same feed. Default 1. */
  seed?: number;
  /** Universe to simulate. Default {@link DEFAULT_INSTRUMENTS}. */
  instruments?: readonly InstrumentSpec[];
  /** Subset of `instruments` by symbol (case-insensitive); an unknown symbol throws. Default: all. */
  symbols?: readonly string[];
  /** Ticks per second of model time, in total across instruments; > 0. Default 300. */
  rate?: number;
  /** Multiplier on every instrument's volatility; >= 0. Default 1. */
  volatility?: number;
  /** Epoch ms that model time 0 maps to; emitted `ts` values are `floor(startTime + model time)`. Default 0. */
  startTime?: number;
  /** Volatility bursts per hour per instrument (each lasts 3-10 s at 3-6x volatility); >= 0. Default 12. */
  burstsPerHour?: number;
  /** Share of ticks that are trades, in [0, 1]. Default 0.3. */
  tradeProbability?: number;
}

/** Receives a simulator's output; a trade is always delivered just before the tick it produced. */
export interface SimSink {
  tick(tick: FeedTick): void;
  trade(trade: FeedTrade): void;
}

/** Mutable state of one simulated instrument. */
class Lane {
  readonly symbol: string;
  readonly tickSize: number;
  /** Prices are `units * gridStep / gridScale`: integer arithmetic then one correctly rounded division. */
  private readonly gridStep: number;
  private readonly gridScale: number;
  private readonly halfSpread: number;
  /** Variance of the log price per ms outside bursts. */
  private readonly variancePerMs: number;
  private readonly sizeMu: number;
  private readonly wholeUnits: boolean;
  private readonly meanBurstGapMs: number;
  price: number;
  /** Model time of the last price step, ms. */
  private lastTime = 0;
  private burstStart = Number.POSITIVE_INFINITY;
  private burstEnd = Number.POSITIVE_INFINITY;
  private burstVarianceFactor = 1;

  constructor(spec: InstrumentSpec, volatility: number, burstsPerHour: number, rng: Random) {
    this.symbol = spec.symbol;
    this.tickSize = spec.tickSize;
    const decimals = decimalPlaces(spec.tickSize, spec.symbol);
    this.gridScale = Number(`1e${decimals}`);
    this.gridStep = Math.round(spec.tickSize * this.gridScale);
    this.halfSpread = spec.spread / 2;
    this.variancePerMs = (spec.volatility * volatility) ** 2 / MS_PER_HOUR;
    this.sizeMu = Math.log(spec.typicalSize);
    this.wholeUnits = spec.kind === 'equity';
    this.meanBurstGapMs = burstsPerHour > 0 ? MS_PER_HOUR / burstsPerHour : Number.POSITIVE_INFINITY;
    this.price = spec.startPrice;
    if (burstsPerHour > 0) this.scheduleBurst(0, rng);
  }

  /** One GBM step from the previous step to `time`, integrating the burst schedule over the gap. */
  step(time: number, rng: Random): void {
    let cursor = this.lastTime;
    let exposure = 0;
    while (cursor < time) {
      if (cursor < this.burstStart) {
        const end = Math.min(time, this.burstStart);
        exposure += end - cursor;
        cursor = end;
      } else if (cursor < this.burstEnd) {
        const end = Math.min(time, this.burstEnd);
        exposure += (end - cursor) * this.burstVarianceFactor;
        cursor = end;
      } else {
        this.scheduleBurst(this.burstEnd, rng);
      }
    }
    this.lastTime = time;
    // Drawn even at zero variance so the rest of the stream does not depend on the volatility setting.
    const z = rng.normal();
    const next = this.price * Math.exp(Math.sqrt(exposure * this.variancePerMs) * z);
    this.price = next > this.tickSize ? next : this.tickSize;
  }

  /** A burst starts after an exponential wait from the end of the previous one. */
  private scheduleBurst(from: number, rng: Random): void {
    this.burstStart = from + rng.exponential(this.meanBurstGapMs);
    this.burstEnd = this.burstStart + rng.between(BURST_MIN_MS, BURST_MAX_MS);
    this.burstVarianceFactor = rng.between(BURST_MIN_FACTOR, BURST_MAX_FACTOR) ** 2;
  }

  bid(): number {
    const units = Math.floor((this.price * (1 - this.halfSpread)) / this.tickSize + GRID_EPSILON);
    return this.fromUnits(units > 1 ? units : 1);
  }

  ask(bid: number): number {
    const units = Math.ceil((this.price * (1 + this.halfSpread)) / this.tickSize - GRID_EPSILON);
    const floor = Math.round(bid / this.tickSize) + 1;
    return this.fromUnits(units > floor ? units : floor);
  }

  /** The model price on the tick grid, kept inside the quote. */
  last(bid: number, ask: number): number {
    const last = this.fromUnits(Math.round(this.price / this.tickSize));
    return last < bid ? bid : last > ask ? ask : last;
  }

  size(z: number): number {
    const raw = Math.exp(this.sizeMu + SIZE_SIGMA * z);
    if (this.wholeUnits) return raw < 1.5 ? 1 : Math.round(raw);
    return fourSignificantDigits(raw);
  }

  private fromUnits(units: number): number {
    return (units * this.gridStep) / this.gridScale;
  }
}

/**
 * Seeded, deterministic market model: Poisson tick arrivals spread over the instruments by
 * `activity`, a geometric Brownian motion per instrument with occasional volatility bursts, and
 * trades that lift the ask or hit the bid. Output depends only on the options and on the model
 * times asked for, never on the wall clock or on how the caller slices time.
 *
 * @example
 * const sim = new MarketSimulator({ seed: 7, symbols: ['AAPL', 'BTC-USD'], startTime: Date.now() });
 * sim.advanceTo(1_000, { tick: (t) => ticks.push(t), trade: (t) => trades.push(t) });
 */
export class MarketSimulator {
  /** The instruments being simulated, in universe order. */
  readonly instruments: readonly InstrumentSpec[];
  private readonly lanes: Lane[];
  private readonly bySymbol = new Map<string, Lane>();
  /** Running sum of `activity`, one entry per lane, for the weighted pick. */
  private readonly cumulativeActivity: Float64Array;
  private readonly rng: Random;
  private readonly meanGapMs: number;
  private readonly startTime: number;
  private readonly tradeProbability: number;
  private now = 0;
  private nextArrival: number;

  constructor(options: SimulatorOptions = {}) {
    const seed = options.seed ?? 1;
    const rate = options.rate ?? 300;
    const volatility = options.volatility ?? 1;
    const startTime = options.startTime ?? 0;
    const burstsPerHour = options.burstsPerHour ?? 12;
    const tradeProbability = options.tradeProbability ?? 0.3;
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
    if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`rate must be a finite number > 0, got ${rate}`);
    if (!(volatility >= 0) || !Number.isFinite(volatility)) {
      throw new Error(`volatility must be a finite number >= 0, got ${volatility}`);
    }
    if (!Number.isFinite(startTime)) throw new Error(`startTime must be a finite epoch ms, got ${startTime}`);
    if (!(burstsPerHour >= 0) || !Number.isFinite(burstsPerHour)) {
      throw new Error(`burstsPerHour must be a finite number >= 0, got ${burstsPerHour}`);
    }
    if (!(tradeProbability >= 0 && tradeProbability <= 1)) {
      throw new Error(`tradeProbability must be between 0 and 1, got ${tradeProbability}`);
    }

    this.instruments = Object.freeze(selectInstruments(options.instruments ?? DEFAULT_INSTRUMENTS, options.symbols));
    this.rng = new Random(seed);
    this.meanGapMs = 1000 / rate;
    this.startTime = startTime;
    this.tradeProbability = tradeProbability;
    this.lanes = this.instruments.map((spec) => new Lane(spec, volatility, burstsPerHour, this.rng));
    this.cumulativeActivity = new Float64Array(this.lanes.length);
    let total = 0;
    this.instruments.forEach((spec, i) => {
      total += spec.activity;
      this.cumulativeActivity[i] = total;
    });
    if (!(total > 0)) throw new Error('at least one instrument needs an activity > 0');
    for (const lane of this.lanes) this.bySymbol.set(lane.symbol, lane);
    this.nextArrival = this.rng.exponential(this.meanGapMs);
  }

  /** Model time in ms since start. */
  get time(): number {
    return this.now;
  }

  /**
   * Emit, in order, every event with model time <= `timeMs` into `sink`; returns the number of
   * ticks emitted. A `timeMs` behind the current model time emits nothing.
   */
  advanceTo(timeMs: number, sink: SimSink): number {
    assertTime(timeMs);
    let count = 0;
    while (this.nextArrival <= timeMs) {
      this.arrive(sink);
      count++;
    }
    if (timeMs > this.now) this.now = timeMs;
    return count;
  }

  /** Emit exactly the next `n` ticks (and the trades among them) regardless of time; returns the model time reached. */
  emit(n: number, sink: SimSink): number {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`tick count must be an integer >= 0, got ${n}`);
    for (let i = 0; i < n; i++) this.arrive(sink);
    return this.now;
  }

  /**
   * Move model time to `timeMs` without emitting, as if the feed had been paused: the arrival
   * schedule resumes from `timeMs`, and each instrument's next tick moves its price over the whole
   * gap. A `timeMs` behind the current model time does nothing.
   */
  skipTo(timeMs: number): void {
    assertTime(timeMs);
    if (timeMs <= this.now) return;
    // Poisson arrivals are memoryless: the wait still due is as good as a fresh draw.
    this.nextArrival = timeMs + (this.nextArrival - this.now);
    this.now = timeMs;
  }

  /**
   * Current model price of `symbol` (the mid the quotes are built around, not rounded to the tick
   * size), or undefined when the symbol is not simulated.
   */
  price(symbol: string): number | undefined {
    return this.bySymbol.get(symbol)?.price;
  }

  private arrive(sink: SimSink): void {
    const rng = this.rng;
    const time = this.nextArrival;
    const lane = this.pick(rng.next() * this.cumulativeActivity[this.cumulativeActivity.length - 1]!);
    lane.step(time, rng);
    const ts = Math.floor(this.startTime + time);
    const bid = lane.bid();
    const ask = lane.ask(bid);
    let trade: FeedTrade | undefined;
    let tick: FeedTick;
    if (rng.next() < this.tradeProbability) {
      const side = rng.next() < 0.5 ? 'buy' : 'sell';
      const price = side === 'buy' ? ask : bid;
      const size = lane.size(rng.normal());
      trade = { symbol: lane.symbol, ts, price, size, side };
      tick = { symbol: lane.symbol, ts, last: price, bid, ask, volume: size };
    } else {
      tick = { symbol: lane.symbol, ts, last: lane.last(bid, ask), bid, ask, volume: 0 };
    }
    // State is complete before the sink runs, so a sink that throws leaves the model consistent.
    this.now = time;
    this.nextArrival = time + rng.exponential(this.meanGapMs);
    if (trade) sink.trade(trade);
    sink.tick(tick);
  }

  /** First lane whose cumulative activity exceeds `u` (binary search). */
  private pick(u: number): Lane {
    const cumulative = this.cumulativeActivity;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return this.lanes[lo]!;
  }
}

function selectInstruments(universe: readonly InstrumentSpec[], symbols?: readonly string[]): InstrumentSpec[] {
  const seen = new Set<string>();
  for (const spec of universe) {
    validateSpec(spec);
    if (seen.has(spec.symbol)) throw new Error(`instrument ${spec.symbol} is listed twice`);
    seen.add(spec.symbol);
  }
  let selected = [...universe];
  if (symbols) {
    const wanted = new Set(symbols.map((s) => s.trim().toUpperCase()));
    const unknown = [...wanted].filter((s) => !seen.has(s));
    if (unknown.length > 0) {
      throw new Error(`unknown symbol${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
    }
    selected = selected.filter((spec) => wanted.has(spec.symbol));
  }
  if (selected.length === 0) throw new Error('no instruments to simulate');
  return selected;
}

function validateSpec(spec: InstrumentSpec): void {
  const bad = (field: string, rule: string): never => {
    throw new Error(`instrument ${spec.symbol}: ${field} must be ${rule}, got ${spec[field as keyof InstrumentSpec]}`);
  };
  const finite = (x: number): boolean => Number.isFinite(x);
  if (!(spec.startPrice > 0) || !finite(spec.startPrice)) bad('startPrice', 'a finite number > 0');
  if (!(spec.tickSize > 0) || !finite(spec.tickSize)) bad('tickSize', 'a finite number > 0');
  if (!(spec.volatility >= 0) || !finite(spec.volatility)) bad('volatility', 'a finite number >= 0');
  if (!(spec.spread >= 0) || !finite(spec.spread)) bad('spread', 'a finite number >= 0');
  if (!(spec.typicalSize > 0) || !finite(spec.typicalSize)) bad('typicalSize', 'a finite number > 0');
  if (!(spec.activity >= 0) || !finite(spec.activity)) bad('activity', 'a finite number >= 0');
}

const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** `Number(x.toPrecision(4))` for x > 0 without a string per call: one integer rounding, one exact scaling. */
function fourSignificantDigits(x: number): number {
  const exponent = Math.floor(Math.log10(x)) - 3;
  const scale = POW10[Math.abs(exponent)];
  if (scale === undefined) return Number(x.toPrecision(4));
  return exponent >= 0 ? Math.round(x / scale) * scale : Math.round(x * scale) / scale;
}

/** Decimal places of a tick size such as 0.01 or 0.00001 (at most 15). */
function decimalPlaces(tickSize: number, symbol: string): number {
  for (let d = 0; d <= 15; d++) {
    const scaled = tickSize * Number(`1e${d}`);
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * scaled) return d;
  }
  throw new Error(`instrument ${symbol}: tickSize must be a decimal with at most 15 places, got ${tickSize}`);
}

function assertTime(timeMs: number): void {
  if (!Number.isFinite(timeMs)) throw new Error(`model time must be a finite number of ms, got ${timeMs}`);
}
