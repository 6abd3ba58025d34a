import { io, type Socket } from 'socket.io-client';
import {
  ErrorCode,
  FRAME_VERSION,
  MARKET_NAMESPACE,
  type AlertClearAck,
  type AlertListAck,
  type AlertSetAck,
  type CandleBatch,
  type ClientToServerEvents,
  type FiredAlert,
  type InstrumentSpec,
  type ServerToClientEvents,
  type SubscribeAck,
  type SubscribeRequest,
  type ViewerFrame,
} from '@tickdeck/protocol';
import type { AlertChannel } from './alerts.svelte';
import { fetchSymbols, fetchTiers } from './api';
import { getToken } from './auth';
import type { MarketStore, Transport } from './market.svelte';
import { holdKey, planSubscriptions, type SubscribeGroup, type Wanted } from './subscriptions';
import type { TradeStore } from './trades.svelte';

/** The dashboard's socket on `/market`, typed by the protocol's event maps. */
export type MarketSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface MarketConnection {
  /** Connect again after going offline; a no-op while connected or already retrying. */
  reconnect(): void;
  /** Subscribe again (every symbol, the current tier): how a new tier takes effect. */
  resubscribe(): void;
  /** Asks for what the page wants now (`wanted`), and drops what it no longer shows. */
  sync(): void;
  /** Disconnect for good and cancel pending retries and timers. */
  close(): void;
}

/** Where candle acks and batches go (the chart book). */
export interface CandleSink {
  applyAck(ack: { epoch: string; candles?: readonly CandleBatch[] }): void;
  applyBatch(batch: CandleBatch): void;
}

/** Where alert traffic goes (the alert store). */
export interface AlertSink {
  /** A connection is up: register the alerts over `channel` (it refuses once this connection is gone). */
  connected(channel: AlertChannel): void | Promise<void>;
  disconnected(): void;
  /** A frame's fired alerts. */
  applyFired(fired: readonly FiredAlert[]): void;
  /** The feed time of the newest quote of a frame: how far the page has seen the market. */
  seen(ts: number): void;
}

/** Where the socket's events go. */
export interface MarketSinks {
  market: MarketStore;
  /** Trade tape and `since` bookkeeping; trades are ignored without it. */
  trades?: TradeStore;
  /** Open charts: every ack (its epoch, the open bars) and the frames' candle batches. */
  charts?: CandleSink;
  /** Price alerts: registered on every connect, fired ones from the frames. */
  alerts?: AlertSink;
}

export interface ConnectOptions {
  /** Throttle tier to ask for, in ms, read at every subscribe; by default the gateway's default tier. */
  throttleMs?: number | (() => number | undefined);
  /**
   * What the page shows of the instruments the gateway carries, read at every (re)connect and
   * {@link MarketConnection.sync}: the watchlist and its charts' intervals. Default: every symbol, no candles.
   */
  wanted?: (instruments: readonly InstrumentSpec[]) => Wanted;
  /** How long to wait for a subscribe ack before asking again, in ms. */
  ackTimeoutMs?: number;
  /** Pause before retrying a failed symbol fetch or subscribe, in ms. */
  retryDelayMs?: number;
  /** Between round-trip probes (`ping`), in ms; 0 turns them off. */
  pingIntervalMs?: number;
  /** Between update-rate samples, in ms; 0 turns them off. */
  rateIntervalMs?: number;
  /** Where the symbol universe comes from; `GET /api/symbols` by default. */
  loadSymbols?: () => Promise<InstrumentSpec[]>;
  /** Where the gateway's throttle tiers come from; `GET /api/health` by default. */
  loadTiers?: () => Promise<number[]>;
  /** Opens the socket, not yet connected; the default connects to `/market` on the page's origin. */
  createSocket?: () => MarketSocket;
}

function openSocket(): MarketSocket {
  return io(MARKET_NAMESPACE, {
    path: '/socket.io',
    autoConnect: false,
    // WebSocket first: no long-polling round trips and no sticky sessions behind a balancer;
    // polling stays as the fallback for networks that block WebSocket.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    // Jittered exponential backoff, 0.5 s doubling to 5 s, each delay +-50 %: a gateway restart
    // does not get every dashboard back at the same instant.
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
    // Read at every (re)connect, so a token entered after a refusal is used.
    auth: (cb) => {
      const token = getToken();
      cb(token ? { token } : {});
    },
  });
}

const DISCONNECT_REASONS: Partial<Record<Socket.DisconnectReason, string>> = {
  'io server disconnect': 'disconnected by the gateway',
  'io client disconnect': 'disconnected',
};

/**
 * Opens the market socket and keeps the stores up to date: on every connect (the first and each
 * reconnect) it loads the symbol list and subscribes to what the page shows (`wanted`: the
 * watchlist, one request per set of chart intervals), with `{epoch, since}` so the ack fills the
 * trade tape's gap, then routes each `frame` (its quotes, its trade batches, its candle batches)
 * and `status` into the stores and measures the round trip. {@link MarketConnection.sync} follows
 * the page: it unsubscribes what is no longer shown and subscribes what is new or changed. An ack
 * of another epoch (the gateway restarted) makes every store and chart start over from it. No
 * other module talks to socket.io.
 */
export function connectMarket(sinks: MarketSinks, options: ConnectOptions = {}): MarketConnection {
  const { market, trades, charts, alerts } = sinks;
  const {
    throttleMs,
    wanted = (instruments) => ({ symbols: instruments.map((spec) => spec.symbol), candles: {} }),
    ackTimeoutMs = 5000,
    retryDelayMs = 2000,
    pingIntervalMs = 5000,
    rateIntervalMs = 1000,
    loadSymbols = fetchSymbols,
    loadTiers = fetchTiers,
    createSocket = openSocket,
  } = options;
  const tier = typeof throttleMs === 'function' ? throttleMs : () => throttleMs;
  const socket = createSocket();
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let shuttingDown = false;
  let sessionLive = false;
  /** The connection whose instruments are loaded: until then there is nothing to sync. */
  let readyId: string | undefined;
  let instruments: readonly InstrumentSpec[] = [];
  /** What this connection asked the gateway for (acked or in flight): symbol -> holdKey. */
  const held = new Map<string, string>();
  /** Engine.IO connections whose transport upgrades are already reported. */
  const watched = new WeakSet<object>();

  function retry(action: () => void, delayMs = retryDelayMs): void {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(action, delayMs);
  }

  function request(group: SubscribeGroup): SubscribeRequest {
    const req: SubscribeRequest = { symbols: group.symbols };
    // A tier this gateway does not offer (a preference saved against another one) falls back
    // to the gateway's default.
    const ms = tier();
    if (ms !== undefined && market.tiers.includes(ms)) req.throttleMs = ms;
    if (group.candles.length > 0) req.candles = group.candles;
    // Seqs mean something only in their epoch: `since` goes with the epoch it was counted in.
    const epoch = trades?.epoch;
    const mine = new Set(group.symbols);
    const since = Object.fromEntries(Object.entries(trades?.since() ?? {}).filter(([s]) => mine.has(s)));
    if (epoch !== undefined && Object.keys(since).length > 0) {
      req.epoch = epoch;
      req.since = since;
    }
    return req;
  }

  function applyAck(req: SubscribeRequest, ack: Extract<SubscribeAck, { ok: true }>): void {
    sessionLive = true;
    market.subscribed(ack);
    // A `since` of another epoch lists every symbol it names in `gaps`: nothing was missed that
    // the restart mark (made by the first ack of the new epoch) does not already say.
    const stale = req.epoch !== undefined && req.epoch !== ack.epoch;
    trades?.applyAck(stale ? { ...ack, trades: [], gaps: [] } : ack);
    charts?.applyAck(ack);
  }

  /** Forgets that `group` was asked for, so the next sync asks again. */
  function unhold(group: SubscribeGroup): void {
    const key = holdKey(group.candles);
    for (const symbol of group.symbols) if (held.get(symbol) === key) held.delete(symbol);
  }

  /** Subscribes `group`, for as long as this connection (`id`) lasts. */
  function subscribe(id: string | undefined, group: SubscribeGroup): void {
    const current = () => socket.connected && socket.id === id;
    const req = request(group);
    socket.timeout(ackTimeoutMs).emit('subscribe', req, (err, ack) => {
      if (!current()) return;
      if (err) {
        unhold(group);
        retry(() => sync(id));
      } else if (ack.ok) applyAck(req, ack);
      else if (ack.error.code === ErrorCode.RATE_LIMITED) {
        unhold(group);
        retry(() => sync(id), ack.error.retryAfterMs ?? retryDelayMs);
      } else if (sessionLive) market.applyStatus({ notice: { code: ack.error.code, message: ack.error.message } });
      else market.offline(`subscribe refused: ${ack.error.message}`);
    });
  }

  /** Takes this connection (`id`) from what it holds to what the page wants. */
  function sync(id: string | undefined): void {
    if (!socket.connected || socket.id !== id || readyId !== id) return;
    const plan = planSubscriptions(held, wanted(instruments));
    if (plan.unsubscribe.length > 0) {
      for (const symbol of plan.unsubscribe) held.delete(symbol);
      // What the gateway answers changes nothing here: the symbols are off the page already.
      socket.timeout(ackTimeoutMs).emit('unsubscribe', { symbols: plan.unsubscribe }, () => {});
    }
    for (const group of plan.subscribe) {
      const key = holdKey(group.candles);
      for (const symbol of group.symbols) held.set(symbol, key);
      subscribe(id, group);
    }
    // Nothing to show: live all the same.
    if (held.size === 0 && !sessionLive) {
      sessionLive = true;
      market.subscribed({ snapshots: [] });
    }
  }

  /** Loads the universe and subscribes to what the page shows of it, for as long as this connection (`id`) lasts. */
  async function subscribeAll(id: string | undefined): Promise<void> {
    const current = () => socket.connected && socket.id === id;
    let loaded: InstrumentSpec[];
    try {
      // The tiers are a nicety: without them the page keeps the protocol's defaults.
      const [specs, tiers] = await Promise.all([loadSymbols(), loadTiers().catch(() => undefined)]);
      loaded = specs;
      if (tiers) market.tiers = tiers;
    } catch {
      if (current()) retry(() => void subscribeAll(id));
      return;
    }
    if (!current()) return;
    instruments = loaded;
    market.setInstruments(loaded);
    readyId = id;
    sync(id);
  }

  /** `alert:*` requests for as long as this connection (`id`) lasts. */
  function alertChannel(id: string | undefined): AlertChannel {
    const current = () => socket.connected && socket.id === id;
    const ask = <T>(send: (done: (err: Error | null, ack: T) => void) => void) =>
      new Promise<T>((resolve, reject) => {
        if (!current()) return reject(new Error('disconnected'));
        send((err, ack) => (err ? reject(err) : current() ? resolve(ack) : reject(new Error('disconnected'))));
      });
    const timed = () => socket.timeout(ackTimeoutMs);
    return {
      set: (req) => ask<AlertSetAck>((done) => timed().emit('alert:set', req, done)),
      clear: (req) => ask<AlertClearAck>((done) => timed().emit('alert:clear', req, done)),
      list: () => ask<AlertListAck>((done) => timed().emit('alert:list', done)),
    };
  }

  function ping(id: string | undefined): void {
    const started = performance.now();
    socket.timeout(pingIntervalMs).emit('ping', (err) => {
      if (!err && socket.connected && socket.id === id) market.measuredLatency(performance.now() - started);
    });
  }

  function stopPing(): void {
    clearInterval(pingTimer);
    pingTimer = undefined;
  }

  socket.on('connect', () => {
    clearTimeout(retryTimer);
    shuttingDown = false;
    sessionLive = false;
    readyId = undefined;
    held.clear();
    market.sessionStarted();
    const engine = socket.io.engine;
    market.setTransport(engine?.transport?.name as Transport | undefined);
    if (engine && !watched.has(engine)) {
      watched.add(engine);
      engine.on('upgrade', (transport: { name: string }) => market.setTransport(transport.name as Transport));
    }
    const id = socket.id;
    stopPing();
    if (pingIntervalMs > 0) {
      ping(id);
      pingTimer = setInterval(() => ping(id), pingIntervalMs);
    }
    void subscribeAll(id);
    void alerts?.connected(alertChannel(id));
  });

  socket.on('disconnect', (reason) => {
    clearTimeout(retryTimer);
    stopPing();
    alerts?.disconnected();
    if (socket.active) {
      market.reconnecting(0);
    } else if (shuttingDown && reason === 'io server disconnect') {
      // A gateway going down on purpose is expected back (restart, deploy): keep trying.
      market.reconnecting(0);
      retry(() => socket.connect());
    } else {
      market.offline(DISCONNECT_REASONS[reason] ?? reason);
    }
  });

  socket.on('connect_error', (err) => {
    // While `active`, socket.io retries by itself; otherwise a middleware refused us (e.g. auth).
    const code = (err as { data?: { code?: unknown } }).data?.code;
    if (code === ErrorCode.UNAUTHORIZED) market.unauthorized(err.message);
    else if (!socket.active) market.offline(err.message);
  });

  socket.io.on('reconnect_attempt', (attempt) => market.reconnecting(attempt));
  socket.io.on('reconnect_failed', () => market.offline('gave up reconnecting'));

  let warnedVersion = false;
  socket.on('frame', (frame) => {
    const v = (frame as { v?: unknown } | null)?.v;
    if (v !== FRAME_VERSION) {
      // A gateway newer than this page: its frames mean something else, so none is applied.
      if (!warnedVersion)
        console.warn(`tickdeck: ignoring frames of version ${String(v)} (this page reads ${FRAME_VERSION})`);
      warnedVersion = true;
      return;
    }
    applyFrame(frame);
  });

  /** Quotes, trades, candles, then fired alerts; keys this page does not know (added without a version bump) are ignored. */
  function applyFrame({ quotes, trades: batches, candles, alerts: fired }: ViewerFrame): void {
    if (quotes) market.applyQuotes(quotes);
    for (const batch of batches ?? []) trades?.applyBatch(batch);
    for (const batch of candles ?? []) charts?.applyBatch(batch);
    if (fired && fired.length > 0) alerts?.applyFired(fired);
    if (alerts && quotes) {
      let ts = 0;
      for (const q of quotes) if (q.ts > ts) ts = q.ts;
      if (ts > 0) alerts.seen(ts);
    }
  }

  socket.on('status', (status) => {
    if (status.server === 'shutdown') shuttingDown = true;
    market.applyStatus(status);
  });

  let sampled = performance.now();
  const rateTimer =
    rateIntervalMs > 0
      ? setInterval(() => {
          const now = performance.now();
          if (socket.connected) market.sampleRate(now - sampled);
          sampled = now;
        }, rateIntervalMs)
      : undefined;

  market.connecting();
  socket.connect();

  return {
    reconnect() {
      if (socket.active) return;
      clearTimeout(retryTimer);
      market.connecting();
      socket.connect();
    },
    resubscribe() {
      if (!socket.connected || !sessionLive) return;
      held.clear();
      sync(socket.id);
    },
    sync() {
      if (socket.connected) sync(socket.id);
    },
    close() {
      clearTimeout(retryTimer);
      clearInterval(rateTimer);
      stopPing();
      socket.disconnect();
    },
  };
}
