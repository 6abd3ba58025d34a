import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  AlertClearRequestSchema,
  AlertSetRequestSchema,
  ErrorCode,
  type AlertClearAck,
  type AlertListAck,
  type AlertSetAck,
  type AlertSpec,
  type AlertState,
  type Candle,
  type ErrorBody,
  type FiredAlert,
  type HeldAlertInfo,
} from '@tickdeck/protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Ingest } from '../feed/ingest.js';
import { HistoryService } from '../history/history.service.js';
import { MarketState } from '../market/market-state.js';
import type { SocketViewer } from '../stream/subscription.service.js';
import { Throttler } from '../stream/throttler.js';
import { AlertBook, type AlertTick, type HeldAlert } from './alert-book.js';

/** Most unknown symbols or ids an error lists. */
const MAX_LISTED = 10;
/** 1-second bars an offline check reads at most (83 min); older time is read in 1-minute bars. */
const OFFLINE_BARS = 5000;

const reject = (error: ErrorBody) => ({ ok: false as const, error });

/**
 * Price alerts of `/market` viewers, evaluated at the gateway on every tick the market applies
 * (through {@link Ingest.onTick}), never on the conflated quotes. A fired alert goes into its
 * viewer's next frame (`alerts`), exactly once and in order, with the tick that crossed. Alerts
 * live with the socket: when it goes, they go; the page sets them again on reconnecting and, with
 * `since`, learns from the 1-second bars what fired while it was away.
 */
@Injectable()
export class AlertService implements OnModuleInit {
  private readonly logger = new Logger(AlertService.name);
  private readonly book: AlertBook<SocketViewer>;
  /** Alerts fired, all viewers (online and found offline). */
  fired = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly market: MarketState,
    private readonly throttler: Throttler<SocketViewer>,
    private readonly ingest: Ingest,
    private readonly history: HistoryService,
  ) {
    this.book = new AlertBook(market.size, (alert, tick) => this.onFire(alert, tick));
  }

  /** Alerts held on this node. */
  get size(): number {
    return this.book.size;
  }

  onModuleInit(): void {
    const market = this.market;
    const book = this.book;
    this.ingest.onTick((i) => book.onTick(i, market.lastAt(i), market.tsAt(i), market.seqAt(i), market.openAt(i)));
  }

  /** `alert:set`: all of the request or none of it. */
  async set(viewer: SocketViewer, body: unknown): Promise<AlertSetAck> {
    const parsed = AlertSetRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.').slice(0, 64)}: ` : '';
      return reject({ code: ErrorCode.BAD_REQUEST, message: `${where}${issue?.message ?? 'invalid payload'}` });
    }
    const { alerts, since, states } = parsed.data;
    const ids = new Set(alerts.map((a) => a.id));
    if (ids.size !== alerts.length) return reject({ code: ErrorCode.BAD_REQUEST, message: 'alerts: an id twice' });
    const unknown = [...new Set(alerts.map((a) => a.symbol).filter((s) => this.market.indexOf(s) < 0))];
    if (unknown.length > 0) {
      return reject({
        code: ErrorCode.UNKNOWN_SYMBOL,
        message: `unknown symbol(s): ${unknown.slice(0, MAX_LISTED).join(', ')}`,
        symbols: unknown.slice(0, MAX_LISTED),
      });
    }
    const added = alerts.filter((a) => !this.book.get(viewer, a.id)).length;
    const held = this.book.ownedBy(viewer).length;
    const { perViewer, total } = this.config.alerts;
    if (held + added > perViewer) {
      return reject({
        code: ErrorCode.TOO_MANY_ALERTS,
        message: `a viewer holds at most ${perViewer} alerts (MAX_ALERTS_PER_VIEWER): ${held} held, ${added} new`,
      });
    }
    if (this.book.size + added > total) {
      return reject({
        code: ErrorCode.TOO_MANY_ALERTS,
        message: `this gateway holds at most ${total} alerts (MAX_ALERTS); try again later or on another node`,
      });
    }
    const offline: FiredAlert[] = [];
    if (since !== undefined) {
      // One read of the bars per symbol, however many of the request's alerts watch it.
      const bars = new Map<number, Promise<Candle[]>>();
      const barsOf = (i: number) => {
        let read = bars.get(i);
        if (!read) bars.set(i, (read = this.barsSince(i, since)));
        return read;
      };
      for (const spec of alerts) {
        const i = this.market.indexOf(spec.symbol);
        const fired = this.firedSince(spec, await barsOf(i), states?.[spec.id] ?? 'armed');
        if (fired) offline.push(fired);
      }
      // The socket may have gone while the bars were read: nothing to hold for it then.
      if (!viewer.socket.connected) return reject({ code: ErrorCode.BAD_REQUEST, message: 'disconnected' });
    }
    const gone = new Set(offline.filter((f) => f.state === undefined).map((f) => f.id));
    for (const spec of alerts) {
      if (gone.has(spec.id)) {
        this.book.clear(viewer, spec.id);
        continue;
      }
      const i = this.market.indexOf(spec.symbol);
      this.book.set(viewer, i, spec, this.market.lastAt(i), this.market.openAt(i));
    }
    this.fired += offline.length;
    return { ok: true, alerts: this.list(viewer), offline };
  }

  /** `alert:clear`: all the ids or none. */
  clear(viewer: SocketViewer, body: unknown): AlertClearAck {
    const parsed = AlertClearRequestSchema.safeParse(body);
    if (!parsed.success) {
      return reject({ code: ErrorCode.BAD_REQUEST, message: `ids: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
    }
    const unknown = parsed.data.ids.filter((id) => !this.book.get(viewer, id));
    if (unknown.length > 0) {
      return reject({
        code: ErrorCode.UNKNOWN_ALERT,
        message: `no alert with id ${unknown.slice(0, MAX_LISTED).join(', ')}`,
        ids: unknown.slice(0, MAX_LISTED),
      });
    }
    for (const id of parsed.data.ids) this.book.clear(viewer, id);
    return { ok: true, ids: parsed.data.ids };
  }

  listAck(viewer: SocketViewer): AlertListAck {
    return { ok: true, alerts: this.list(viewer) };
  }

  /** The socket went away: its alerts go with it (the page sets them again on its next connection). */
  release(viewer: SocketViewer): void {
    this.book.clearOwner(viewer);
  }

  private list(viewer: SocketViewer): HeldAlertInfo[] {
    // The book holds the protocol's specs it was given (a superset of its own AlertSpec).
    return this.book.ownedBy(viewer).map((a) => ({ ...(a.spec as AlertSpec), state: a.state, fired: a.fired }));
  }

  private onFire(alert: HeldAlert<SocketViewer>, tick: AlertTick): void {
    this.fired++;
    const spec = alert.spec as AlertSpec;
    const fired: FiredAlert = {
      id: spec.id,
      symbol: spec.symbol,
      condition: spec.condition,
      ...(spec.note !== undefined ? { note: spec.note } : {}),
      price: tick.price,
      ts: tick.ts,
      seq: tick.seq,
      epoch: this.market.epoch,
      ...(alert.cleared ? {} : { state: alert.state }),
    };
    this.throttler.queueAlert(alert.owner, JSON.stringify(fired));
  }

  /**
   * Would `spec` have fired over `bars` (its symbol's bars since the page's `since`, oldest first:
   * see {@link barsSince}), from `state`? A bar that takes it past its
   * re-arm level arms it, and an armed one fires at the first bar that reaches its level (both in
   * one bar: the order inside is unknown, so it fires rather than miss a crossing).
   */
  private firedSince(spec: AlertSpec, bars: readonly Candle[], state: AlertState): FiredAlert | null {
    const i = this.market.indexOf(spec.symbol);
    const c = spec.condition;
    const h = spec.hysteresis;
    const open = this.market.openAt(i);
    let armed = state === 'armed';
    for (const bar of bars) {
      let level: number | null = null;
      if (c.kind === 'above') {
        if (!armed && bar.low < c.level - h) armed = true;
        if (armed && bar.high >= c.level) level = c.level;
      } else if (c.kind === 'below') {
        if (!armed && bar.high > c.level + h) armed = true;
        if (armed && bar.low <= c.level) level = c.level;
      } else {
        const inner = (Math.max(0, c.pct - h) / 100) * open;
        if (!armed && bar.low < open + inner && bar.high > open - inner) armed = true;
        const band = (c.pct / 100) * open;
        if (armed && bar.high >= open + band) level = open + band;
        else if (armed && bar.low <= open - band) level = open - band;
      }
      if (level !== null) {
        return {
          id: spec.id,
          symbol: spec.symbol,
          condition: c,
          ...(spec.note !== undefined ? { note: spec.note } : {}),
          price: level,
          ts: bar.start,
          seq: 0,
          epoch: this.market.epoch,
          ...(spec.rearm ? { state: 'waiting' as const } : {}),
          offline: true,
        };
      }
    }
    return null;
  }

  /** The bars since `since`: 1-minute ones where the 1-second ones do not reach, then the 1-second ones and the open one. */
  private async barsSince(i: number, since: number): Promise<Candle[]> {
    const fine = await this.history.closedBars(i, '1s', since - 999, Infinity, OFFLINE_BARS);
    const open = this.market.candleRing(i, '1s').openBar();
    if (open && open.start + 1000 > since) fine.push(open);
    const firstFine = fine[0]?.start ?? Infinity;
    if (firstFine <= since) return fine;
    const coarse = await this.history.closedBars(i, '1m', since - 59_999, firstFine, OFFLINE_BARS);
    return coarse.concat(fine);
  }
}
