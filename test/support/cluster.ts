import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';

/** The nginx include the cluster is deployed with (docker-compose.yml renders the same file). */
export const NGINX_TEMPLATE = fileURLToPath(
  new URL('../../deploy/nginx/templates/tickdeck.conf.template', import.meta.url),
);

/** A port nobody listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now. */
function listening(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  if (!(await until(() => listening(port), ms))) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

/** GET `url` as JSON, from `localAddress` (any 127.x.y.z on Linux) when given. */
export function getJson<T>(url: string, localAddress?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 200)}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.once('error', reject);
    req.end();
  });
}

interface Proc {
  child: ChildProcess;
  output(): string;
}

function run(bin: string, args: string[], cwd?: string): Proc {
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Kills `child` (SIGTERM, SIGKILL after 3 s) and waits for it. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
  child.kill('SIGTERM');
  await exited(child);
  clearTimeout(kill);
}

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  output(): string;
  /** Starts a new redis-server on the same port (after this one was stopped). */
  restart(): Promise<RedisServer>;
  stop(): Promise<void>;
}

/** A throwaway redis-server on 127.0.0.1 (free port unless given), no persistence. */
export async function startRedis(bin: string, port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const proc = run(bin, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const ready = await until(() => /Ready to accept connections/.test(proc.output()), 10_000);
  if (!ready) {
    proc.child.kill('SIGKILL');
    throw new Error(`redis-server did not start on ${p}:\n${proc.output()}`);
  }
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    child: proc.child,
    output: proc.output,
    restart: () => startRedis(bin, p),
    stop: () => stopProcess(proc.child),
  };
}

/** Replaces `${NAME}` for each given name; refuses to leave a `${TICKDECK_...}` unreplaced. */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  const out = text.replace(/\$\{([A-Z0-9_]+)\}/g, (m, name: string) => vars[name] ?? m);
  const left = /\$\{TICKDECK_[A-Z0-9_]+\}/.exec(out);
  if (left) throw new Error(`template variable ${left[0]} has no value`);
  return out;
}

export interface Nginx {
  port: number;
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * nginx in the foreground with the repository's template in front of two gateways (host:port),
 * everything it writes (pid, logs, temp files) under a temporary prefix.
 */
export async function startNginx(bin: string, gateways: [string, string]): Promise<Nginx> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'tickdeck-nginx-'));
  mkdirSync(join(prefix, 'logs'));
  const include = renderTemplate(readFileSync(NGINX_TEMPLATE, 'utf8'), {
    TICKDECK_LISTEN: `127.0.0.1:${port}`,
    TICKDECK_GATEWAY_A: gateways[0],
    TICKDECK_GATEWAY_B: gateways[1],
  });
  writeFileSync(join(prefix, 'tickdeck.conf'), include);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];
  const main = [
    'daemon off;',
    'worker_processes 1;',
    // As root, workers would run as `nobody` and could not use the temp dirs under the prefix.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '    access_log off;',
    ...temp.map((t) => `    ${t}_temp_path ${prefix}/${t}_temp;`),
    `    include ${prefix}/tickdeck.conf;`,
    '}',
    '',
  ].join('\n');
  writeFileSync(join(prefix, 'nginx.conf'), main);
  const proc = run(bin, ['-e', join(prefix, 'logs/error.log'), '-p', prefix, '-c', join(prefix, 'nginx.conf')]);
  try {
    await Promise.race([
      waitForPort(port),
      exited(proc.child).then(() => {
        throw new Error(`nginx exited:\n${proc.output()}\n${readLog(prefix)}`);
      }),
    ]);
  } catch (err) {
    proc.child.kill('SIGKILL');
    rmSync(prefix, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child: proc.child,
    output: () => `${proc.output()}${readLog(prefix)}`,
    stop: async () => {
      // SIGQUIT would wait for open websockets; the test is done with them.
      await stopProcess(proc.child);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function readLog(prefix: string): string {
  try {
    return readFileSync(join(prefix, 'logs/error.log'), 'utf8');
  } catch {
    return '';
  }
}
