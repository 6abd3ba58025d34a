import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

const PYTHON = '/usr/bin/python3';
const EXAMPLES = fileURLToPath(new URL('../examples/python/', import.meta.url));
const FEED_TOKEN = 'python-examples-feed-token';

/**
 * Debian's python3 with python-socketio (and the websocket and HTTP clients it connects with),
 * as test/support/system.ts finds commands: missing, it fails under CI=true, else warns and skips.
 */
function requirePythonSocketio(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import socketio, websocket, requests'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const message =
    `python examples: ${PYTHON} cannot import socketio, websocket and requests (Debian packages ` +
    '`python3-socketio python3-websocket python3-requests`; .ci/run installs them)';
  if (process.env.CI === 'true') throw new Error(`${message}: CI=true, so this fails instead of skipping`);
  console.warn(`\n!!! SKIPPING ${message}\n`);
  return false;
}

const HAVE_PYTHON = requirePythonSocketio();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts an example; `done` resolves when it exits. */
function example(script: string, args: string[], env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(PYTHON, [`${EXAMPLES}${script}`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.once('exit', (code) => resolve({ ...run, code })));
  return { child, run, done };
}

describe.skipIf(!HAVE_PYTHON)('the Python examples (python-socketio) against a real gateway', () => {
  let gw: RunningGateway;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The embedded simulator nearly silent (one tick per 100 s): the quotes are the published ones.
    gw = await startGateway({ FEED: 'both', FEED_TOKEN, FEED_RATE: '0.01' });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await gw?.stop();
  });

  it('publish.py feeds ticks and trades with acks; watch.py prints every published price and trade', async () => {
    const watch = example('watch.py', [gw.url, 'AAPL', 'MSFT', '--seconds', '6', '--throttle', '100']);
    children.push(watch.child);
    expect(await until(() => /^subscribed AAPL,MSFT at 100 ms/m.test(watch.run.stderr), 15_000), watch.run.stderr).toBe(
      true,
    );

    const publish = example('publish.py', [gw.url, 'AAPL=123.45', 'MSFT=234.5', '--batches', '6', '--trades'], {
      FEED_TOKEN,
    });
    children.push(publish.child);
    const published = await publish.done;
    expect(published.code, published.stderr).toBe(0);
    const acks = published.stdout.match(/^ack (ticks|trades) #\d+: accepted 2, rejected 0$/gm) ?? [];
    expect(acks).toHaveLength(12);
    const ticks = [...published.stdout.matchAll(/^tick (\S+) last=(\S+)$/gm)].map(([, s, p]) => `${s} last=${p}`);
    const trades = [...published.stdout.matchAll(/^trade (\S+ \S+ \S+ @ \S+)$/gm)].map(([, t]) => t!);
    expect(ticks).toHaveLength(12);
    expect(trades).toHaveLength(12);

    const watched = await watch.done;
    expect(watched.code, watched.stderr).toBe(0);
    const quotes = watched.stdout.match(/^quote \S+ last=\S+/gm)?.map((q) => q.slice('quote '.length)) ?? [];
    const tape = watched.stdout.match(/^trade \S+ \S+ \S+ @ \S+/gm)?.map((t) => t.slice('trade '.length)) ?? [];
    // One batch per 250 ms, one quote per symbol per 100 ms: every published price shows.
    for (const tick of ticks) expect(quotes).toContain(tick);
    for (const trade of trades) expect(tape).toContain(trade);
    expect(watched.stdout).toMatch(/^quote AAPL last=\S+ bid=\S+ ask=\S+ chg=[+-]\d+\.\d\d% seq=\d+ conflated=\d+$/m);
  });

  it('publish.py exits non-zero on a refused batch and on a wrong token; watch.py on a refused subscribe', async () => {
    const refusedBatch = await example('publish.py', [gw.url, 'NOPE=1'], { FEED_TOKEN }).done;
    expect(refusedBatch.code).toBe(2);
    expect(refusedBatch.stdout).toMatch(/^ack ticks #1: accepted 0, rejected 1; \[0\] UNKNOWN_SYMBOL: /m);
    const wrongToken = await example('publish.py', [gw.url, 'AAPL=1', '--token', 'not-the-feed-token']).done;
    expect(wrongToken.code).toBe(2);
    expect(wrongToken.stderr).toMatch(/cannot connect to .*\/feed: UNAUTHORIZED/);
    const unknown = await example('watch.py', [gw.url, 'NOPE', '--seconds', '1']).done;
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/subscribe refused: UNKNOWN_SYMBOL/);
    const usage = await example('watch.py', []).done;
    expect(usage.code).toBe(1);
  });
});
