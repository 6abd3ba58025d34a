import { spawnSync, type ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Quote, Snapshot, Status, SubscribeAck } from '@tickdeck/protocol';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getJson, startNginx, startRedis, stopProcess, type Nginx, type RedisServer } from './support/cluster.js';
import { onFrame } from './support/frame.js';
import { startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { startSim, type SimProcess } from './support/sim.js';
import { requireSystemCommand } from './support/system.js';
import { until } from './support/until.js';

const REDIS = requireSystemCommand('redis-server', 'redis-server', 'cluster');
const NGINX = requireSystemCommand('nginx', 'nginx', 'cluster');
const COMPOSE = requireSystemCommand('docker-compose', 'docker-compose', 'cluster (compose file)');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'cluster-test-token-0123';

interface Health {
  feed: { ticks: number; trades: number };
  cluster: {
    node: string;
    redis: 'connecting' | 'ok' | 'degraded';
    ownsFeed: boolean;
    nodes: number;
    viewers: { node: number; cluster: number };
    bus: { published: number; received: number; appliedLocally: number; syncsSent: number; syncsAdopted: number };
  };
}

const health = (url: string, from?: string) => getJson<Health>(`${url}/api/health`, from);
const snapshots = (url: string) => getJson<Snapshot[]>(`${url}/api/snapshot`);

/** A `/market` viewer that records what a user of it would notice. */
interface Viewer {
  socket: MarketClient;
  symbols: string[];
  quotes: (Quote & { at: number })[];
  statuses: Status[];
  /** `connect` events (1 = never reconnected). */
  connects: number;
  /** Subscribe acks, one per (re)connection. */
  acks: SubscribeAck[];
  /** Every way the stream broke its promises: a seq not above the last, a foreign symbol. */
  violations: string[];
  connectErrors: string[];
}

const viewers: Viewer[] = [];
const children = new Set<ChildProcess>();

interface ViewerOptions {
  /** Source address (any 127.x.y.z): nginx hashes it to pick the gateway. */
  from?: string;
  transports?: ('websocket' | 'polling')[];
  reconnection?: boolean;
  throttleMs?: number;
}

/** Connects, subscribes on every (re)connection, and checks seq per symbol as quotes arrive. */
async function viewer(url: string, symbols: string[], o: ViewerOptions = {}): Promise<Viewer> {
  const socket: MarketClient = io(`${url}/market`, {
    transports: o.transports ?? ['websocket'],
    forceNew: true,
    reconnection: o.reconnection ?? false,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
    timeout: 5000,
    ...(o.from ? { localAddress: o.from, agent: new Agent({ localAddress: o.from }) as unknown as string } : {}),
  });
  const v: Viewer = {
    socket,
    symbols,
    quotes: [],
    statuses: [],
    connects: 0,
    acks: [],
    violations: [],
    connectErrors: [],
  };
  viewers.push(v);
  const last = new Map<string, number>();
  onFrame(socket, {
    quotes: (quotes, at) => {
      for (const q of quotes) {
        if (!symbols.includes(q.symbol)) v.violations.push(`quote for ${q.symbol}, not subscribed`);
        const prev = last.get(q.symbol) ?? -1;
        if (!(q.seq > prev)) v.violations.push(`${q.symbol} seq ${q.seq} after ${prev}`);
        last.set(q.symbol, q.seq);
        v.quotes.push({ ...q, at });
      }
    },
  });
  socket.on('status', (s) => v.statuses.push(s));
  socket.on('connect_error', (err) => v.connectErrors.push(err.message));
  const subscribed = new Promise<void>((resolve, reject) => {
    socket.on('connect', () => {
      v.connects++;
      socket
        .timeout(5000)
        .emitWithAck('subscribe', { symbols, throttleMs: o.throttleMs ?? 250 })
        .then((ack) => {
          v.acks.push(ack);
          if (!ack.ok) return reject(new Error(`subscribe refused: ${JSON.stringify(ack.error)}`));
          for (const s of ack.snapshots) {
            const prev = last.get(s.symbol) ?? -1;
            if (s.seq < prev) v.violations.push(`${s.symbol} snapshot seq ${s.seq} below ${prev}`);
            last.set(s.symbol, s.seq);
          }
          resolve();
        }, reject);
    });
    if (!(o.reconnection ?? false)) socket.once('connect_error', reject);
  });
  await subscribed;
  return v;
}

/** `tickdeck-sim run` against `url` with `args`. */
const sim = (url: string, args: string[]): SimProcess =>
  startSim(['run', '--url', url, '--token', TOKEN, ...args], children);

const hostPort = (gw: RunningGateway) => `127.0.0.1:${gw.port}`;
/** Quotes of `v` received after `t` (epoch ms). */
const since = (v: Viewer, t: number) => v.quotes.filter((q) => q.at > t);

function comparable(snaps: Snapshot[]): Snapshot[] {
  return [...snaps].sort((x, y) => x.symbol.localeCompare(y.symbol));
}

describe.skipIf(!REDIS || !NGINX)('cluster: two gateways over Redis behind nginx', () => {
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;
  let nginx: Nginx;
  const gateways: RunningGateway[] = [];

  let rejoin: { port: number; survivor: RunningGateway } | undefined;

  const startGatewayOn = async (port = 0) => {
    const gw = await startGateway({
      PORT: String(port),
      REDIS_URL: redis.url,
      FEED: 'external',
      FEED_TOKEN: TOKEN,
      TRUST_PROXY: 'true',
      LOG_LEVEL: 'warn',
    });
    gateways.push(gw);
    return gw;
  };
  const gateway = () => startGatewayOn();

  beforeAll(async () => {
    redis = await startRedis(REDIS!);
    [a, b] = await Promise.all([gateway(), gateway()]);
    nginx = await startNginx(NGINX!, [hostPort(a), hostPort(b)]);
    // Both on the bus, and each heard the other's heartbeat.
    const ready = await until(async () => {
      const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
      return ha.cluster.redis === 'ok' && hb.cluster.redis === 'ok' && ha.cluster.nodes === 2 && hb.cluster.nodes === 2;
    }, 10_000);
    expect(ready, `cluster did not form:\n${a.output()}\n${b.output()}`).toBe(true);
  });

  afterEach(() => {
    for (const v of viewers.splice(0)) v.socket.disconnect();
    for (const c of children) c.kill('SIGKILL');
  });

  afterAll(async () => {
    for (const v of viewers.splice(0)) v.socket.disconnect();
    for (const c of children) c.kill('SIGKILL');
    await Promise.all([...gateways.map((g) => g.stop()), nginx?.stop(), redis?.stop()]);
  });

  it('a feed pushed into node A reaches viewers on node B, once, in order; both nodes’ snapshots agree', async () => {
    const onB = await viewer(b.url, ['AAPL', 'MSFT']);
    const onA = await viewer(a.url, ['BTC-USD']);
    const run = await sim(a.url, ['--rate', '1000', '--duration', '3s', '--seed', '42']).done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/rejected 0/);
    // B has applied all A did within 500 ms of the run's end. Its viewer's quotes are complete
    // then, or as soon as the last ones carry the final state: no tick is left to send after it.
    let snapA: Snapshot[] = [];
    let snapB: Snapshot[] = [];
    const agreed = async () => {
      [snapA, snapB] = await Promise.all([snapshots(a.url), snapshots(b.url)]);
      const [x, y] = await Promise.all([health(a.url), health(b.url)]);
      return (
        JSON.stringify(comparable(snapA)) === JSON.stringify(comparable(snapB)) &&
        x.feed.ticks === y.feed.ticks &&
        x.cluster.bus.received === y.cluster.bus.received
      );
    };
    const final = (symbol: string) => snapB.find((s) => s.symbol === symbol)!.seq;
    const lastSeq = (symbol: string) => onB.quotes.findLast((q) => q.symbol === symbol)?.seq;
    const sentAll = () => ['AAPL', 'MSFT'].every((symbol) => lastSeq(symbol) === final(symbol));
    if (!(await until(async () => (await agreed()) && sentAll(), 500))) {
      expect(await agreed(), 'B caught up with A within 500 ms of the run').toBe(true);
    }
    expect(comparable(snapB)).toEqual(comparable(snapA));
    const seqB = new Map(snapB.map((s) => [s.symbol, s.seq]));
    for (const symbol of ['AAPL', 'MSFT']) {
      expect(seqB.get(symbol)).toBeGreaterThan(20);
      const got = onB.quotes.filter((q) => q.symbol === symbol);
      // 3 s at the 250 ms tier: about 12 quotes; one per flush at most, so never above 3.5 s worth.
      expect(got.length).toBeGreaterThan(6);
      expect(got.length).toBeLessThanOrEqual(14);
      // ~50 ticks/s per symbol: the last quote is at most a flush or two behind the final state.
      expect(got.at(-1)!.seq).toBeGreaterThan(seqB.get(symbol)! - 30);
    }
    expect(onB.violations).toEqual([]);
    expect(new Set(onB.quotes.map((q) => q.symbol))).toEqual(new Set(['AAPL', 'MSFT']));
    expect(onA.violations).toEqual([]);
    expect(onA.quotes.length).toBeGreaterThan(6);

    const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
    // A published what it received; B only applied what came over the bus; both applied all of it.
    expect(ha.cluster.bus.published).toBeGreaterThan(0);
    expect(hb.cluster.bus.published).toBe(0);
    expect(hb.cluster.bus.received).toBe(ha.cluster.bus.received);
    expect(hb.feed.ticks).toBe(ha.feed.ticks);
    expect(ha.cluster.ownsFeed).toBe(true);
    expect(hb.cluster.ownsFeed).toBe(false);
    // Viewer counts cross nodes through the Socket.IO Redis adapter's serverSideEmit.
    expect(ha.cluster.viewers.node).toBe(1);
    expect(hb.cluster.viewers.node).toBe(1);
    expect(ha.cluster.viewers.cluster).toBe(2);
    expect(hb.cluster.viewers.cluster).toBe(2);
  });

  it('through nginx, long-polling only: 200 connect/subscribe cycles from 20 addresses, no handshake error, both nodes used', async () => {
    const addresses = Array.from({ length: 20 }, (_, k) => `127.0.0.${k + 2}`);
    const errors: string[] = [];
    let subscribed = 0;
    const usedNodes = new Set<string>();
    for (let wave = 0; wave < 10; wave++) {
      const wave_ = await Promise.allSettled(
        addresses.map((from) => viewer(nginx.url, ['AAPL'], { from, transports: ['polling'] })),
      );
      for (const r of wave_) {
        if (r.status === 'rejected') errors.push(String((r.reason as Error).message ?? r.reason));
        else {
          subscribed++;
          errors.push(...r.value.connectErrors, ...r.value.violations);
        }
      }
      if (wave === 0) {
        // A round trip more on every session, so each has polled through nginx at least twice.
        const pings = await Promise.allSettled(viewers.map((v) => v.socket.timeout(5000).emitWithAck('ping')));
        errors.push(...pings.filter((p) => p.status === 'rejected').map((p) => `ping: ${String(p.reason)}`));
        const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
        if (ha.cluster.viewers.node > 0) usedNodes.add('a');
        if (hb.cluster.viewers.node > 0) usedNodes.add('b');
        expect(ha.cluster.viewers.node + hb.cluster.viewers.node).toBe(20);
      }
      for (const v of viewers.splice(0)) v.socket.disconnect();
    }
    expect(errors).toEqual([]);
    expect(subscribed).toBe(200);
    expect([...usedNodes].sort()).toEqual(['a', 'b']);
    expect(nginx.output()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  });

  it('Redis stops while the feed runs: no crash, viewers told `degraded`, node A keeps its feed; after Redis returns both nodes agree within 1 s', async () => {
    const feed = sim(a.url, ['--rate', '500', '--seed', '7']);
    const onA = await viewer(a.url, ['AAPL', 'MSFT']);
    const onB = await viewer(b.url, ['AAPL', 'MSFT']);
    expect(await until(() => onB.quotes.length > 5 && onA.quotes.length > 5, 5000)).toBe(true);

    redis.child.kill('SIGKILL');
    await stopProcess(redis.child);
    const lostAt = Date.now();
    const degraded = (v: Viewer) => v.statuses.some((s) => s.cluster === 'degraded');
    expect(await until(() => degraded(onA) && degraded(onB), 5000)).toBe(true);
    const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
    expect(ha.cluster.redis).toBe('degraded');
    expect(hb.cluster.redis).toBe('degraded');
    // The node with the feed keeps serving it to its own viewers; the other one falls behind.
    let behindA: Snapshot[] = [];
    let behindB: Snapshot[] = [];
    const apart = async () => {
      [behindA, behindB] = await Promise.all([snapshots(a.url), snapshots(b.url)]);
      return (
        since(onA, lostAt + 500).length > 2 &&
        JSON.stringify(comparable(behindA)) !== JSON.stringify(comparable(behindB))
      );
    };
    expect(await until(apart, 2000), 'A fed on and B fell behind within 2 s').toBe(true);
    expect(since(onA, lostAt + 500).length).toBeGreaterThan(2);
    expect(comparable(behindB)).not.toEqual(comparable(behindA));

    redis = await redis.restart();
    const okBoth = async () => {
      const [x, y] = await Promise.all([health(a.url), health(b.url)]);
      return x.cluster.redis === 'ok' && y.cluster.redis === 'ok';
    };
    expect(await until(okBoth, 5000)).toBe(true);
    const backAt = Date.now();
    // Freeze the publisher, so the two snapshots can be compared field by field.
    feed.child.kill('SIGSTOP');
    let agreedAt = 0;
    const agree = await until(async () => {
      const [x, y] = await Promise.all([snapshots(a.url), snapshots(b.url)]);
      const [hx, hy] = await Promise.all([health(a.url), health(b.url)]);
      const same = JSON.stringify(comparable(x)) === JSON.stringify(comparable(y)) && hx.feed.ticks === hy.feed.ticks;
      if (same) agreedAt = Date.now();
      return same;
    }, 1000);
    expect(agree, 'snapshots of A and B still differ 1 s after Redis is back').toBe(true);
    expect(agreedAt - backAt).toBeLessThanOrEqual(1000);

    // B's viewers were told, and got the adopted state as fresh quotes; nobody saw seq go back.
    expect(onB.statuses.findLast((s) => s.cluster !== undefined)).toEqual({ cluster: 'ok' });
    const final = new Map((await snapshots(b.url)).map((s) => [s.symbol, s.seq]));
    expect(
      await until(
        () => ['AAPL', 'MSFT'].every((s) => onB.quotes.findLast((q) => q.symbol === s)?.seq === final.get(s)),
        1000,
      ),
    ).toBe(true);
    expect(onA.violations).toEqual([]);
    expect(onB.violations).toEqual([]);

    // The feed continues over the bus.
    feed.child.kill('SIGCONT');
    const ticks = (await health(b.url)).feed.ticks;
    expect(await until(async () => (await health(b.url)).feed.ticks > ticks + 100, 5000)).toBe(true);
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
    expect(a.output() + b.output()).not.toMatch(/Unhandled|unhandled 'error'|ERROR \[/);
  });

  it('kill -9 of the node behind nginx: its viewers and the simulator fail over to the other node and carry on', async () => {
    const [ha, hb] = await Promise.all([health(a.url), health(b.url)]);
    // nginx hashes the client address: find the node 127.0.0.1 (the simulator, the victims) lands on,
    // and an address that lands on the other one (a bystander that must not notice anything).
    const nodeOf = async (from: string) => (await health(nginx.url, from)).cluster.node;
    const victimNode = await nodeOf('127.0.0.1');
    const [victim, survivor] = victimNode === ha.cluster.node ? [a, b] : [b, a];
    expect([ha.cluster.node, hb.cluster.node]).toContain(victimNode);
    let bystanderFrom: string | undefined;
    for (let k = 2; k < 60 && !bystanderFrom; k++) {
      if ((await nodeOf(`127.0.0.${k}`)) !== victimNode) bystanderFrom = `127.0.0.${k}`;
    }
    expect(bystanderFrom).toBeDefined();

    const feed = sim(nginx.url, ['--rate', '500', '--seed', '9']);
    const victims = await Promise.all([
      viewer(nginx.url, ['AAPL', 'MSFT'], { reconnection: true }),
      viewer(nginx.url, ['BTC-USD'], { reconnection: true }),
      viewer(nginx.url, ['AAPL'], { reconnection: true, transports: ['polling'] }),
    ]);
    const bystander = await viewer(nginx.url, ['AAPL'], { reconnection: true, from: bystanderFrom });
    const all = [...victims, bystander];
    expect(await until(() => all.every((v) => v.quotes.length > 3), 8000)).toBe(true);
    expect((await health(victim.url)).cluster.ownsFeed).toBe(true);

    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.stop();
    // Back within a few seconds, through nginx, on the survivor; subscribed again and fed again.
    const back = await until(
      () => victims.every((v) => v.connects >= 2 && v.acks.length >= 2 && since(v, killedAt).length > 0),
      8000,
    );
    expect(back, victims.map((v) => `${v.connects} connects, ${v.connectErrors.join('; ')}`).join('\n')).toBe(true);
    expect(Date.now() - killedAt).toBeLessThan(8000);
    expect((await health(survivor.url)).cluster.viewers.node).toBe(4);
    // The dead node's heartbeat times out: the survivor counts itself alone.
    expect(await until(async () => (await health(survivor.url)).cluster.nodes === 1, 5000)).toBe(true);
    // The simulator reconnected through nginx to the survivor, which now owns the feed.
    expect(await until(async () => (await health(survivor.url)).cluster.ownsFeed, 8000)).toBe(true);
    const ticks = (await health(survivor.url)).feed.ticks;
    expect(await until(async () => (await health(survivor.url)).feed.ticks > ticks + 200, 5000)).toBe(true);
    const latest = Date.now();
    // Everyone, the bystander included, is fed on from the survivor; the bystander never noticed.
    expect(await until(() => all.every((v) => since(v, latest).length > 2), 3000)).toBe(true);
    expect(bystander.connects).toBe(1);
    for (const v of all) expect(v.violations).toEqual([]);

    feed.child.kill('SIGINT');
    const result = await feed.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/reconnects [1-9]/);
    rejoin = { port: victim.port, survivor };
  });

  it('a gateway started into the running cluster adopts its state at once, though the feed is idle', async () => {
    expect(rejoin).toBeDefined();
    const { port, survivor } = rejoin!;
    const before = comparable(await snapshots(survivor.url));
    expect(before.find((s) => s.symbol === 'AAPL')!.seq).toBeGreaterThan(0);
    const started = Date.now();
    // Same port, so nginx has its upstream back.
    const fresh = await startGatewayOn(port);
    expect(await until(async () => (await health(fresh.url)).cluster.redis === 'ok', 5000)).toBe(true);
    expect(
      await until(async () => JSON.stringify(comparable(await snapshots(fresh.url))) === JSON.stringify(before), 2000),
    ).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await health(fresh.url)).cluster.bus.syncsAdopted).toBeGreaterThan(0);
  });
});

describe.skipIf(!COMPOSE)('docker-compose.yml', () => {
  it('is valid (`docker-compose config -q`) and has the cluster’s services', () => {
    const check = spawnSync(COMPOSE!, ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const services = spawnSync(
      COMPOSE!,
      ['-f', 'docker-compose.yml', '--profile', 'simulator', 'config', '--services'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(services.status).toBe(0);
    expect(services.stdout.trim().split('\n').sort()).toEqual([
      'gateway-a',
      'gateway-b',
      'nginx',
      'postgres',
      'redis',
      'simulator',
    ]);
  });
});
