import { io, type Socket } from 'socket.io-client';
import {
  ErrorCode,
  MARKET_NAMESPACE,
  type ClientToServerEvents,
  type InstrumentSpec,
  type ServerToClientEvents,
} from '@tickdeck/protocol';
import { fetchSymbols } from './api';
import type { MarketStore } from './market.svelte';

/** The dashboard's socket on `/market`, typed by the protocol's event maps. */
export type MarketSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface MarketConnection {
  /** Connect again after going offline; a no-op while connected or already retrying. */
  reconnect(): void;
  /** Disconnect for good and cancel pending retries. */
  close(): void;
}

export interface ConnectOptions {
  /** Throttle tier to ask for, in ms; by default the gateway's default tier. */
  throttleMs?: number;
  /** How long to wait for a subscribe ack before asking again, in ms. */
  ackTimeoutMs?: number;
  /** Pause before retrying a failed symbol fetch or subscribe, in ms. */
  retryDelayMs?: number;
  /** Where the symbol universe comes from; `GET /api/symbols` by default. */
  loadSymbols?: () => Promise<InstrumentSpec[]>;
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
  });
}

const DISCONNECT_REASONS: Partial<Record<Socket.DisconnectReason, string>> = {
  'io server disconnect': 'disconnected by the gateway',
  'io client disconnect': 'disconnected',
};

/**
 * Opens the market socket and keeps `store` up to date: on every connect (the first and each
 * reconnect) it loads the symbol list and subscribes to all of it, then routes `quotes` and
 * `status` into the store. No other module talks to socket.io.
 */
export function connectMarket(store: MarketStore, options: ConnectOptions = {}): MarketConnection {
  const {
    throttleMs,
    ackTimeoutMs = 5000,
    retryDelayMs = 2000,
    loadSymbols = fetchSymbols,
    createSocket = openSocket,
  } = options;
  const socket = createSocket();
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let shuttingDown = false;

  function retry(action: () => void, delayMs = retryDelayMs): void {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(action, delayMs);
  }

  /** Loads the universe and subscribes to it, for as long as this connection (`id`) lasts. */
  async function subscribeAll(id: string | undefined): Promise<void> {
    const current = () => socket.connected && socket.id === id;
    let instruments: InstrumentSpec[];
    try {
      instruments = await loadSymbols();
    } catch {
      if (current()) retry(() => void subscribeAll(id));
      return;
    }
    if (!current()) return;
    store.setInstruments(instruments);
    const symbols = instruments.map((spec) => spec.symbol);
    if (symbols.length === 0) {
      store.subscribed({ snapshots: [] });
      return;
    }
    const request = throttleMs === undefined ? { symbols } : { symbols, throttleMs };
    socket.timeout(ackTimeoutMs).emit('subscribe', request, (err, ack) => {
      if (!current()) return;
      if (err) retry(() => void subscribeAll(id));
      else if (ack.ok) store.subscribed(ack);
      else if (ack.error.code === ErrorCode.RATE_LIMITED)
        retry(() => void subscribeAll(id), ack.error.retryAfterMs ?? retryDelayMs);
      else store.offline(`subscribe refused: ${ack.error.message}`);
    });
  }

  socket.on('connect', () => {
    clearTimeout(retryTimer);
    shuttingDown = false;
    store.sessionStarted();
    void subscribeAll(socket.id);
  });

  socket.on('disconnect', (reason) => {
    clearTimeout(retryTimer);
    if (socket.active) {
      store.reconnecting(0);
    } else if (shuttingDown && reason === 'io server disconnect') {
      // A gateway going down on purpose is expected back (restart, deploy): keep trying.
      store.reconnecting(0);
      retry(() => socket.connect());
    } else {
      store.offline(DISCONNECT_REASONS[reason] ?? reason);
    }
  });

  socket.on('connect_error', (err) => {
    // While `active`, socket.io retries by itself; otherwise a middleware refused us (e.g. auth).
    if (!socket.active) store.offline(err.message);
  });

  socket.io.on('reconnect_attempt', (attempt) => store.reconnecting(attempt));
  socket.io.on('reconnect_failed', () => store.offline('gave up reconnecting'));

  socket.on('quotes', (quotes) => {
    store.applyQuotes(quotes);
  });

  socket.on('status', (status) => {
    if (status.server === 'shutdown') shuttingDown = true;
    store.applyStatus(status);
  });

  store.connecting();
  socket.connect();

  return {
    reconnect() {
      if (socket.active) return;
      clearTimeout(retryTimer);
      store.connecting();
      socket.connect();
    },
    close() {
      clearTimeout(retryTimer);
      socket.disconnect();
    },
  };
}
