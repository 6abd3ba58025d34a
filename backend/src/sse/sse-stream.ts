import type { ServerResponse } from 'node:http';
import type { SubscribeAck, ViewerFrame } from '@tickdeck/protocol';
import type { HttpViewer, StreamViewer, Subscriber, Subscription } from '../stream/subscription.service.js';
import type { CandleCursor, ViewerGroup } from '../stream/throttler.js';
import { formatEventId } from './event-id.js';

/** What a stream reads to say where it stands: the market's epoch and trade seqs, the throttler's queue. */
export interface TradeSeqs {
  readonly epoch: string;
  indexOf(symbol: string): number;
  tradeSeqAt(i: number): number;
  /** Whether trades of symbol `i` wait for the throttler's next trade flush. */
  hasPendingTrades(i: number): boolean;
}

/** What every stream of a gateway shares: where it reads seqs, its bounds, and who handles its backlog. */
export interface StreamContext {
  readonly seqs: TradeSeqs;
  /** Bytes queued beyond which its frames skip quotes (as a socket's do). */
  readonly lagBytes: number;
  /** Bytes queued beyond which it is cut (`MAX_BUFFERED_BYTES`). */
  readonly maxBufferedBytes: number;
  /** Its connection backed up past `lagBytes` (true), or drained (false). */
  onLagging(stream: SseStream, lagging: boolean): void;
  /** More than `maxBufferedBytes` are queued for it. */
  onOverflow(stream: SseStream, bytes: number): void;
  /** It ended (cut, expired, the gateway stopping): it must leave the throttler. */
  onFinish(stream: SseStream): void;
}

/** A last event before the stream ends. */
export interface FinalEvent {
  readonly event: 'error' | 'status' | 'epoch';
  readonly data: object;
}

/**
 * One `GET /api/stream` response: a viewer of the throttler like a socket (same groups, same
 * frames) and a subscriber of SubscriptionService like a socket (its catch-up frame comes through
 * {@link emit}). Each frame is one event `event: frame` with the frame's JSON as `data`, and an
 * `id:` that says, per symbol, the last trade it carried (see event-id.ts), so a client that
 * reconnects with `Last-Event-ID` gets exactly the trades it missed.
 *
 * Its cursors follow the throttler: a symbol whose trades it receives has been sent every trade
 * up to the throttler's last trade flush, which is the market's trade seq whenever no trade of
 * that symbol waits for the next one (and at every write of a trade flush). A catch-up frame
 * moves them by the trades it carries.
 */
export class SseStream implements HttpViewer, Subscriber {
  readonly socket = undefined;
  group: ViewerGroup<this> | null = null;
  lagging = false;
  owed: Map<number, number> | null = null;
  candleOwed: Map<number, CandleCursor> | null = null;
  alerts: string | null = null;
  phase?: number;
  readonly data: { subs: Map<string, Subscription>; viewer: StreamViewer };
  /** Set while the stream counts against the connection caps (until its response closes). */
  counted = false;
  /** Timers of its own (token expiry, the grace before a cut stream's connection is dropped). */
  readonly timers: ReturnType<typeof setTimeout>[] = [];

  /** Per held symbol, in the stream's order: the name, the market index, the last trade seq sent. */
  private symbols: string[] = [];
  private indices: number[] = [];
  private cursors: number[] = [];
  /** The epoch its seqs count in: the subscribe's. */
  private epoch = '';
  private id = '';
  private ended = false;
  /** Past `lagBytes`, until the connection drains. */
  private backedUp = false;

  constructor(
    private readonly res: ServerResponse,
    /** The client's address, as the connection caps count it. */
    readonly ip: string,
    private readonly ctx: StreamContext,
  ) {
    this.data = { subs: new Map(), viewer: this };
  }

  /** For SubscriptionService: deferred work for a stream that ended is dropped. */
  get connected(): boolean {
    return !this.ended;
  }

  /**
   * The start of the stream, right after its subscribe (in the same turn, so no frame can come
   * first): the ack's snapshots, trades since `Last-Event-ID`, gaps and open bars, and the feed's
   * state, as `event: snapshot`.
   */
  start(ack: Extract<SubscribeAck, { ok: true }>, feed: string): void {
    this.symbols = ack.snapshots.map((s) => s.symbol);
    this.indices = this.symbols.map((s) => this.ctx.seqs.indexOf(s));
    this.cursors = ack.snapshots.map((s) => s.tradeSeq);
    this.epoch = ack.epoch;
    this.id = this.formatId();
    const { ok: _ok, ...snapshot } = ack;
    this.send('snapshot', JSON.stringify({ ...snapshot, feed }));
  }

  /** The throttler's output for this stream (through the frame writer): one frame, already JSON. */
  writeFrame(json: string): void {
    if (this.ended) return;
    if (this.ctx.seqs.epoch !== this.epoch) return this.epochChanged();
    if (this.advance()) this.id = this.formatId();
    this.send('frame', json);
  }

  /** SubscriptionService's catch-up frame (what moved past the snapshot while a flush ran). */
  emit(event: 'frame', frame: ViewerFrame): boolean {
    if (this.ended) return false;
    let moved = false;
    for (const batch of frame.trades ?? []) {
      const j = this.symbols.indexOf(batch.symbol);
      const last = batch.trades.at(-1);
      if (j < 0 || last === undefined || last.seq <= this.cursors[j]!) continue;
      this.cursors[j] = last.seq;
      moved = true;
    }
    if (moved) this.id = this.formatId();
    this.send(event, JSON.stringify(frame));
    return true;
  }

  /** An event without an id of its own (`status`, `epoch`): `data` is JSON. */
  event(event: string, data: string): void {
    if (this.ended) return;
    this.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  /** The heartbeat: a comment, which EventSource ignores and proxies see as traffic. */
  ping(): void {
    if (this.ended) return;
    this.write(': ping\n\n');
  }

  /** Ends the stream, after `final` if given; idempotent. */
  finish(final?: FinalEvent): void {
    if (this.ended) return;
    this.ended = true;
    // Past any bound: it is the last thing written, and the connection is dropped soon after.
    if (final) this.res.write(`event: ${final.event}\ndata: ${JSON.stringify(final.data)}\n\n`);
    this.res.end();
    this.ctx.onFinish(this);
  }

  /** Drops the connection at once (a cut stream whose reader never took its last event). */
  destroy(): void {
    this.res.destroy();
  }

  private send(event: string, data: string): void {
    this.write(`id: ${this.id}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  private write(chunk: string): void {
    this.res.write(chunk);
    const queued = this.res.writableLength;
    if (queued <= this.ctx.lagBytes) return;
    if (queued > this.ctx.maxBufferedBytes) return this.ctx.onOverflow(this, queued);
    if (this.backedUp) return;
    this.backedUp = true;
    this.ctx.onLagging(this, true);
    // 'drain' comes once the connection has taken everything queued.
    this.res.once('drain', () => {
      this.backedUp = false;
      if (!this.ended) this.ctx.onLagging(this, false);
    });
  }

  /** Moves the cursors of the symbols whose trades it receives to the throttler's last trade flush. */
  private advance(): boolean {
    const seqs = this.ctx.seqs;
    const subs = this.data.subs;
    let moved = false;
    for (let j = 0; j < this.symbols.length; j++) {
      const i = this.indices[j]!;
      if (subs.get(this.symbols[j]!)?.trades !== true || seqs.hasPendingTrades(i)) continue;
      const seq = seqs.tradeSeqAt(i);
      if (seq === this.cursors[j]) continue;
      this.cursors[j] = seq;
      moved = true;
    }
    return moved;
  }

  /**
   * The market took on another epoch (a cluster resync): the stream's seqs mean nothing there.
   * It says so and ends; the client reconnects (EventSource does) and starts from a new snapshot.
   */
  private epochChanged(): void {
    this.finish({
      event: 'epoch',
      data: {
        epoch: this.ctx.seqs.epoch,
        previous: this.epoch,
        message: "the gateway's sequence space changed: reconnect and start afresh",
      },
    });
  }

  private formatId(): string {
    return formatEventId(
      this.epoch,
      this.symbols.map((s, j) => [s, this.cursors[j]!] as const),
    );
  }
}
