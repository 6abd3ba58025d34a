import {
  FRAME_VERSION,
  MARKET_NAMESPACE,
  type ClientToServerEvents,
  type ErrorBody,
  type ServerToClientEvents,
  type Status,
  type SubscribeAck,
  type SubscribeRequest,
  type TradeBatch,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { Manager, type Socket } from 'socket.io-client';
import type { WatchOptions } from './args.js';
import { RuntimeError } from './publisher.js';
import { formatGap, formatQuote, formatSnapshot, formatStatus, formatTrades } from './watch-lines.js';

/** A viewer's socket on `/market`, typed by the protocol's event maps. */
export type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Where a {@link Watcher} writes: `out` is the stream of market lines (or JSON frames), `err` the rest. */
export interface WatchOutput {
  out(line: string): void;
  err(line: string): void;
}

const ACK_TIMEOUT_MS = 10_000;

/** A socket on `/market` through its own manager, not yet connected. */
export function openViewerSocket(options: Pick<WatchOptions, 'url' | 'token'>): ViewerSocket {
  const manager = new Manager(options.url, {
    autoConnect: false,
    transports: ['websocket'],
    reconnectionDelay: 250,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
  });
  return manager.socket(MARKET_NAMESPACE, { auth: options.token === '' ? {} : { token: options.token } });
}

function describe(error: ErrorBody): string {
  const extra = error.symbols
    ? ` [${error.symbols.join(', ')}]`
    : error.tiers
      ? ` (tiers: ${error.tiers.join(', ')} ms)`
      : '';
  return `${error.code}: ${error.message}${extra}`;
}

/**
 * Watches symbols on a gateway's `/market` as a dashboard would: subscribes on every connect (the
 * first and each reconnect, with `{epoch, since}` so the ack brings the trades missed in between)
 * and writes each quote and trade as a line, or each frame as JSON. Trades are written once each,
 * whatever the ack and the live frames repeat.
 */
export class Watcher {
  private readonly socket: ViewerSocket;
  /** The epoch `lastTrade` counts in, from the latest ack. */
  private epoch: string | undefined;
  /** Per symbol, the seq of the latest trade written (or the snapshot's `tradeSeq`). */
  private readonly lastTrade = new Map<string, number>();
  private connectedOnce = false;
  private warnedVersion = false;
  private shutdownAnnounced = false;
  private lastNotice: Status['notice'];
  private finish: (err?: Error) => void = () => {};

  constructor(
    private readonly options: WatchOptions,
    private readonly output: WatchOutput,
    createSocket: (options: WatchOptions) => ViewerSocket = openViewerSocket,
  ) {
    this.socket = createSocket(options);
  }

  /** Resolves after {@link stop}; rejects with a {@link RuntimeError} when the gateway refuses or drops us for good. */
  run(): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      this.finish = (err) => {
        if (done) return;
        done = true;
        socket.removeAllListeners();
        socket.disconnect();
        if (err) reject(err);
        else resolve();
      };
      socket.on('connect', () => this.subscribe());
      socket.on('connect_error', (err: Error & { data?: { code?: string }; description?: { message?: unknown } }) => {
        const code = err.data?.code;
        // A transport error carries the system's reason (connect ECONNREFUSED ...) beside its own.
        const cause = typeof err.description?.message === 'string' ? `: ${err.description.message}` : '';
        // Not active: a middleware refused the CONNECT (token, caps); active: the transport
        // failed, and before a first connection that means nothing listens there.
        if (!socket.active || !this.connectedOnce) {
          this.finish(
            new RuntimeError(
              `cannot connect to ${this.options.url}${MARKET_NAMESPACE}: ${err.message}${cause}${code ? ` (${code})` : ''}`,
            ),
          );
        } else {
          this.output.err(`tickdeck-sim: reconnecting: ${err.message}${cause}`);
        }
      });
      socket.on('disconnect', (reason) => {
        if (reason === 'io client disconnect') return;
        if (socket.active) {
          this.output.err(`tickdeck-sim: disconnected (${reason}), reconnecting`);
          return;
        }
        const why = this.lastNotice
          ? `: ${this.lastNotice.code}: ${this.lastNotice.message}`
          : this.shutdownAnnounced
            ? ': it is shutting down'
            : '';
        this.finish(new RuntimeError(`the gateway closed the connection${why}`));
      });
      socket.on('frame', (frame) => this.onFrame(frame));
      socket.on('status', (status) => this.onStatus(status));
      socket.connect();
    });
  }

  /** Disconnects; {@link run} resolves. */
  stop(): void {
    this.finish();
  }

  /** Market lines: on stdout, unless frames go there as JSON. */
  private info(line: string): void {
    if (this.options.json) this.output.err(line);
    else this.output.out(line);
  }

  private subscribe(): void {
    const { socket } = this;
    const reconnected = this.connectedOnce;
    this.connectedOnce = true;
    this.lastNotice = undefined;
    const req: SubscribeRequest = { symbols: this.options.symbols };
    if (this.options.throttleMs !== undefined) req.throttleMs = this.options.throttleMs;
    if (this.epoch !== undefined && this.lastTrade.size > 0) {
      req.epoch = this.epoch;
      req.since = Object.fromEntries(this.lastTrade);
    }
    const id = socket.id;
    socket.timeout(ACK_TIMEOUT_MS).emit('subscribe', req, (err, ack) => {
      // The ack of a connection that has since ended: the next connect subscribes again.
      if (!socket.connected || socket.id !== id) return;
      if (err) this.finish(new RuntimeError(`no subscribe ack within ${ACK_TIMEOUT_MS / 1000} s`));
      else if (!ack.ok) this.finish(new RuntimeError(`subscribe refused: ${describe(ack.error)}`));
      else this.applyAck(ack, reconnected);
    });
  }

  private applyAck(ack: Extract<SubscribeAck, { ok: true }>, reconnected: boolean): void {
    const restarted = this.epoch !== undefined && ack.epoch !== this.epoch;
    this.epoch = ack.epoch;
    const where = `${this.options.url}${MARKET_NAMESPACE}`;
    if (restarted) {
      // Another sequence space: the seqs held mean nothing now, and every symbol is in `gaps`.
      this.lastTrade.clear();
      this.output.err(`tickdeck-sim: the gateway restarted (epoch ${ack.epoch}): seqs start over`);
    }
    this.output.err(
      `tickdeck-sim: ${reconnected ? 'subscribed again to' : 'watching'} ${ack.snapshots.map((s) => s.symbol).join(', ')} on ${where} every ${ack.throttleMs} ms`,
    );
    for (const s of ack.snapshots) this.info(formatSnapshot(s));
    for (const batch of ack.trades) for (const line of this.newTrades(batch)) this.info(line);
    if (!restarted) for (const symbol of ack.gaps) this.info(formatGap(symbol));
    for (const s of ack.snapshots) {
      if (s.tradeSeq > (this.lastTrade.get(s.symbol) ?? -1)) this.lastTrade.set(s.symbol, s.tradeSeq);
    }
  }

  /** The batch's lines for trades not yet written, and notes them as written. */
  private newTrades(batch: TradeBatch): string[] {
    const last = this.lastTrade.get(batch.symbol);
    const trades = last === undefined ? batch.trades : batch.trades.filter((t) => t.seq > last);
    const newest = trades.at(-1);
    if (newest) this.lastTrade.set(batch.symbol, newest.seq);
    if (trades.length === 0 && !batch.gap) return [];
    return formatTrades({ ...batch, trades });
  }

  private onFrame(frame: ViewerFrame): void {
    const v = (frame as { v?: unknown } | null)?.v;
    if (this.options.json) this.output.out(JSON.stringify(frame));
    if (v !== FRAME_VERSION) {
      if (!this.warnedVersion) {
        this.output.err(`tickdeck-sim: ignoring frames of version ${String(v)} (this version reads ${FRAME_VERSION})`);
      }
      this.warnedVersion = true;
      return;
    }
    // Keys other than quotes and trades (added without a version bump) are not ours to read.
    const quotes = this.options.json ? [] : (frame.quotes ?? []);
    for (const q of quotes) this.output.out(formatQuote(q));
    for (const batch of frame.trades ?? []) {
      const lines = this.newTrades(batch);
      if (!this.options.json) for (const line of lines) this.output.out(line);
    }
  }

  private onStatus(status: Status): void {
    if (status.server === 'shutdown') this.shutdownAnnounced = true;
    if (status.notice) this.lastNotice = status.notice;
    this.info(formatStatus(status));
  }
}
