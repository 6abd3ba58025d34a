import {
  ErrorCode,
  LIMITS,
  type AlertClearAck,
  type AlertClearRequest,
  type AlertCondition,
  type AlertListAck,
  type AlertSetAck,
  type AlertSetRequest,
  type AlertSpec,
  type AlertState,
  type FiredAlert,
  type HeldAlertInfo,
} from '@tickdeck/protocol';
import type { PrefsStorage } from './prefs.svelte';

/**
 * Where an alert stands, as far as the page knows: `armed` / `waiting` as the gateway last said,
 * `pending` until the gateway has taken it (set while offline), `fired` once a one-shot fired (the
 * gateway no longer holds it; re-arm sets it again), `refused` when the gateway would not take it.
 */
export type AlertStatus = AlertState | 'pending' | 'fired' | 'refused';

/** The latest crossing of an alert, as the gateway reported it. */
export interface AlertFire {
  /** The crossing tick's price (while offline: the level, reached in the bar at `ts`). */
  price: number;
  /** Feed time, epoch ms (while offline: the 1-second bar's start). */
  ts: number;
  seq: number;
  /** Found in the bars after a reconnect: it crossed while the page was away. */
  offline: boolean;
}

/** One alert of the page, kept in `localStorage`. */
export interface PageAlert {
  spec: AlertSpec;
  status: AlertStatus;
  /** When it was set, epoch ms (the page's clock). */
  created: number;
  /** Its latest crossing. */
  fired?: AlertFire;
  /** Crossings reported so far. */
  count: number;
  /** Why the gateway refused it (`refused`). */
  error?: string;
}

/** What the alert form hands over: a spec without an id. */
export type NewAlert = Omit<AlertSpec, 'id' | 'rearm' | 'hysteresis'> & { rearm?: boolean; hysteresis?: number };

/** `alert:set` / `alert:clear` / `alert:list` over the current connection; each rejects when the socket goes. */
export interface AlertChannel {
  set(req: AlertSetRequest): Promise<AlertSetAck>;
  clear(req: AlertClearRequest): Promise<AlertClearAck>;
  list(): Promise<AlertListAck>;
}

export type AddResult = { ok: true; alert: PageAlert } | { ok: false; code: string; message: string };

export interface AlertStoreOptions {
  storage?: PrefsStorage;
  /** An alert crossed: once per crossing (a toast, a notification, a sound). */
  onFire?: (alert: PageAlert, fired: FiredAlert) => void;
  /** The page's clock, epoch ms. */
  now?: () => number;
  /** A fresh alert id (1 to 64 of `A-Z a-z 0-9 _ -`). */
  newId?: () => string;
  /** Least time between two saves of the last-seen time alone, in ms. */
  seenSaveMs?: number;
}

interface StoredAlerts {
  v: 1;
  alerts: PageAlert[];
  /** Feed time of the newest quote or alert the page saw, epoch ms: the next `since`. */
  seen?: number;
  sound: boolean;
}

const KEY = 'tickdeck.alerts.v1';
const STATUSES: readonly AlertStatus[] = ['armed', 'waiting', 'pending', 'fired', 'refused'];

/** What the gateway's refusal codes mean to someone setting alerts. */
export function refusalMessage(code: string, message: string): string {
  if (code === ErrorCode.TOO_MANY_ALERTS) return `Too many alerts: ${message}. Delete some first.`;
  if (code === ErrorCode.UNKNOWN_SYMBOL) return `The gateway does not carry this symbol (${message}).`;
  if (code === ErrorCode.RATE_LIMITED) return 'Too many requests: try again in a moment.';
  if (code === ErrorCode.BAD_REQUEST) return `The gateway refused the alert: ${message}`;
  return message;
}

function isCondition(c: unknown): c is AlertCondition {
  if (typeof c !== 'object' || c === null) return false;
  const { kind, level, pct } = c as Record<string, unknown>;
  if (kind === 'above' || kind === 'below') return typeof level === 'number' && level > 0 && level <= LIMITS.maxPrice;
  return kind === 'move' && typeof pct === 'number' && pct > 0 && pct <= 100;
}

function parseAlert(a: unknown): PageAlert | undefined {
  if (typeof a !== 'object' || a === null) return undefined;
  const { spec, status, created, fired, count, error } = a as Record<string, unknown>;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const s = spec as Record<string, unknown>;
  if (typeof s.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(s.id)) return undefined;
  if (typeof s.symbol !== 'string' || s.symbol === '' || !isCondition(s.condition)) return undefined;
  const out: PageAlert = {
    spec: {
      id: s.id,
      symbol: s.symbol,
      condition: s.condition,
      rearm: s.rearm === true,
      hysteresis: typeof s.hysteresis === 'number' && s.hysteresis >= 0 ? s.hysteresis : 0,
      ...(typeof s.note === 'string' && s.note !== '' ? { note: s.note.slice(0, 200) } : {}),
    },
    status: STATUSES.includes(status as AlertStatus) ? (status as AlertStatus) : 'pending',
    created: typeof created === 'number' ? created : 0,
    count: typeof count === 'number' && count >= 0 ? count : 0,
  };
  if (typeof error === 'string') out.error = error;
  const f = fired as Partial<AlertFire> | undefined;
  if (f && typeof f.price === 'number' && typeof f.ts === 'number') {
    out.fired = { price: f.price, ts: f.ts, seq: typeof f.seq === 'number' ? f.seq : 0, offline: f.offline === true };
  }
  return out;
}

/** Reads stored alerts, keeping the valid ones. */
export function parseStoredAlerts(raw: string | null): StoredAlerts {
  const out: StoredAlerts = { v: 1, alerts: [], sound: false };
  let data: unknown;
  try {
    data = raw === null ? null : JSON.parse(raw);
  } catch {
    return out;
  }
  if (typeof data !== 'object' || data === null) return out;
  const d = data as Record<string, unknown>;
  if (Array.isArray(d.alerts)) {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const ids = new Set<string>();
    for (const a of d.alerts as unknown[]) {
      const alert = parseAlert(a);
      if (!alert || ids.has(alert.spec.id)) continue;
      ids.add(alert.spec.id);
      out.alerts.push(alert);
    }
  }
  if (typeof d.seen === 'number' && Number.isFinite(d.seen) && d.seen > 0) out.seen = d.seen;
  out.sound = d.sound === true;
  return out;
}

/** `items` in requests of at most `LIMITS.maxAlertsPerRequest`. */
function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += LIMITS.maxAlertsPerRequest) {
    out.push(items.slice(i, i + LIMITS.maxAlertsPerRequest));
  }
  return out;
}

/**
 * The `alert:set` requests that register `alerts` again on a new connection: the ones the
 * gateway held before (armed or waiting) with `since` and their `states`, so the ack reports
 * what crossed while the page was away; then the ones it never took (set offline, refused), as
 * new, without `since`: they cannot have fired before they existed.
 */
export function reregistration(alerts: readonly PageAlert[], since: number | undefined): AlertSetRequest[] {
  const held = alerts.filter((a) => a.status === 'armed' || a.status === 'waiting');
  const fresh = alerts.filter((a) => a.status === 'pending' || a.status === 'refused');
  const out: AlertSetRequest[] = [];
  for (const part of chunks(held)) {
    const req: AlertSetRequest = { alerts: part.map((a) => a.spec) };
    if (since !== undefined) {
      req.since = Math.floor(since);
      req.states = Object.fromEntries(part.map((a) => [a.spec.id, a.status as AlertState]));
    }
    out.push(req);
  }
  for (const part of chunks(fresh)) out.push({ alerts: part.map((a) => a.spec) });
  return out;
}

let counter = 0;
function defaultId(): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `a${Date.now().toString(36)}${(counter++).toString(36)}${random}`;
}

/**
 * The page's price alerts: kept in `localStorage`, registered with the gateway on every
 * connection (with `since`, so a crossing while away is reported once), updated from the acks and
 * from the frames' fired alerts. The socket module hands it a channel on each connect.
 */
export class AlertStore {
  /** Oldest first. */
  alerts: readonly PageAlert[] = $state.raw([]);
  /** Beep when an alert fires. */
  sound = $state(false);
  /** The latest thing worth saying about the alerts (a refusal, a re-registration failing). */
  notice: string | undefined = $state();
  /** A channel to the gateway: connected. */
  online = $state(false);
  #channel: AlertChannel | undefined;
  #storage: PrefsStorage | undefined;
  #onFire: AlertStoreOptions['onFire'];
  #now: () => number;
  #newId: () => string;
  #seen: number | undefined;
  #seenSavedAt = -Infinity;
  #seenSaveMs: number;
  /** Re-registering: the market seen meanwhile is not yet covered by an ack, so `since` stays put. */
  #syncing = false;

  constructor(options: AlertStoreOptions = {}) {
    this.#storage = options.storage;
    this.#onFire = options.onFire;
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? defaultId;
    this.#seenSaveMs = options.seenSaveMs ?? 2000;
    let raw: string | null = null;
    try {
      raw = options.storage?.getItem(KEY) ?? null;
    } catch {
      // storage disabled: alerts live as long as the page
    }
    const data = parseStoredAlerts(raw);
    this.alerts = data.alerts;
    this.#seen = data.seen;
    this.sound = data.sound;
  }

  /** Feed time of the newest quote or alert seen, epoch ms: what `since` will say. */
  get seenTs(): number | undefined {
    return this.#seen;
  }

  get(id: string): PageAlert | undefined {
    return this.alerts.find((a) => a.spec.id === id);
  }

  /** Alerts of `symbol` the gateway holds or will (not the fired one-shots). */
  activeOf(symbol: string): PageAlert[] {
    return this.alerts.filter((a) => a.spec.symbol === symbol && a.status !== 'fired' && a.status !== 'refused');
  }

  /**
   * Sets a new alert: taken by the gateway at once when connected (a refusal leaves nothing
   * behind), or kept `pending` and registered on the next connection.
   */
  async add(input: NewAlert): Promise<AddResult> {
    const spec: AlertSpec = {
      id: this.#newId(),
      symbol: input.symbol,
      condition: input.condition,
      rearm: input.rearm ?? false,
      hysteresis: input.rearm ? (input.hysteresis ?? 0) : 0,
      ...(input.note ? { note: input.note } : {}),
    };
    const alert: PageAlert = { spec, status: 'pending', created: this.#now(), count: 0 };
    const channel = this.#channel;
    if (!channel) {
      this.#put(alert);
      return { ok: true, alert };
    }
    let ack: AlertSetAck;
    try {
      ack = await channel.set({ alerts: [spec] });
    } catch {
      // The connection went while asking: the next one registers it.
      this.#put(alert);
      return { ok: true, alert };
    }
    if (!ack.ok) {
      const message = refusalMessage(ack.error.code, ack.error.message);
      this.notice = message;
      return { ok: false, code: ack.error.code, message };
    }
    this.notice = undefined;
    this.#put(alert);
    this.#applyHeld(ack.alerts);
    return { ok: true, alert: this.get(spec.id) ?? alert };
  }

  /** Deletes an alert, here and at the gateway. */
  async remove(id: string): Promise<void> {
    const alert = this.get(id);
    if (!alert) return;
    this.alerts = this.alerts.filter((a) => a.spec.id !== id);
    this.#save();
    if (alert.status === 'fired' || alert.status === 'refused') return;
    // UNKNOWN_ALERT (it fired meanwhile, or the gateway never took it) leaves nothing to undo.
    await this.#channel?.clear({ ids: [id] }).catch(() => undefined);
  }

  /** Sets a fired (or refused) alert again, from the current price. */
  async rearm(id: string): Promise<AddResult> {
    const alert = this.get(id);
    if (!alert) return { ok: false, code: ErrorCode.UNKNOWN_ALERT, message: 'no such alert' };
    const channel = this.#channel;
    if (!channel) {
      this.#update(id, { status: 'pending' });
      return { ok: true, alert: this.get(id)! };
    }
    let ack: AlertSetAck;
    try {
      ack = await channel.set({ alerts: [alert.spec] });
    } catch {
      this.#update(id, { status: 'pending' });
      return { ok: true, alert: this.get(id)! };
    }
    if (!ack.ok) {
      const message = refusalMessage(ack.error.code, ack.error.message);
      this.notice = message;
      return { ok: false, code: ack.error.code, message };
    }
    this.notice = undefined;
    this.#update(id, { status: 'armed', error: undefined });
    this.#applyHeld(ack.alerts);
    return { ok: true, alert: this.get(id)! };
  }

  setSound(on: boolean): void {
    this.sound = on;
    this.#save();
  }

  /** A quote or alert of feed time `ts` arrived: the page has seen the market up to there. */
  seen(ts: number): void {
    if (this.#syncing || !(ts > (this.#seen ?? 0))) return;
    this.#seen = ts;
    const now = this.#now();
    if (now - this.#seenSavedAt >= this.#seenSaveMs) this.#save();
  }

  /** Fired alerts from a frame (or an ack's `offline`): each crossing reported once. */
  applyFired(fired: readonly FiredAlert[]): void {
    let changed = false;
    for (const f of fired) {
      const alert = this.get(f.id);
      if (!alert) continue;
      const offline = f.offline === true;
      const last = alert.fired;
      if (last && last.ts === f.ts && last.seq === f.seq && last.price === f.price && last.offline === offline)
        continue;
      const next: PageAlert = {
        ...alert,
        status: f.state ?? 'fired',
        fired: { price: f.price, ts: f.ts, seq: f.seq, offline },
        count: alert.count + 1,
      };
      this.alerts = this.alerts.map((a) => (a.spec.id === f.id ? next : a));
      if (f.ts > (this.#seen ?? 0)) this.#seen = f.ts;
      changed = true;
      this.#onFire?.(next, f);
    }
    if (changed) this.#save();
  }

  /**
   * A connection is up: registers every alert the gateway should hold, asking with `since` what
   * crossed while the page was away. Until it is done, new alerts wait for it.
   */
  async connected(channel: AlertChannel): Promise<void> {
    this.#channel = channel;
    this.online = true;
    this.#syncing = true;
    try {
      for (const req of reregistration(this.alerts, this.#seen)) {
        if (this.#channel !== channel) return;
        await this.#register(channel, req);
      }
    } finally {
      if (this.#channel === channel) this.#syncing = false;
    }
  }

  disconnected(): void {
    this.#channel = undefined;
    this.#syncing = false;
    this.online = false;
    this.#save();
  }

  /** Saves now (the page is going away). */
  flush(): void {
    this.#save();
  }

  async #register(channel: AlertChannel, req: AlertSetRequest): Promise<void> {
    let ack: AlertSetAck;
    try {
      ack = await channel.set(req);
    } catch {
      return; // the connection went: the next one tries again
    }
    if (this.#channel !== channel) return;
    if (ack.ok) {
      if (ack.offline.length > 0) this.applyFired(ack.offline);
      this.#applyHeld(ack.alerts);
      return;
    }
    const { code, message, symbols } = ack.error;
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const ids = new Set(req.alerts.map((a) => a.id));
    if (code === ErrorCode.UNKNOWN_SYMBOL && symbols && symbols.length > 0) {
      // Those symbols' alerts cannot be held here; the others can.
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
      const gone = new Set(symbols);
      const text = refusalMessage(code, message);
      for (const a of this.alerts) {
        if (ids.has(a.spec.id) && gone.has(a.spec.symbol.toUpperCase())) {
          this.#update(a.spec.id, { status: 'refused', error: text });
        }
      }
      const rest = req.alerts.filter((a) => !gone.has(a.symbol.toUpperCase()));
      if (rest.length > 0 && rest.length < req.alerts.length) await this.#register(channel, { ...req, alerts: rest });
      return;
    }
    const text = refusalMessage(code, message);
    this.notice = `Alerts not set again after reconnecting: ${text}`;
    for (const id of ids) {
      const a = this.get(id);
      if (a && a.status !== 'fired') this.#update(id, { status: 'refused', error: text });
    }
  }

  /** The gateway's list of what it holds for this page: their states; anything it holds that the page deleted goes. */
  #applyHeld(held: readonly HeldAlertInfo[]): void {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local, never rendered
    const mine = new Map(this.alerts.map((a) => [a.spec.id, a]));
    const stray: string[] = [];
    let changed = false;
    const next = this.alerts.map((a) => a);
    for (const h of held) {
      const a = mine.get(h.id);
      if (!a) {
        stray.push(h.id);
        continue;
      }
      if (a.status === h.state && a.error === undefined) continue;
      const updated: PageAlert = { ...a, status: h.state };
      delete updated.error;
      next[next.indexOf(a)] = updated;
      changed = true;
    }
    if (changed) {
      this.alerts = next;
      this.#save();
    }
    if (stray.length > 0) void this.#channel?.clear({ ids: stray }).catch(() => undefined);
  }

  #put(alert: PageAlert): void {
    this.alerts = [...this.alerts.filter((a) => a.spec.id !== alert.spec.id), alert];
    this.#save();
  }

  #update(id: string, patch: Partial<PageAlert>): void {
    this.alerts = this.alerts.map((a) => {
      if (a.spec.id !== id) return a;
      const next = { ...a, ...patch };
      if (patch.error === undefined && 'error' in patch) delete next.error;
      return next;
    });
    this.#save();
  }

  #save(): void {
    this.#seenSavedAt = this.#now();
    const data: StoredAlerts = { v: 1, alerts: [...this.alerts], sound: this.sound };
    if (this.#seen !== undefined) data.seen = this.#seen;
    try {
      this.#storage?.setItem(KEY, JSON.stringify(data));
    } catch {
      // full or disabled: the alerts hold for this page only
    }
  }
}
