import { describe, expect, it } from 'vitest';
import { AlertBook, type AlertCondition, type AlertSpec } from './alert-book.js';

const OPEN = 100;

function book() {
  const fired: { owner: string; id: string; price: number; seq: number }[] = [];
  const b = new AlertBook<string>(2, (alert, tick) =>
    fired.push({ owner: alert.owner, id: alert.spec.id, price: tick.price, seq: tick.seq }),
  );
  let seq = 0;
  /** Ticks symbol `i` through `prices`, in order. */
  const ticks = (prices: number[], i = 0, open = OPEN) => {
    for (const price of prices) b.onTick(i, price, 1000 + seq, ++seq, open);
  };
  return { b, fired, ticks };
}

const spec = (id: string, condition: AlertCondition, rearm = false, hysteresis = 0): AlertSpec => ({
  id,
  condition,
  rearm,
  hysteresis,
});

describe(AlertBook.name, () => {
  it('fires once on a spike that crosses and comes back between two quotes, with the crossing tick', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('a', { kind: 'above', level: 230 }), 228, OPEN);
    ticks([228.5, 229.9, 231.2, 229, 228]);
    expect(fired).toEqual([{ owner: 'v', id: 'a', price: 231.2, seq: 3 }]);
    ticks([231, 232, 229, 233]);
    expect(fired).toHaveLength(1); // one-shot: gone
    expect(b.size).toBe(0);
  });

  it('fires at the level exactly, not before; below mirrors above', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('up', { kind: 'above', level: 230 }), 228, OPEN);
    b.set('v', 0, spec('down', { kind: 'below', level: 220 }), 228, OPEN);
    ticks([229.99, 220.01, 230, 220]);
    expect(fired.map((f) => [f.id, f.price])).toEqual([
      ['up', 230],
      ['down', 220],
    ]);
  });

  it('set on the far side of its level, waits for the price to cross back before it can fire', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('a', { kind: 'above', level: 230 }), 231, OPEN);
    ticks([232, 230, 231]);
    expect(fired).toEqual([]);
    ticks([229.5, 230.5]);
    expect(fired.map((f) => f.price)).toEqual([230.5]);
  });

  it('re-arms only after the price went back past the hysteresis', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('a', { kind: 'above', level: 230 }, true, 1), 228, OPEN);
    ticks([230.5]); // fires
    ticks([229.5, 230.2, 229.1, 231]); // never below 229: not re-armed
    expect(fired.map((f) => f.price)).toEqual([230.5]);
    ticks([228.9, 230]); // below 229: re-armed, then fires again
    expect(fired.map((f) => f.price)).toEqual([230.5, 230]);
    expect(b.get('v', 'a')).toMatchObject({ fired: 2, state: 'waiting' });
  });

  it('moves ±N % from the day open, either way, and follows a new day open', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('m', { kind: 'move', pct: 2 }, true, 0.5), 100, OPEN);
    ticks([101, 101.99, 102]); // +2 %
    ticks([101.8, 102.5]); // not back within 1.5 % (101.5): still waiting
    expect(fired.map((f) => f.price)).toEqual([102]);
    ticks([98]); // a jump through the band to -2 %: it went back within, and out the other side
    expect(fired.map((f) => f.price)).toEqual([102, 98]);
    ticks([97.5, 101.4, 97.9]); // back within 1.5 % (above 98.5): re-armed; -2.1 % fires
    expect(fired.map((f) => f.price)).toEqual([102, 98, 97.9]);
    // A new day opens at 200: the band is now 196..204.
    ticks([199], 0, 200);
    ticks([203.9, 204.1], 0, 200);
    expect(fired.map((f) => f.price)).toEqual([102, 98, 97.9, 204.1]);
  });

  it('keeps owners and symbols apart, fires in price order, and clears', () => {
    const { b, fired, ticks } = book();
    for (const level of [105, 101, 103, 102, 104])
      b.set('x', 0, spec(`L${level}`, { kind: 'above', level }), 100, OPEN);
    b.set('y', 0, spec('L102', { kind: 'above', level: 102 }), 100, OPEN);
    b.set('y', 1, spec('other', { kind: 'above', level: 101 }), 100, OPEN);
    expect(b.clear('x', 'L104')).toBe(true);
    expect(b.clear('x', 'nope')).toBe(false);
    ticks([110]);
    expect(fired.map((f) => `${f.owner}:${f.id}`)).toEqual(['x:L101', 'x:L102', 'y:L102', 'x:L103', 'x:L105']);
    expect(b.ownedBy('y').map((a) => a.spec.id)).toEqual(['other']);
    expect(b.clearOwner('y')).toBe(1);
    ticks([110], 1);
    expect(fired).toHaveLength(5);
    expect(b.size).toBe(0);
  });

  it('replaces an alert set again with the same id', () => {
    const { b, fired, ticks } = book();
    b.set('v', 0, spec('a', { kind: 'above', level: 230 }), 228, OPEN);
    b.set('v', 0, spec('a', { kind: 'above', level: 240 }), 228, OPEN);
    ticks([235]);
    expect(fired).toEqual([]);
    ticks([240]);
    expect(fired.map((f) => f.price)).toEqual([240]);
    expect(b.size).toBe(0);
  });

  it('stays small under churn: cleared alerts do not pile up in the queues', () => {
    const { b, fired, ticks } = book();
    for (let k = 0; k < 10_000; k++) {
      b.set('v', 0, spec(`a${k}`, { kind: 'move', pct: 5 }), 100, OPEN);
      b.clear('v', `a${k}`);
    }
    b.set('v', 0, spec('last', { kind: 'above', level: 101 }), 100, OPEN);
    const queues = (b as unknown as { queues: { up: unknown[]; down: unknown[] }[] }).queues[0]!;
    expect(queues.up.length + queues.down.length).toBeLessThan(200);
    ticks([120, 80]);
    expect(fired.map((f) => f.id)).toEqual(['last']);
  });
});
