import {
  DEFAULT_INSTRUMENTS,
  FeedTickSchema,
  FeedTradeSchema,
  type FeedTick,
  type FeedTrade,
  type InstrumentSpec,
} from '@tickdeck/protocol';
import { describe, expect, it } from 'vitest';
import { MarketSimulator, type SimSink, type SimulatorOptions } from './market-simulator.js';

type SimEvent = FeedTick | FeedTrade;

function isTrade(e: SimEvent): e is FeedTrade {
  return 'side' in e;
}

function recorder(): { events: SimEvent[]; sink: SimSink } {
  const events: SimEvent[] = [];
  return { events, sink: { tick: (t) => events.push(t), trade: (t) => events.push(t) } };
}

function emitted(options: SimulatorOptions, n: number): SimEvent[] {
  const { events, sink } = recorder();
  new MarketSimulator(options).emit(n, sink);
  return events;
}

function ticksOf(events: readonly SimEvent[]): FeedTick[] {
  return events.filter((e): e is FeedTick => !isTrade(e));
}

const specs = new Map(DEFAULT_INSTRUMENTS.map((s) => [s.symbol, s]));

/** A low-priced instrument that sits a few ticks above zero, so the price floor is exercised. */
const PENNY: InstrumentSpec = {
  symbol: 'PENNY',
  name: 'Penny stock',
  kind: 'equity',
  currency: 'USD',
  startPrice: 0.0002,
  tickSize: 0.0001,
  volatility: 1,
  spread: 0.01,
  typicalSize: 5000,
  activity: 1,
};

/** Zero spread: only the one-tick minimum keeps ask above bid at the price floor. */
const FLAT: InstrumentSpec = { ...PENNY, symbol: 'FLAT', spread: 0 };

/** One instrument on a fine grid, so quote rounding does not blur measured volatility. */
const FINE: InstrumentSpec = {
  symbol: 'FINE',
  name: 'Fine grid',
  kind: 'crypto',
  currency: 'USD',
  startPrice: 100,
  tickSize: 0.0001,
  volatility: 0.01,
  spread: 0.0004,
  typicalSize: 1,
  activity: 1,
};

function decimalsOf(tickSize: number): number {
  const [, fraction = ''] = tickSize.toFixed(15).replace(/0+$/, '').split('.');
  return fraction.length;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Realised variance of the model log price per 1-second window of model time, FINE only. */
function realisedVariancePerSecond(options: SimulatorOptions, seconds: number): number[] {
  const sim = new MarketSimulator({ instruments: [FINE], rate: 1000, ...options });
  const windows: number[] = [];
  let prev = Math.log(FINE.startPrice);
  let acc = 0;
  const sink: SimSink = {
    tick: () => {
      const now = Math.log(sim.price(FINE.symbol)!);
      acc += (now - prev) ** 2;
      prev = now;
    },
    trade: () => {},
  };
  for (let s = 1; s <= seconds; s++) {
    sim.advanceTo(s * 1000, sink);
    windows.push(acc);
    acc = 0;
  }
  return windows;
}

describe(MarketSimulator.name, () => {
  it('repeats the same feed for the same seed and options, and a different one for another seed', () => {
    const a = emitted({ seed: 7 }, 50_000);
    expect(ticksOf(a)).toHaveLength(50_000);
    expect(emitted({ seed: 7 }, 50_000)).toEqual(a);
    const b = emitted({ seed: 8 }, 50_000);
    expect(b).not.toEqual(a);
    // Not just a shifted tail: the very first events differ.
    expect(b.slice(0, 20)).not.toEqual(a.slice(0, 20));
    expect(emitted({}, 1000)).toEqual(emitted({ seed: 1 }, 1000));
  });

  it('keeps every price positive and bid <= last <= ask, even at 20x volatility near the price floor', () => {
    const instruments = [...DEFAULT_INSTRUMENTS, PENNY, FLAT];
    const tickSizes = new Map(instruments.map((s) => [s.symbol, s.tickSize]));
    const sim = new MarketSimulator({ seed: 3, instruments, volatility: 20 });
    let ticks = 0;
    const atFloor = new Set<string>();
    const problems: string[] = [];
    sim.emit(200_000, {
      tick: (t) => {
        ticks++;
        const tickSize = tickSizes.get(t.symbol)!;
        if (!(t.bid >= tickSize && t.last >= tickSize && t.bid <= t.last && t.last <= t.ask && t.bid < t.ask)) {
          problems.push(JSON.stringify(t));
        }
        if (sim.price(t.symbol) === tickSize) atFloor.add(t.symbol);
      },
      trade: (t) => {
        if (!(t.price > 0 && t.size > 0)) problems.push(JSON.stringify(t));
      },
    });
    expect(problems.slice(0, 5)).toEqual([]);
    expect(ticks).toBe(200_000);
    expect([...atFloor].sort()).toEqual([FLAT.symbol, PENNY.symbol]);
    for (const spec of sim.instruments) expect(sim.price(spec.symbol)).toBeGreaterThan(0);
  });

  it('puts every price on its tick grid without float noise', () => {
    const sim = new MarketSimulator({ seed: 4, instruments: [...DEFAULT_INSTRUMENTS, PENNY], volatility: 5 });
    const offGrid: string[] = [];
    const check = (symbol: string, price: number): void => {
      const tickSize = symbol === PENNY.symbol ? PENNY.tickSize : specs.get(symbol)!.tickSize;
      const units = price / tickSize;
      if (Math.abs(units - Math.round(units)) > 1e-6 || Number(price.toFixed(decimalsOf(tickSize))) !== price) {
        offGrid.push(`${symbol} ${price}`);
      }
    };
    sim.emit(100_000, {
      tick: (t) => {
        check(t.symbol, t.last);
        check(t.symbol, t.bid);
        check(t.symbol, t.ask);
      },
      trade: (t) => check(t.symbol, t.price),
    });
    expect(offGrid.slice(0, 5)).toEqual([]);
  });

  it('emits schema-valid ticks and trades, each trade right before its tick, at the quote', () => {
    // The schema's ts starts at 2000-01-01 (MIN_FEED_TS); model time 0 alone would be 1970.
    const events = emitted({ seed: 5, startTime: Date.UTC(2026, 0, 5) }, 5_000);
    let trades = 0;
    events.forEach((e, i) => {
      if (isTrade(e)) {
        trades++;
        expect(FeedTradeSchema.parse(e)).toEqual(e);
        expect(e).not.toHaveProperty('id');
        const tick = events[i + 1];
        expect(tick && !isTrade(tick)).toBe(true);
        expect(tick).toMatchObject({ symbol: e.symbol, ts: e.ts, last: e.price, volume: e.size });
        expect(e.price).toBe(e.side === 'buy' ? (tick as FeedTick).ask : (tick as FeedTick).bid);
      } else {
        expect(FeedTickSchema.parse(e)).toEqual(e);
        const prev = events[i - 1];
        if (!prev || !isTrade(prev)) expect(e.volume).toBe(0);
      }
    });
    expect(trades).toBeGreaterThan(0);
  });

  it('stamps ts as floor(startTime + model time), never decreasing', () => {
    const startTime = 1_700_000_000_123.5;
    const sim = new MarketSimulator({ seed: 6, startTime });
    const { events, sink } = recorder();
    for (let i = 0; i < 2000; i++) {
      const time = sim.emit(1, sink);
      expect(events.at(-1)!.ts).toBe(Math.floor(startTime + time));
    }
    sim.advanceTo(30_000, sink);
    expect(sim.time).toBe(30_000);
    expect(events.length).toBeGreaterThan(8000);
    let prev = -Infinity;
    for (const e of events) {
      expect(e.ts).toBeGreaterThanOrEqual(prev);
      prev = e.ts;
    }
    expect(events[0]!.ts).toBeGreaterThanOrEqual(Math.floor(startTime));
    expect(prev).toBeLessThanOrEqual(Math.floor(startTime + 30_000));
    expect(prev).toBeGreaterThan(startTime + 29_000);
  });

  it('ticks at the configured rate, spread over instruments by activity, with the configured trade share', () => {
    const sim = new MarketSimulator({ seed: 9 });
    const perSymbol = new Map<string, number>();
    let trades = 0;
    let buys = 0;
    const ticks = sim.advanceTo(600_000, {
      tick: (t) => perSymbol.set(t.symbol, (perSymbol.get(t.symbol) ?? 0) + 1),
      trade: (t) => {
        trades++;
        if (t.side === 'buy') buys++;
      },
    });
    expect(Math.abs(ticks / 600 / 300 - 1)).toBeLessThan(0.03);
    const totalActivity = DEFAULT_INSTRUMENTS.reduce((a, s) => a + s.activity, 0);
    for (const spec of DEFAULT_INSTRUMENTS) {
      const share = (perSymbol.get(spec.symbol) ?? 0) / ticks;
      expect(Math.abs(share / (spec.activity / totalActivity) - 1), spec.symbol).toBeLessThan(0.1);
    }
    expect(Math.abs(trades / ticks - 0.3)).toBeLessThan(0.01);
    expect(Math.abs(buys / trades - 0.5)).toBeLessThan(0.02);

    const fast = new MarketSimulator({ seed: 9, rate: 5000, tradeProbability: 0.8 });
    const fastTicks = fast.advanceTo(20_000, { tick: () => {}, trade: () => trades++ });
    expect(Math.abs(fastTicks / 20 / 5000 - 1)).toBeLessThan(0.03);
  });

  it('never ticks an instrument without activity', () => {
    const idle: InstrumentSpec = { ...FINE, symbol: 'IDLE', activity: 0 };
    const instruments = [idle, FINE, { ...idle, symbol: 'IDLE2' }];
    const symbols = new Set(ticksOf(emitted({ instruments }, 5000)).map((t) => t.symbol));
    expect([...symbols]).toEqual([FINE.symbol]);
  });

  it('honours tradeProbability 0 and 1', () => {
    expect(emitted({ tradeProbability: 0 }, 2000).filter(isTrade)).toHaveLength(0);
    expect(emitted({ tradeProbability: 1 }, 2000).filter(isTrade)).toHaveLength(2000);
  });

  it('draws log-normal trade sizes around typicalSize: whole shares, 4 significant digits for crypto', () => {
    const sizes = new Map<string, number[]>();
    new MarketSimulator({ seed: 10, tradeProbability: 1 }).emit(200_000, {
      tick: () => {},
      trade: (t) => {
        let list = sizes.get(t.symbol);
        if (!list) sizes.set(t.symbol, (list = []));
        list.push(t.size);
      },
    });
    for (const spec of DEFAULT_INSTRUMENTS) {
      const list = sizes.get(spec.symbol)!;
      expect(Math.abs(median(list) / spec.typicalSize - 1), spec.symbol).toBeLessThan(0.1);
      expect(Math.max(...list), spec.symbol).toBeGreaterThan(10 * spec.typicalSize);
      const misfit = list.filter((size) =>
        spec.kind === 'equity'
          ? !(Number.isInteger(size) && size >= 1)
          : !(size > 0 && Number(size.toPrecision(4)) === size),
      );
      expect(misfit, spec.symbol).toEqual([]);
    }
  });

  it('yields the same events however the caller slices time, and emit(n) matches advanceTo', () => {
    const whole = recorder();
    const oneStep = new MarketSimulator({ seed: 11 });
    const count = oneStep.advanceTo(60_000, whole.sink);

    const sliced = recorder();
    const manySteps = new MarketSimulator({ seed: 11 });
    let t = 0;
    let slicedCount = 0;
    for (let i = 0; t < 60_000; i++) {
      t = Math.min(60_000, t + (i % 7) * 1.37);
      slicedCount += manySteps.advanceTo(t, sliced.sink);
      if (i % 11 === 0) slicedCount += manySteps.advanceTo(t - 5, sliced.sink);
    }
    expect(slicedCount).toBe(count);
    expect(sliced.events).toEqual(whole.events);
    expect(manySteps.time).toBe(oneStep.time);

    const byCount = recorder();
    const reached = new MarketSimulator({ seed: 11 }).emit(count, byCount.sink);
    expect(byCount.events).toEqual(whole.events);
    expect(reached).toBeLessThanOrEqual(60_000);
    expect(Math.floor(reached)).toBe(whole.events.at(-1)!.ts);

    // After either route the models agree on what comes next.
    const nextA = recorder();
    const nextB = recorder();
    oneStep.emit(100, nextA.sink);
    manySteps.emit(100, nextB.sink);
    expect(nextB.events).toEqual(nextA.events);
  });

  it('skipTo emits nothing and resumes at the normal rate after the gap', () => {
    const startTime = 1_700_000_000_000;
    const sim = new MarketSimulator({ seed: 12, startTime });
    const { events, sink } = recorder();
    sim.advanceTo(1_000, sink);
    const before = events.length;
    sim.skipTo(60_000);
    expect(sim.time).toBe(60_000);
    expect(sim.advanceTo(60_000, sink)).toBe(0);
    expect(events).toHaveLength(before);

    const resumed = sim.advanceTo(61_000, sink);
    // One second's worth, not the 59 s that were skipped.
    expect(resumed).toBeGreaterThan(200);
    expect(resumed).toBeLessThan(400);
    for (const e of events.slice(before)) expect(e.ts).toBeGreaterThanOrEqual(startTime + 60_000);

    sim.skipTo(10_000);
    expect(sim.time).toBe(61_000);
  });

  it('moves each price over a skipped gap when the instrument next ticks', () => {
    const sim = new MarketSimulator({ seed: 13, instruments: [FINE], burstsPerHour: 0 });
    sim.skipTo(3_600_000);
    expect(sim.price(FINE.symbol)).toBe(FINE.startPrice);
    sim.emit(1, { tick: () => {}, trade: () => {} });
    // One hour at 1 %/h: a move of a few basis points would mean the gap was ignored.
    const moves: number[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const s = new MarketSimulator({ seed, instruments: [FINE], burstsPerHour: 0 });
      s.skipTo(3_600_000);
      s.emit(1, { tick: () => {}, trade: () => {} });
      moves.push(Math.log(s.price(FINE.symbol)! / FINE.startPrice) ** 2);
    }
    const hourlyStdDev = Math.sqrt(moves.reduce((a, b) => a + b, 0) / moves.length);
    expect(hourlyStdDev).toBeGreaterThan(0.008);
    expect(hourlyStdDev).toBeLessThan(0.012);
  });

  it('scales volatility per hour of model time, times the volatility option', () => {
    const perSecond = FINE.volatility ** 2 / 3600;
    const calm = realisedVariancePerSecond({ seed: 14, burstsPerHour: 0 }, 300);
    expect(Math.abs(median(calm) / perSecond - 1)).toBeLessThan(0.1);
    expect(Math.max(...calm) / perSecond).toBeLessThan(1.5);
    const tripled = realisedVariancePerSecond({ seed: 14, burstsPerHour: 0, volatility: 3 }, 300);
    expect(Math.abs(median(tripled) / perSecond / 9 - 1)).toBeLessThan(0.1);
  });

  it('has volatility bursts: some seconds run at many times the usual variance', () => {
    const perSecond = FINE.volatility ** 2 / 3600;
    const windows = realisedVariancePerSecond({ seed: 15, burstsPerHour: 120 }, 600);
    // 120 bursts/h of 3-10 s cover about a fifth of the time, at 9-36x the variance.
    const hot = windows.filter((v) => v > 5 * perSecond).length / windows.length;
    expect(hot).toBeGreaterThan(0.08);
    expect(hot).toBeLessThan(0.35);
    expect(Math.max(...windows) / perSecond).toBeGreaterThan(8);
    expect(Math.max(...windows) / perSecond).toBeLessThan(50);
    expect(Math.abs(median(windows) / perSecond - 1)).toBeLessThan(0.2);
  });

  it('simulates a subset by symbol, case-insensitively, in universe order', () => {
    const sim = new MarketSimulator({ symbols: ['btc-usd', 'AAPL'] });
    expect(sim.instruments.map((s) => s.symbol)).toEqual(['AAPL', 'BTC-USD']);
    expect(sim.price('AAPL')).toBe(specs.get('AAPL')!.startPrice);
    expect(sim.price('MSFT')).toBeUndefined();
    const seen = new Set(ticksOf(emitted({ symbols: ['btc-usd', 'AAPL'] }, 1000)).map((t) => t.symbol));
    expect([...seen].sort()).toEqual(['AAPL', 'BTC-USD']);
  });

  it.each<[string, SimulatorOptions, RegExp]>([
    ['rate 0', { rate: 0 }, /rate/],
    ['negative rate', { rate: -5 }, /rate/],
    ['NaN rate', { rate: Number.NaN }, /rate/],
    ['infinite rate', { rate: Number.POSITIVE_INFINITY }, /rate/],
    ['negative volatility', { volatility: -1 }, /volatility/],
    ['NaN volatility', { volatility: Number.NaN }, /volatility/],
    ['fractional seed', { seed: 1.5 }, /seed/],
    ['NaN startTime', { startTime: Number.NaN }, /startTime/],
    ['negative burstsPerHour', { burstsPerHour: -1 }, /burstsPerHour/],
    ['tradeProbability above 1', { tradeProbability: 1.5 }, /tradeProbability/],
    ['unknown symbols', { symbols: ['AAPL', 'NOPE', 'ZZZ'] }, /NOPE, ZZZ/],
    ['no symbols', { symbols: [] }, /no instruments/],
    ['no instruments', { instruments: [] }, /no instruments/],
    ['duplicate instruments', { instruments: [FINE, FINE] }, /FINE is listed twice/],
    ['zero tick size', { instruments: [{ ...FINE, tickSize: 0 }] }, /FINE: tickSize/],
    ['negative start price', { instruments: [{ ...FINE, startPrice: -1 }] }, /FINE: startPrice/],
    ['no activity at all', { instruments: [{ ...FINE, activity: 0 }] }, /activity/],
  ])('refuses %s', (_, options, message) => {
    expect(() => new MarketSimulator(options)).toThrow(message);
  });

  it('refuses non-finite times and bad tick counts', () => {
    const sim = new MarketSimulator();
    const sink: SimSink = { tick: () => {}, trade: () => {} };
    expect(() => sim.advanceTo(Number.NaN, sink)).toThrow(/time/);
    expect(() => sim.skipTo(Number.POSITIVE_INFINITY)).toThrow(/time/);
    expect(() => sim.emit(-1, sink)).toThrow(/count/);
    expect(() => sim.emit(2.5, sink)).toThrow(/count/);
  });
});
