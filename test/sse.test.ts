import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import {
  ErrorCode,
  ViewerFrameSchema,
  type CandleBatch,
  type FeedTick,
  type FeedTrade,
  type Snapshot,
  type TradeBatch,
  type ViewerFrame,
} from '@tickdeck/protocol';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { frameProblem } from './support/frame.js';
import {
  connectPublisher,
  sleep,
  startGateway,
  type FeedClient,
  type MarketClient,
  type RunningGateway,
} from './support/gateway.js';
import { until } from './support/until.js';

const FEED_TOKEN = 'sse-feed-token-1';

/** One event as EventSource dispatches it: `id` is the last event ID in force (it carries over). */
interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  at: number;
}

/** What the `snapshot` event carries: the subscribe ack without `ok`, and the feed's state. */
interface SnapshotData {
  epoch: string;
  throttleMs: number;
  feed: string;
  snapshots: Snapshot[];
  trades: TradeBatch[];
  gaps: string[];
  candles?: CandleBatch[];
}

/**
 * A real HTTP client reading `text/event-stream` the way EventSource parses it (fields, comments,
 * the last event ID), over node:http with one connection of its own.
 */
class SseClient {
  readonly events: SseEvent[] = [];
  /** Comment lines received (`: ping`). */
  pings = 0;
  endedAt: number | null = null;
  lastEventId: string | undefined;
  private buffer = '';
  private pending: { event: string; data: string[] } = { event: '', data: [] };

  private constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
    /** The body of a refusal (any status but 200), read whole. */
    readonly body: string,
  ) {}

  /** Opens `url`; resolves with a stream on 200, or with the whole refusal otherwise. */
  static open(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method, headers, agent: false }, (res) => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(new SseClient(req, res, body)));
          return;
        }
        const client = new SseClient(req, res, '');
        res.on('data', (chunk: string) => client.read(chunk));
        res.on('end', () => (client.endedAt = Date.now()));
        res.on('error', () => (client.endedAt ??= Date.now()));
        resolve(client);
      });
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.res.headers;
  }

  /** The refusal's `{error}`. */
  error(): { code: string; message: string; [k: string]: unknown } {
    return (JSON.parse(this.body) as { error: { code: string; message: string } }).error;
  }

  named(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  snapshot(): SnapshotData {
    const first = this.named('snapshot')[0];
    if (!first) throw new Error('no snapshot yet');
    return JSON.parse(first.data) as SnapshotData;
  }

  frames(): ViewerFrame[] {
    return this.named('frame').map((e) => JSON.parse(e.data) as ViewerFrame);
  }

  /** Stops reading: what the gateway writes piles up in the kernel, then in the gateway. */
  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  close(): void {
    this.req.destroy();
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const { event, data } = this.pending;
      this.pending = { event: '', data: [] };
      if (data.length > 0)
        this.events.push({ event: event || 'message', data: data.join('\n'), id: this.lastEventId, at: Date.now() });
      return;
    }
    if (line.startsWith(':')) {
      this.pings++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.pending.event = value;
    else if (field === 'data') this.pending.data.push(value);
    else if (field === 'id') this.lastEventId = value;
  }
}

/** `<epoch>:<SYMBOL>=<seq>,...` as a map. */
function idSeqs(id: string | undefined): Map<string, number> {
  const body = id!.slice(id!.lastIndexOf(':') + 1);
  return new Map(body.split(',').map((p) => [p.split('=')[0]!, Number(p.split('=')[1])]));
}

/** The trade seqs of `frames` per symbol, in the order they came. */
function tapes(batches: readonly TradeBatch[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const b of batches) out.set(b.symbol, [...(out.get(b.symbol) ?? []), ...b.trades.map((t) => t.seq)]);
  return out;
}

async function restSnapshots(gw: RunningGateway, symbols: readonly string[]): Promise<Map<string, Snapshot>> {
  const res = await fetch(`${gw.url}/api/snapshot?symbols=${symbols.join(',')}`);
  return new Map(((await res.json()) as Snapshot[]).map((s) => [s.symbol, s]));
}

async function metric(gw: RunningGateway, name: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}."]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** A `/feed` publisher's helpers: ticks and trades with a feed clock that never goes back. */
function feed(pub: FeedClient) {
  let price = 100;
  const ts = () => Date.now();
  return {
    async ticks(symbols: readonly string[]): Promise<void> {
      price += 0.01;
      const batch: FeedTick[] = symbols.map((symbol) => ({
        symbol,
        ts: ts(),
        last: price,
        bid: price - 0.01,
        ask: price + 0.01,
        volume: 1,
      }));
      const ack = await pub.emitWithAck('ticks', batch);
      expect(ack.accepted).toBe(batch.length);
    },
    async trades(symbol: string, n: number): Promise<void> {
      const batch: FeedTrade[] = Array.from({ length: n }, (_, k) => ({
        symbol,
        ts: ts(),
        price: 100 + k / 100,
        size: 1,
        side: 'buy',
      }));
      const ack = await pub.emitWithAck('trades', batch);
      expect(ack.accepted).toBe(n);
    },
  };
}

describe('SSE: GET /api/stream carries the socket’s frames', () => {
  let gw: RunningGateway;
  let pub: FeedClient;
  let push: ReturnType<typeof feed>;
  const clients: SseClient[] = [];
  const open = async (query: string, headers: Record<string, string> = {}) => {
    const c = await SseClient.open(`${gw.url}/api/stream?${query}`, headers);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    gw = await startGateway({ FEED: 'external', FEED_TOKEN, SSE_HEARTBEAT_MS: '300', TRADE_HISTORY: '50' });
    pub = await connectPublisher(gw.url, FEED_TOKEN);
    push = feed(pub);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    pub?.disconnect();
    await gw?.stop();
  });

  it('streams only the asked symbols: a snapshot, then frames under the socket’s seq rules, and heartbeats', async () => {
    const asked = ['AAPL', 'MSFT'];
    // The feed moves while the stream opens, so its first flush would repeat the snapshot: the
    // subscribe's catch-up path, as a socket's.
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        await push.ticks(['AAPL', 'MSFT', 'NVDA']);
        await push.trades('AAPL', 2);
        await push.trades('MSFT', 1);
        await push.trades('NVDA', 1);
        await sleep(15);
      }
    })();
    await sleep(200);
    const sse = await open('symbols=aapl,MSFT&throttleMs=100', { 'Accept-Encoding': 'gzip, br' });
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(sse.headers['cache-control']).toBe('no-cache, no-transform');
    expect(sse.headers['x-accel-buffering']).toBe('no');
    expect(sse.headers['content-encoding']).toBeUndefined();
    expect(await until(() => sse.named('frame').length >= 15, 5000), 'frames within 5 s').toBe(true);
    pumping = false;
    await pump;
    const rest = await restSnapshots(gw, asked);
    // Caught up: the last id names each symbol's last trade, the last quotes the last ticks.
    const caughtUp = () =>
      asked.every((s) => {
        const quote = sse
          .frames()
          .findLast((f) => f.quotes?.some((q) => q.symbol === s))
          ?.quotes?.find((q) => q.symbol === s);
        return idSeqs(sse.lastEventId).get(s) === rest.get(s)!.tradeSeq && quote?.seq === rest.get(s)!.seq;
      });
    expect(await until(caughtUp, 3000), 'caught up with REST').toBe(true);
    expect(sse.pings, 'heartbeats at SSE_HEARTBEAT_MS=300').toBeGreaterThanOrEqual(2);

    const [first] = sse.events;
    expect(first!.event).toBe('snapshot');
    const snap = sse.snapshot();
    expect(snap).toMatchObject({ throttleMs: 100, feed: 'live', trades: [], gaps: [] });
    expect(snap.snapshots.map((s) => s.symbol)).toEqual(asked);
    expect(snap.snapshots.every((s) => s.epoch === snap.epoch)).toBe(true);
    expect(first!.id).toBe(`${snap.epoch}:${snap.snapshots.map((s) => `${s.symbol}=${s.tradeSeq}`).join(',')}`);

    const mine = new Set(asked);
    const frames = sse.frames();
    for (const frame of frames) {
      expect(frameProblem(frame, mine)).toBeUndefined();
      expect(ViewerFrameSchema.parse(frame)).toEqual(frame);
    }
    for (const s of snap.snapshots) {
      // Every quote newer than the snapshot, seqs strictly rising, `conflated` the ticks between.
      const quotes = frames.flatMap((f) => f.quotes ?? []).filter((q) => q.symbol === s.symbol);
      expect(quotes.length).toBeGreaterThan(3);
      let prev = s.seq;
      for (const q of quotes) {
        expect(q.seq, s.symbol).toBeGreaterThan(prev);
        expect(q.conflated).toBe(q.seq - prev);
        prev = q.seq;
      }
      // Every trade after the snapshot's tradeSeq, exactly once, in order, up to the last one.
      const seqs = tapes(frames.flatMap((f) => f.trades ?? [])).get(s.symbol) ?? [];
      expect(seqs.length).toBeGreaterThan(5);
      expect(seqs, s.symbol).toEqual(seqs.map((_, k) => s.tradeSeq + 1 + k));
      expect(seqs.at(-1)).toBe(rest.get(s.symbol)!.tradeSeq);
    }
    // Each id names, per symbol, the last trade received up to it: what `Last-Event-ID` resumes from.
    const sent = new Map(snap.snapshots.map((s) => [s.symbol, s.tradeSeq]));
    for (const e of sse.named('frame')) {
      for (const b of (JSON.parse(e.data) as ViewerFrame).trades ?? []) sent.set(b.symbol, b.trades.at(-1)!.seq);
      expect(idSeqs(e.id)).toEqual(sent);
    }
  });

  it('resumes from Last-Event-ID: exactly the trades missed, then the live ones, none twice', async () => {
    const first = await open('symbols=AAPL,MSFT&throttleMs=100');
    await push.trades('AAPL', 3);
    await push.trades('MSFT', 2);
    const rest0 = await restSnapshots(gw, ['AAPL', 'MSFT']);
    expect(await until(() => idSeqs(first.lastEventId).get('AAPL') === rest0.get('AAPL')!.tradeSeq, 2000)).toBe(true);
    const lastId = first.lastEventId!;
    const before = first.snapshot();
    const seen = tapes([...before.trades, ...first.frames().flatMap((f) => f.trades ?? [])]);
    first.close();

    // While away: 5 AAPL trades and 3 MSFT trades, and ticks.
    await push.trades('AAPL', 5);
    await push.ticks(['AAPL', 'MSFT']);
    await push.trades('MSFT', 3);
    const away = await restSnapshots(gw, ['AAPL', 'MSFT']);

    const second = await open('symbols=AAPL,MSFT&throttleMs=100', { 'Last-Event-ID': lastId });
    expect(second.status).toBe(200);
    expect(await until(() => second.named('snapshot').length === 1, 2000)).toBe(true);
    const snap = second.snapshot();
    expect(second.events[0]!.event).toBe('snapshot');
    expect(snap.epoch).toBe(before.epoch);
    expect(snap.gaps).toEqual([]);
    const a = idSeqs(lastId).get('AAPL')!;
    const m = idSeqs(lastId).get('MSFT')!;
    expect(snap.trades.map((b) => [b.symbol, b.trades.map((t) => t.seq)])).toEqual([
      ['AAPL', [a + 1, a + 2, a + 3, a + 4, a + 5]],
      ['MSFT', [m + 1, m + 2, m + 3]],
    ]);
    // The latest quotes: the snapshot is as new as what REST said after the ticks.
    for (const s of snap.snapshots) expect(s.seq).toBeGreaterThanOrEqual(away.get(s.symbol)!.seq);

    await push.trades('AAPL', 2);
    expect(await until(() => idSeqs(second.lastEventId).get('AAPL') === a + 7, 2000)).toBe(true);
    const after = tapes(second.frames().flatMap((f) => f.trades ?? []));
    expect(after.get('AAPL')).toEqual([a + 6, a + 7]);
    expect(after.get('MSFT')).toBeUndefined();
    // The whole AAPL tape across both streams: every trade once, in order.
    const whole = [...seen.get('AAPL')!, ...snap.trades[0]!.trades.map((t) => t.seq), ...after.get('AAPL')!];
    const start = before.snapshots[0]!.tradeSeq;
    expect(whole).toEqual(whole.map((_, k) => start + 1 + k));

    // Away for longer than the trades the gateway keeps (TRADE_HISTORY=50): a gap, as `since` says.
    const third = await open('symbols=AAPL,MSFT&throttleMs=100', { 'Last-Event-ID': second.lastEventId! });
    await until(() => third.named('snapshot').length === 1, 2000);
    third.close();
    const gone = third.lastEventId!;
    await push.trades('AAPL', 60);
    const fourth = await open('symbols=AAPL,MSFT', { 'Last-Event-ID': gone });
    expect(await until(() => fourth.named('snapshot').length === 1, 2000)).toBe(true);
    expect(fourth.snapshot()).toMatchObject({ gaps: ['AAPL'], trades: [] });
  });

  it('says so when Last-Event-ID is of another epoch, then starts afresh', async () => {
    const sse = await open('symbols=AAPL', { 'Last-Event-ID': '000000000000:AAPL=5' });
    expect(await until(() => sse.named('snapshot').length === 1, 2000)).toBe(true);
    const [epoch, snapshot] = sse.events;
    expect(epoch!.event).toBe('epoch');
    const snap = sse.snapshot();
    expect(JSON.parse(epoch!.data)).toMatchObject({ epoch: snap.epoch, previous: '000000000000' });
    expect(snapshot!.event).toBe('snapshot');
    expect(snap).toMatchObject({ trades: [], gaps: [] });
    await push.trades('AAPL', 1);
    expect(await until(() => sse.frames().some((f) => f.trades), 2000)).toBe(true);
    expect(sse.frames().flatMap((f) => f.trades ?? [])[0]!.trades[0]!.seq).toBe(snap.snapshots[0]!.tradeSeq + 1);
  });

  it('streams live candles asked for with candles=, from the snapshot’s open bars', async () => {
    const sse = await open('symbols=AAPL&throttleMs=100&candles=5s,1m');
    expect(await until(() => sse.named('snapshot').length === 1, 2000)).toBe(true);
    expect(sse.snapshot().candles?.map((c) => `${c.symbol}/${c.interval}`)).toEqual(['AAPL/5s', 'AAPL/1m']);
    await push.ticks(['AAPL']);
    expect(await until(() => sse.frames().some((f) => f.candles), 2000)).toBe(true);
    const batch = sse.frames().find((f) => f.candles)!.candles!;
    expect(batch.map((c) => `${c.symbol}/${c.interval}`).sort()).toEqual(['AAPL/1m', 'AAPL/5s']);
  });

  it.each([
    ['symbols=NOPE', {}, 404, ErrorCode.UNKNOWN_SYMBOL],
    ['symbols=AAPL,bad%20one', {}, 400, ErrorCode.BAD_REQUEST],
    ['', {}, 400, ErrorCode.BAD_REQUEST],
    ['symbols=AAPL&throttleMs=7', {}, 400, ErrorCode.BAD_THROTTLE],
    ['symbols=AAPL&throttleMs=fast', {}, 400, ErrorCode.BAD_REQUEST],
    ['symbols=AAPL&candles=2m', {}, 400, ErrorCode.BAD_REQUEST],
    ['symbols=AAPL&since=4', {}, 400, ErrorCode.BAD_REQUEST],
    ['symbols=AAPL&symbols=MSFT', {}, 400, ErrorCode.BAD_REQUEST],
    ['symbols=AAPL', { 'Last-Event-ID': 'not-an-id' }, 400, ErrorCode.BAD_REQUEST],
  ])('refuses %j %j before the stream starts: %i %s', async (query, headers, status, code) => {
    const res = await open(query, headers);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.error()).toMatchObject({ code, message: expect.any(String) });
  });
});

describe('SSE: the socket’s origin, auth and connection rules', () => {
  const TOKEN = 'sse-viewer-token-1';
  const SECRET = 'an-sse-test-secret-of-32-characters!!';
  let gw: RunningGateway;
  const clients: SseClient[] = [];
  const sockets: MarketClient[] = [];
  const open = async (headers: Record<string, string> = {}, query = 'symbols=AAPL') => {
    const c = await SseClient.open(`${gw.url}/api/stream?${query}`, headers);
    clients.push(c);
    return c;
  };
  const bearer = { Authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    gw = await startGateway({
      AUTH_TOKENS: TOKEN,
      AUTH_JWT_SECRET: SECRET,
      MAX_CONNECTIONS_PER_IP: '3',
      FEED_RATE: '400',
    });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of sockets.splice(0)) s.close();
    // The caps count a stream until the gateway sees it close.
    await sleep(100);
  });
  afterAll(() => gw?.stop());

  it('needs Authorization: Bearer like REST, refuses a query-string token, and never logs a token', async () => {
    const tries: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong-token-123' }, { Authorization: TOKEN }];
    for (const headers of tries) {
      const res = await open(headers);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.error()).toMatchObject({
        code: ErrorCode.UNAUTHORIZED,
        message: expect.stringMatching(/Authorization: Bearer/),
      });
    }
    const query = await open(bearer, `symbols=AAPL&token=${TOKEN}`);
    expect(query.status).toBe(401);
    expect(query.error().message).toMatch(/never in the query string/);
    const ok = await open(bearer);
    expect(ok.status).toBe(200);
    expect(await until(() => ok.named('snapshot').length === 1, 2000)).toBe(true);
    expect(gw.output()).toMatch(/refused 127\.0\.0\.1: UNAUTHORIZED: sse: /);
    expect(gw.output()).not.toContain(TOKEN);
    expect(gw.output()).not.toContain('wrong-token-123');
  });

  it('ends the stream with TOKEN_EXPIRED when its JWT expires, as a socket is disconnected', async () => {
    const jwt = await new SignJWT({ sub: 'script' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(new TextEncoder().encode(SECRET));
    const sse = await open({ Authorization: `Bearer ${jwt}` });
    expect(sse.status).toBe(200);
    expect(await until(() => sse.endedAt !== null, 5000), 'ended at expiry').toBe(true);
    const last = sse.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ code: ErrorCode.TOKEN_EXPIRED });
  });

  it('refuses a foreign Origin with 403 FORBIDDEN_ORIGIN, as the socket handshake does', async () => {
    const own = `http://127.0.0.1:${gw.port}`;
    for (const origin of ['http://evil.test', `${own}.evil.test`, 'null']) {
      const res = await open({ ...bearer, Origin: origin });
      expect(res.status, origin).toBe(403);
      expect(res.error(), origin).toMatchObject({ code: ErrorCode.FORBIDDEN_ORIGIN });
      const handshake = await SseClient.open(`${gw.url}/socket.io/?EIO=4&transport=polling`, { Origin: origin });
      expect(handshake.status, `the socket handshake from ${origin}`).toBe(403);
    }
    // Before auth, as on the socket: a foreign page learns nothing about tokens.
    expect((await open({ Origin: 'http://evil.test' })).status).toBe(403);
    const ok = await open({ ...bearer, Origin: own });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(own);
  });

  it('counts streams with sockets against MAX_CONNECTIONS_PER_IP: over it, 429 TOO_MANY_CONNECTIONS', async () => {
    const a = await open(bearer);
    const b = await open(bearer);
    expect([a.status, b.status]).toEqual([200, 200]);
    const socket = io(`${gw.url}/market`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: TOKEN },
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const over = await open(bearer);
    expect(over.status).toBe(429);
    expect(over.error()).toMatchObject({
      code: ErrorCode.TOO_MANY_CONNECTIONS,
      message: expect.stringMatching(/MAX_CONNECTIONS_PER_IP=3/),
    });
    // The socket side sees the same count.
    const handshake = await SseClient.open(`${gw.url}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(403);
    expect(handshake.body).toMatch(/TOO_MANY_CONNECTIONS/);
    // A closed stream frees its slot.
    a.close();
    expect(await until(async () => (await open(bearer)).status === 200, 2000), 'a slot again').toBe(true);
  });
});

describe('SSE: slow readers, the rate rule and shutdown', () => {
  const MAX_BUFFERED_BYTES = 65_536;
  let gw: RunningGateway;
  const clients: SseClient[] = [];
  const open = async (query: string) => {
    const c = await SseClient.open(`${gw.url}/api/stream?${query}`);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // Every tick a trade: ~20,000 trades/s, ~2.5 MB/s of frames to a stream of every symbol.
    gw = await startGateway({
      FEED_RATE: '20000',
      FEED_TRADE_PROBABILITY: '1',
      FEED_SEED: '11',
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      RATE_LIMIT_PER_S: '1',
      RATE_LIMIT_BURST: '3',
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
  });

  it('cuts a stream that stops reading with a final SLOW_CONSUMER event, bounding the gateway’s memory', async () => {
    const all = ((await (await fetch(`${gw.url}/api/symbols`)).json()) as { symbol: string }[]).map((s) => s.symbol);
    const normal = await open('symbols=AAPL&throttleMs=100');
    expect(await until(() => normal.frames().length > 3, 2000)).toBe(true);
    const rssBefore = await metric(gw, 'process_resident_memory_bytes');

    const slow = await open(`symbols=${all.join(',')}&throttleMs=100`);
    expect(slow.status).toBe(200);
    slow.pause();
    const cut = /refused 127\.0\.0\.1: SLOW_CONSUMER: sse stream: (\d+) bytes queued \(MAX_BUFFERED_BYTES=65536\)/;
    // The kernel's buffers (a few MB) fill first.
    expect(await until(() => cut.test(gw.output()), 20_000), 'cut within 20 s').toBe(true);
    const queued = Number(cut.exec(gw.output())![1]);
    expect(queued).toBeGreaterThan(MAX_BUFFERED_BYTES);
    // Caught at the write that went over: at most one flush of every symbol's trades more.
    expect(queued).toBeLessThan(MAX_BUFFERED_BYTES + 512 * 1024);
    expect(await metric(gw, 'tickdeck_refusals_total{code="SLOW_CONSUMER"}')).toBe(1);

    await sleep(2000);
    const rssAfter = await metric(gw, 'process_resident_memory_bytes');
    expect(rssAfter - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(rssAfter).toBeLessThan(400 * 1024 * 1024);

    // Reading again within the grace: what was held, then the reason, then the end.
    slow.resume();
    expect(await until(() => slow.endedAt !== null, 5000), 'the slow stream ended').toBe(true);
    const last = slow.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({
      code: ErrorCode.SLOW_CONSUMER,
      message: expect.stringMatching(/MAX_BUFFERED_BYTES/),
    });
    expect(slow.events[0]!.event).toBe('snapshot');
    const frames = slow.frames();
    expect(frames.length).toBeGreaterThan(0);
    expect(slow.events.slice(1, -1).every((e) => e.event === 'frame')).toBe(true);
    // Quotes stop once the stream lags and never come back before the cut.
    const firstBare = frames.findIndex((f) => !f.quotes);
    if (firstBare >= 0) expect(frames.slice(firstBare).filter((f) => f.quotes)).toEqual([]);
    // Trades are never skipped: consecutive per symbol up to the cut.
    for (const [symbol, seqs] of tapes(frames.flatMap((f) => f.trades ?? []))) {
      const from = slow.snapshot().snapshots.find((s) => s.symbol === symbol)!.tradeSeq;
      expect(seqs.slice(0, 50), symbol).toEqual(seqs.slice(0, 50).map((_, k) => from + 1 + k));
    }

    // The other stream never noticed.
    const before = normal.frames().length;
    expect(await until(() => normal.frames().length > before + 5, 2000)).toBe(true);
    expect(normal.endedAt).toBeNull();
    expect(normal.named('error')).toEqual([]);
  });

  it('limits streams opened per address at RATE_LIMIT_PER_S, like socket messages: 429 RATE_LIMITED', async () => {
    await sleep(3000); // the bucket full again (3 at 1 a second)
    const results = await Promise.all(Array.from({ length: 5 }, () => open('symbols=NOPE')));
    expect(results.map((r) => r.status).sort()).toEqual([404, 404, 404, 429, 429]);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.error()).toMatchObject({ code: ErrorCode.RATE_LIMITED, retryAfterMs: expect.any(Number) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('ends every stream with status {server: shutdown} when the gateway stops', async () => {
    let sse: SseClient | undefined;
    expect(
      await until(async () => {
        sse = await open('symbols=AAPL&throttleMs=100');
        return sse.status === 200;
      }, 5000),
    ).toBe(true);
    expect(await until(() => sse!.frames().length > 0, 2000)).toBe(true);
    const stopping = gw.stop();
    const at = Date.now();
    expect(await until(() => sse!.endedAt !== null, 3000)).toBe(true);
    expect(sse!.endedAt! - at, 'ended at once, not at the REST grace').toBeLessThan(1000);
    expect(sse!.events.at(-1)).toMatchObject({ event: 'status', data: JSON.stringify({ server: 'shutdown' }) });
    await stopping;
    expect(gw.child.exitCode).toBe(0);
  });
});
