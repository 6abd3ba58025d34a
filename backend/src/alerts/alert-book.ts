/**
 * Price alerts evaluated on every tick the market applies. Per symbol, two queues ordered by
 * price: `up` (acts when the last price rises to a threshold) and `down` (acts when it falls to
 * one), each kept sorted with its next threshold at the array's end, so a tick that moves nothing
 * costs two comparisons, and one that crosses costs O(alerts acted on). Setting an alert is a
 * binary search and a splice.
 *
 * An entry either fires its alert or re-arms it; every alert has a generation, and an entry of
 * an older generation is stale (its alert fired through the other queue, re-armed, or was
 * cleared) and skipped when it comes up. Stale entries are compacted away when they are the
 * majority.
 *
 * Conditions:
 * - `above L`: fires on the first tick at or above L after one below it (set while the price is
 *   at or above L, it waits for it to go below first). Re-arming alerts re-arm when the price is
 *   back below `L - hysteresis`.
 * - `below L`: the mirror image.
 * - `move P`: fires when the last price is P % or more away from the day's open, either way, after
 *   being within; re-arms when it is back within `P - hysteresis` %. The levels follow the day's
 *   open (a new day re-bases them).
 */

/** What an alert watches. */
export type AlertCondition =
  { kind: 'above'; level: number } | { kind: 'below'; level: number } | { kind: 'move'; pct: number };

export interface AlertSpec {
  /** Unique per owner. */
  id: string;
  condition: AlertCondition;
  /** False: one-shot, gone once fired. True: re-arms after the price went back past the hysteresis. */
  rearm: boolean;
  /** In price units for above/below, in percentage points for move; 0 or more. */
  hysteresis: number;
}

/** The tick that made an alert fire. */
export interface AlertTick {
  price: number;
  ts: number;
  seq: number;
}

export interface HeldAlert<O> {
  readonly owner: O;
  readonly symbol: number;
  readonly spec: AlertSpec;
  /** `armed`: the next crossing fires it; `waiting`: it must go back past its level first. */
  state: 'armed' | 'waiting';
  /** Times it fired. */
  fired: number;
  /** Bumped whenever its queue entries change; entries of older generations are stale. */
  gen: number;
  cleared: boolean;
}

interface Entry<O> {
  threshold: number;
  /** Acts only when the price is strictly past the threshold (else at it, too). */
  strict: boolean;
  action: 'fire' | 'arm';
  alert: HeldAlert<O>;
  gen: number;
}

/** One symbol's queues. `up` is sorted descending (lowest threshold last), `down` ascending. */
class SymbolQueues<O> {
  readonly up: Entry<O>[] = [];
  readonly down: Entry<O>[] = [];
  /** The day's open the move alerts' levels were computed from. */
  open = Number.NaN;
  /** Alerts held on this symbol: each has at most two live entries, so more than that are stale. */
  alerts = 0;
}

/** Does `e` act at `price` in the `up` queue (price risen to the threshold)? */
const upActs = (e: Entry<unknown>, price: number) => (e.strict ? price > e.threshold : price >= e.threshold);
const downActs = (e: Entry<unknown>, price: number) => (e.strict ? price < e.threshold : price <= e.threshold);

export class AlertBook<O> {
  private readonly queues: SymbolQueues<O>[];
  private readonly byOwner = new Map<O, Map<string, HeldAlert<O>>>();
  private count = 0;

  /**
   * @param symbols number of symbols (market indices)
   * @param fire called for each alert that fires, in order, during {@link onTick}
   */
  constructor(
    symbols: number,
    private readonly fire: (alert: HeldAlert<O>, tick: AlertTick) => void,
  ) {
    this.queues = Array.from({ length: symbols }, () => new SymbolQueues<O>());
  }

  /** Alerts held, all owners. */
  get size(): number {
    return this.count;
  }

  /** Alerts held by `owner`. */
  ownedBy(owner: O): HeldAlert<O>[] {
    return [...(this.byOwner.get(owner)?.values() ?? [])];
  }

  get(owner: O, id: string): HeldAlert<O> | undefined {
    return this.byOwner.get(owner)?.get(id);
  }

  /**
   * Sets (or replaces, same id) an alert of `owner` on symbol `i`, given its current last price
   * and day open: armed when the price is on the near side of its level, else waiting.
   */
  set(owner: O, i: number, spec: AlertSpec, last: number, open: number): HeldAlert<O> {
    const previous = this.get(owner, spec.id);
    if (previous) this.clear(owner, spec.id);
    const alert: HeldAlert<O> = { owner, symbol: i, spec, state: 'armed', fired: 0, gen: 0, cleared: false };
    let mine = this.byOwner.get(owner);
    if (!mine) this.byOwner.set(owner, (mine = new Map()));
    mine.set(spec.id, alert);
    this.count++;
    const q = this.queues[i]!;
    q.alerts++;
    if (Number.isNaN(q.open)) q.open = open;
    const c = spec.condition;
    const h = spec.hysteresis;
    if (c.kind === 'above') {
      if (last < c.level) this.arm(q, alert);
      else this.wait(q, alert, 'down', c.level, true);
    } else if (c.kind === 'below') {
      if (last > c.level) this.arm(q, alert);
      else this.wait(q, alert, 'up', c.level, true);
    } else {
      const [lo, hi] = moveBand(q.open, c.pct);
      if (last > lo && last < hi) this.arm(q, alert);
      else if (last >= hi) this.wait(q, alert, 'down', moveBand(q.open, Math.max(0, c.pct - h))[1], false);
      else this.wait(q, alert, 'up', moveBand(q.open, Math.max(0, c.pct - h))[0], false);
    }
    return alert;
  }

  /** Removes one alert; false when `owner` holds none with that id. */
  clear(owner: O, id: string): boolean {
    const mine = this.byOwner.get(owner);
    const alert = mine?.get(id);
    if (!mine || !alert) return false;
    mine.delete(id);
    if (mine.size === 0) this.byOwner.delete(owner);
    this.drop(alert);
    return true;
  }

  /** Removes every alert of `owner` (its connection went away). */
  clearOwner(owner: O): number {
    const mine = this.byOwner.get(owner);
    if (!mine) return 0;
    this.byOwner.delete(owner);
    for (const alert of mine.values()) this.drop(alert);
    return mine.size;
  }

  /**
   * One applied tick of symbol `i` (its last price, feed time, seq and the day's open): fires (through the callback) and re-arms what the new last
   * price reached, lowest threshold first on the way up, highest first on the way down.
   */
  onTick(i: number, price: number, ts: number, seq: number, open: number): void {
    const q = this.queues[i]!;
    if (q.up.length === 0 && q.down.length === 0) return;
    if (open !== q.open) this.rebase(q, open);
    const up = q.up;
    const down = q.down;
    // Nothing to do is the common case: two comparisons, no allocation.
    const upNext = up.length > 0 && upActs(up[up.length - 1]!, price);
    if (!upNext && !(down.length > 0 && downActs(down[down.length - 1]!, price))) return;
    const tick: AlertTick = { price, ts, seq };
    while (up.length > 0 && upActs(up[up.length - 1]!, price)) this.act(q, up.pop()!, tick);
    while (down.length > 0 && downActs(down[down.length - 1]!, price)) this.act(q, down.pop()!, tick);
  }

  private act(q: SymbolQueues<O>, e: Entry<O>, tick: AlertTick): void {
    const alert = e.alert;
    if (e.gen !== alert.gen) return;
    if (e.action === 'arm') {
      this.bump(q, alert);
      this.arm(q, alert);
      return;
    }
    alert.fired++;
    this.bump(q, alert);
    const { spec } = alert;
    if (!spec.rearm) {
      // One-shot: gone before the owner hears of it, so a handler may set it again.
      this.byOwner.get(alert.owner)?.delete(spec.id);
      if (this.byOwner.get(alert.owner)?.size === 0) this.byOwner.delete(alert.owner);
      alert.cleared = true;
      this.count--;
      q.alerts--;
    } else {
      const c = spec.condition;
      const h = spec.hysteresis;
      if (c.kind === 'above') this.wait(q, alert, 'down', c.level - h, true);
      else if (c.kind === 'below') this.wait(q, alert, 'up', c.level + h, true);
      else {
        const [lo, hi] = moveBand(q.open, Math.max(0, c.pct - h));
        if (tick.price >= q.open) this.wait(q, alert, 'down', hi, false);
        else this.wait(q, alert, 'up', lo, false);
      }
    }
    this.fire(alert, tick);
  }

  /** Queues the entries that fire `alert` at its next crossing. */
  private arm(q: SymbolQueues<O>, alert: HeldAlert<O>): void {
    alert.state = 'armed';
    const c = alert.spec.condition;
    if (c.kind === 'above') insert(q.up, entry(c.level, false, 'fire', alert), true);
    else if (c.kind === 'below') insert(q.down, entry(c.level, false, 'fire', alert), false);
    else {
      const [lo, hi] = moveBand(q.open, c.pct);
      insert(q.up, entry(hi, false, 'fire', alert), true);
      insert(q.down, entry(lo, false, 'fire', alert), false);
    }
  }

  /** Queues the entry that re-arms `alert` once the price is back past `threshold`. */
  private wait(q: SymbolQueues<O>, alert: HeldAlert<O>, side: 'up' | 'down', threshold: number, strict: boolean): void {
    alert.state = 'waiting';
    const e = entry(threshold, strict, 'arm', alert);
    if (side === 'up') insert(q.up, e, true);
    else insert(q.down, e, false);
  }

  private drop(alert: HeldAlert<O>): void {
    alert.cleared = true;
    this.count--;
    const q = this.queues[alert.symbol]!;
    q.alerts--;
    this.bump(q, alert);
  }

  /** Makes the alert's queued entries stale; compacts the symbol's queues when mostly stale. */
  private bump(q: SymbolQueues<O>, alert: HeldAlert<O>): void {
    alert.gen++;
    if (q.up.length + q.down.length > 4 * q.alerts + 64) compact(q);
  }

  /** A new day's open: the move alerts' levels move with it; their state is kept. */
  private rebase(q: SymbolQueues<O>, open: number): void {
    q.open = open;
    const moves = new Set<HeldAlert<O>>();
    for (const e of [...q.up, ...q.down]) {
      if (e.gen === e.alert.gen && e.alert.spec.condition.kind === 'move') moves.add(e.alert);
    }
    for (const alert of moves) {
      const waiting = alert.state === 'waiting';
      this.bump(q, alert);
      if (!waiting) this.arm(q, alert);
      else {
        // Waiting to come back within the narrower band of the new open: from whichever side it is.
        const c = alert.spec.condition as { kind: 'move'; pct: number };
        const [lo, hi] = moveBand(open, Math.max(0, c.pct - alert.spec.hysteresis));
        this.wait(q, alert, 'down', hi, false);
        this.wait(q, alert, 'up', lo, false);
      }
    }
  }
}

function entry<O>(threshold: number, strict: boolean, action: Entry<O>['action'], alert: HeldAlert<O>): Entry<O> {
  return { threshold, strict, action, alert, gen: alert.gen };
}

/** [open - pct %, open + pct %]. */
function moveBand(open: number, pct: number): [number, number] {
  return [open * (1 - pct / 100), open * (1 + pct / 100)];
}

/**
 * Inserts keeping `queue` sorted so its next entry to act is last: descending thresholds for
 * `up` (non-strict after strict at a tie: it acts first), ascending for `down`.
 */
function insert<O>(queue: Entry<O>[], e: Entry<O>, descending: boolean): void {
  // Sort key: the price at which the entry acts first; at a tie, non-strict acts first.
  const before = (a: Entry<O>, b: Entry<O>): boolean => {
    // True when `a` belongs before `b` in the array (acts later).
    if (a.threshold !== b.threshold) return descending ? a.threshold > b.threshold : a.threshold < b.threshold;
    return a.strict && !b.strict;
  };
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(queue[mid]!, e)) lo = mid + 1;
    else hi = mid;
  }
  queue.splice(lo, 0, e);
}

function compact<O>(q: SymbolQueues<O>): void {
  const live = (e: Entry<O>) => e.gen === e.alert.gen;
  const up = q.up.filter(live);
  const down = q.down.filter(live);
  q.up.length = 0;
  q.up.push(...up);
  q.down.length = 0;
  q.down.push(...down);
}
