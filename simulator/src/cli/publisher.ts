import {
  FEED_NAMESPACE,
  type FeedAck,
  type FeedClientToServerEvents,
  type FeedTick,
  type FeedTrade,
} from '@tickdeck/protocol';
import { io, type Socket } from 'socket.io-client';
import type { PublishOptions } from './args.js';

/** Something went wrong at run time (gateway unreachable, token refused, bad file): exit 2. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
}

type FeedSocket = Socket<Record<string, never>, FeedClientToServerEvents>;

/** Ticks and trades waiting to be sent, in feed order within each kind. */
export interface Pending {
  ticks: FeedTick[];
  trades: FeedTrade[];
}

/** Where a {@link Publisher} gets its events from. */
export interface FeedSource {
  /** Appends the events due now to `out`, stopping once about `max` ticks wait. */
  pull(out: Pending, max: number): void;
  /** True when everything due now has been pulled (a partial batch may go out). */
  caughtUp(): boolean;
  /** True when the source will never produce another event. */
  done(): boolean;
  /** After a reconnect: jump to the present, dropping what fell due while disconnected. */
  resync(): void;
}

export interface PublishStats {
  sentTicks: number;
  sentTrades: number;
  accepted: number;
  rejected: number;
  /** Items in batches whose ack never came (the connection dropped first). */
  unacked: number;
  /** Rejected items per error code; those an ack counted but did not list are under {@link UNLISTED}. */
  rejectedByCode: Record<string, number>;
  firstRejections: string[];
  reconnects: number;
}

/** The `rejectedByCode` key of items an ack counted in `rejectedCount` past the ones it listed. */
export const UNLISTED = 'not listed';

const ACK_TIMEOUT_MS = 10_000;
const FIRST_CONNECT_TIMEOUT_MS = 10_000;
const PUMP_INTERVAL_MS = 10;

/**
 * Pushes a {@link FeedSource} to a gateway's `/feed` in batches, at most `inFlight` unacknowledged
 * at once: the acks are the back-pressure. Reconnects through socket.io-client's manager
 * (exponential backoff 250 ms .. 5 s, ±50 % jitter) and resyncs the source afterwards.
 */
export class Publisher {
  readonly stats: PublishStats = {
    sentTicks: 0,
    sentTrades: 0,
    accepted: 0,
    rejected: 0,
    unacked: 0,
    rejectedByCode: {},
    firstRejections: [],
    reconnects: 0,
  };
  /** What the progress line should say about the connection. */
  state = 'connecting';
  private readonly socket: FeedSocket;
  private readonly pending: Pending = { ticks: [], trades: [] };
  private inFlight = 0;
  /** Bumped on every disconnect, so acks of a dead connection are not counted twice. */
  private generation = 0;
  private inFlightItems = new Map<number, number>();
  private nextBatchId = 0;

  constructor(
    private readonly options: PublishOptions,
    private readonly source: FeedSource,
  ) {
    this.socket = io(`${options.url}${FEED_NAMESPACE}`, {
      auth: { token: options.token },
      transports: ['websocket'],
      autoConnect: false,
      forceNew: true,
      reconnectionDelay: 250,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
    });
  }

  get acksInFlight(): number {
    return this.inFlight;
  }

  /** Runs until the source is done and every batch is acknowledged; rejects with a {@link RuntimeError}. */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let everConnected = false;
      let attempts = 0;
      const firstConnect = setTimeout(() => {
        if (everConnected) return;
        finish(
          new RuntimeError(
            `cannot reach the gateway at ${this.options.url}: no connection within ${FIRST_CONNECT_TIMEOUT_MS / 1000} s`,
          ),
        );
      }, FIRST_CONNECT_TIMEOUT_MS);
      const timer = setInterval(() => this.pump(finish), PUMP_INTERVAL_MS);
      const finish = (err?: Error) => {
        clearInterval(timer);
        clearTimeout(firstConnect);
        this.socket.removeAllListeners();
        this.socket.disconnect();
        if (err) reject(err);
        else resolve();
      };
      this.socket.on('connect', () => {
        if (everConnected) {
          this.stats.reconnects++;
          this.source.resync();
          this.state = `reconnected (${this.stats.reconnects})`;
        } else {
          this.state = 'connected';
        }
        everConnected = true;
        attempts = 0;
        this.pump(finish);
      });
      this.socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
        if (err.data?.code === 'UNAUTHORIZED' || !this.socket.active) {
          finish(
            new RuntimeError(`the gateway refused the feed token (${err.data?.code ?? 'refused'}): ${err.message}`),
          );
          return;
        }
        attempts++;
        this.state = `gateway unreachable, retrying (attempt ${attempts})`;
      });
      this.socket.on('disconnect', (reason) => {
        this.generation++;
        for (const items of this.inFlightItems.values()) this.stats.unacked += items;
        this.inFlightItems.clear();
        this.inFlight = 0;
        // Batches queued while offline would arrive stale after the reconnect: drop them.
        this.socket.sendBuffer.length = 0;
        this.pending.ticks.length = 0;
        this.pending.trades.length = 0;
        this.state = `disconnected (${reason}), reconnecting`;
        if (!this.socket.active) finish(new RuntimeError(`the gateway closed the feed connection: ${reason}`));
      });
      this.socket.connect();
    });
  }

  private pump(finish: (err?: Error) => void): void {
    if (!this.socket.connected) return;
    const { batch } = this.options;
    const p = this.pending;
    for (;;) {
      if (p.ticks.length < batch && p.trades.length < batch) this.source.pull(p, batch);
      const full = p.ticks.length >= batch || p.trades.length >= batch;
      const some = p.ticks.length > 0 || p.trades.length > 0;
      if (!full && !(some && this.source.caughtUp())) break;
      if (this.inFlight >= this.options.inFlight) return;
      if (p.trades.length > 0) this.send('trades', p.trades.splice(0, batch), finish);
      if (p.ticks.length > 0 && this.inFlight < this.options.inFlight)
        this.send('ticks', p.ticks.splice(0, batch), finish);
    }
    if (this.inFlight === 0 && this.source.done() && p.ticks.length === 0 && p.trades.length === 0) finish();
  }

  private send(event: 'ticks' | 'trades', items: FeedTick[] | FeedTrade[], finish: (err?: Error) => void): void {
    const generation = this.generation;
    const id = this.nextBatchId++;
    this.inFlight++;
    this.inFlightItems.set(id, items.length);
    if (event === 'ticks') this.stats.sentTicks += items.length;
    else this.stats.sentTrades += items.length;
    const onAck = (err: Error | null, ack?: FeedAck) => {
      if (generation !== this.generation) return;
      this.inFlight--;
      this.inFlightItems.delete(id);
      if (err || !ack) {
        this.stats.unacked += items.length;
      } else {
        this.stats.accepted += ack.accepted;
        this.stats.rejected += ack.rejectedCount;
        const byCode = this.stats.rejectedByCode;
        for (const r of ack.rejected) {
          // A batch refused as a whole (index -1) is one entry standing for all its items.
          byCode[r.code] = (byCode[r.code] ?? 0) + (r.index === -1 ? ack.rejectedCount : 1);
          if (this.stats.firstRejections.length < 5)
            this.stats.firstRejections.push(`${event}[${r.index}] ${r.code}: ${r.message}`);
        }
        const unlisted = ack.rejectedCount - ack.rejected.length;
        if (unlisted > 0 && ack.rejected[0]?.index !== -1) byCode[UNLISTED] = (byCode[UNLISTED] ?? 0) + unlisted;
      }
      this.pump(finish);
    };
    if (event === 'ticks') this.socket.timeout(ACK_TIMEOUT_MS).emit('ticks', items as FeedTick[], onAck);
    else this.socket.timeout(ACK_TIMEOUT_MS).emit('trades', items as FeedTrade[], onAck);
  }
}
