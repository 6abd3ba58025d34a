import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  FEED_NAMESPACE,
  type ClientToServerEvents,
  type FeedClientToServerEvents,
  type ServerToClientEvents,
} from '@tickdeck/protocol';
import { io, type Socket } from 'socket.io-client';

const MAIN = fileURLToPath(new URL('../../backend/dist/main.js', import.meta.url));
/** The dashboard build with the page's test hook (`vite build --mode e2e`), which the browser tests read. */
export const E2E_DASHBOARD_DIR = fileURLToPath(new URL('../../frontend/dist-e2e', import.meta.url));

export interface RunningGateway {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the real gateway (`node backend/dist/main.js`) on a free loopback port and resolves
 * once it prints its `listening on` line.
 */
export async function startGateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  const child = spawn(process.execPath, [MAIN], {
    // No history store unless a test asks for one: gateways must not share or leave a DATA_DIR.
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DASHBOARD_DIR: E2E_DASHBOARD_DIR,
      HISTORY_STORE: 'memory',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s:\n${out}`)), 20_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on https?:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${out}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export type MarketClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A real socket.io-client on `/market`, connected. */
export async function connectViewer(url: string): Promise<MarketClient> {
  const socket: MarketClient = io(`${url}/market`, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

export type FeedClient = Socket<Record<string, never>, FeedClientToServerEvents>;

/** A real socket.io-client on `/feed` with `token` (none: no auth), connected; rejects when refused. */
export function connectPublisher(url: string, token?: string): Promise<FeedClient> {
  const socket: FeedClient = io(`${url}${FEED_NAMESPACE}`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
}

/**
 * Waits `ms`. Only for "nothing (more) arrives within `ms`" and for pacing what a test sends;
 * to wait for something to happen, use `until` (./until.ts).
 */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
