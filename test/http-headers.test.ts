import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { Snapshot } from '@tickdeck/protocol';
import { generate } from 'selfsigned';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onFrame } from './support/frame.js';
import { E2E_DASHBOARD_DIR, startGateway, type MarketClient, type RunningGateway } from './support/gateway.js';
import { until } from './support/until.js';

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it came over the wire (never decompressed). */
  body: Buffer;
}

/** A GET (or HEAD) with exactly these headers, the body left as sent. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET', ca?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method, headers, agent: false, ...(ca && { ca }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The body decoded by its Content-Encoding. */
function decoded(res: Raw): Buffer {
  const encoding = res.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(res.body);
  if (encoding === 'gzip') return gunzipSync(res.body);
  expect(encoding).toBeUndefined();
  return res.body;
}

const csp = (res: Raw) =>
  Object.fromEntries(
    String(res.headers['content-security-policy'] ?? '')
      .split(';')
      .filter(Boolean)
      .map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values];
      }),
  );

const varies = (res: Raw) =>
  String(res.headers.vary ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase());

describe('HTTP headers, caching and compression of a real gateway', () => {
  let gw: RunningGateway;
  /** The dashboard's hashed script, as index.html names it. */
  let script: string;

  beforeAll(async () => {
    gw = await startGateway();
    const index = readFileSync(join(E2E_DASHBOARD_DIR, 'index.html'), 'utf8');
    script = /src="(\/assets\/[^"]+\.js)"/.exec(index)![1]!;
  });
  afterAll(() => gw?.stop());

  it('serves / with no-cache, the dashboard policy, nosniff, no-referrer, no framing and no X-Powered-By', async () => {
    const res = await get(`${gw.url}/`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('<div id="app">');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toBeTruthy();
    const policy = csp(res);
    expect(policy).toMatchObject({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'frame-ancestors': ["'none'"],
      // Its own origin over http, and over ws for Socket.IO (the page's Host is an allowed origin).
      'connect-src': ["'self'", `ws://127.0.0.1:${gw.port}`],
    });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
    // HSTS only where this process serves https itself (below).
    expect(res.headers['strict-transport-security']).toBeUndefined();
    // A revalidation is a 304.
    const again = await get(`${gw.url}/`, { 'If-None-Match': String(res.headers.etag) });
    expect(again.status).toBe(304);
  });

  it('serves a hashed asset immutable, brotli or gzip as accepted, each revalidated per encoding', async () => {
    const onDisk = readFileSync(join(E2E_DASHBOARD_DIR, script));
    const sizes: Record<string, number> = {};
    for (const [accept, encoding] of [
      ['gzip, deflate, br, zstd', 'br'],
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['identity', undefined],
      ['', undefined],
    ] as const) {
      const res = await get(`${gw.url}${script}`, accept ? { 'Accept-Encoding': accept } : {});
      expect(res.status, accept).toBe(200);
      expect(res.headers['cache-control'], accept).toBe('public, max-age=31536000, immutable');
      expect(res.headers['content-type'], accept).toMatch(/^text\/javascript/);
      expect(res.headers['content-encoding'], accept).toBe(encoding);
      expect(varies(res), accept).toContain('accept-encoding');
      expect(Number(res.headers['content-length']), accept).toBe(res.body.length);
      expect(res.headers['content-security-policy'], accept).toBeTruthy();
      expect(decoded(res).equals(onDisk), accept).toBe(true);
      sizes[encoding ?? 'identity'] = res.body.length;
      const revalidated = await get(`${gw.url}${script}`, {
        'If-None-Match': String(res.headers.etag),
        ...(accept && { 'Accept-Encoding': accept }),
      });
      expect(revalidated.status, accept).toBe(304);
    }
    expect(sizes.br).toBeLessThan(sizes.identity! * 0.4);
    expect(sizes.gzip).toBeLessThan(sizes.identity! * 0.4);
    // The br bytes never answer a gzip client's revalidation.
    const br = await get(`${gw.url}${script}`, { 'Accept-Encoding': 'br' });
    const gz = await get(`${gw.url}${script}`, { 'Accept-Encoding': 'gzip', 'If-None-Match': String(br.headers.etag) });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    // HEAD: the headers of the variant, no body.
    const head = await get(`${gw.url}${script}`, { 'Accept-Encoding': 'br' }, 'HEAD');
    expect(head.headers['content-encoding']).toBe('br');
    expect(head.body.length).toBe(0);
  });

  it('compresses a REST body over 1 KiB, and leaves a small one and a client that accepts none alone', async () => {
    const plain = await get(`${gw.url}/api/snapshot`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(1024);
    for (const encoding of ['gzip', 'br'] as const) {
      const big = await get(`${gw.url}/api/snapshot`, { 'Accept-Encoding': encoding });
      expect(big.status).toBe(200);
      expect(big.headers['content-encoding']).toBe(encoding);
      expect(varies(big)).toContain('accept-encoding');
      expect(big.headers['content-type']).toMatch(/^application\/json/);
      const snapshots = JSON.parse(decoded(big).toString()) as Snapshot[];
      expect(snapshots).toHaveLength(20);
      expect(big.body.length).toBeLessThan(plain.body.length / 2);
      expect(big.headers['content-security-policy']).toBeTruthy();
      expect(big.headers['x-content-type-options']).toBe('nosniff');
      expect(big.headers['x-powered-by']).toBeUndefined();
    }
    const small = await get(`${gw.url}/api/health`, { 'Accept-Encoding': 'gzip, br' });
    expect(small.status).toBe(200);
    expect(small.body.length).toBeLessThan(1024);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString())).toMatchObject({ status: 'ok' });
    // Errors carry the headers too.
    const missing = await get(`${gw.url}/api/nope`, { 'Accept-Encoding': 'gzip' });
    expect(missing.status).toBe(404);
    expect(missing.headers['x-powered-by']).toBeUndefined();
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves /api/docs under its own policy (inline styles, data: images), still no framing', async () => {
    const res = await get(`${gw.url}/api/docs`, { 'Accept-Encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(decoded(res).toString()).toContain('swagger-ui');
    expect(csp(res)).toMatchObject({
      'script-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'frame-ancestors': ["'none'"],
    });
    expect(res.headers['x-powered-by']).toBeUndefined();
    const bundle = await get(`${gw.url}/api/docs/swagger-ui-bundle.js`, { 'Accept-Encoding': 'gzip' });
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-encoding']).toBe('gzip');
    expect(csp(bundle)['style-src']).toContain("'unsafe-inline'");
    // The document itself is JSON under the strict policy.
    const json = await get(`${gw.url}/api/docs-json`);
    expect(JSON.parse(json.body.toString())).toMatchObject({ openapi: expect.any(String) });
    expect(csp(json)['style-src']).toEqual(["'self'"]);
  });

  it('keeps Socket.IO long-polling (and the upgrade from it) working with compression on', async () => {
    const handshake = await get(`${gw.url}/socket.io/?EIO=4&transport=polling`, { 'Accept-Encoding': 'gzip, br' });
    expect(handshake.status).toBe(200);
    expect(decoded(handshake).toString()).toMatch(/^0\{"sid"/);
    for (const transports of [['polling'], ['polling', 'websocket']]) {
      const socket: MarketClient = io(`${gw.url}/market`, {
        transports,
        reconnection: false,
        forceNew: true,
        extraHeaders: { 'Accept-Encoding': 'gzip, br' },
      });
      try {
        const quotes: string[] = [];
        onFrame(socket, { quotes: (q) => quotes.push(...q.map((x) => x.symbol)) });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        const ack = await socket.timeout(5000).emitWithAck('subscribe', { symbols: ['AAPL'], throttleMs: 100 });
        expect(ack.ok).toBe(true);
        expect(await until(() => quotes.length >= 5, 5000), transports.join()).toBe(true);
        expect(socket.io.engine.transport.name).toBe(transports.at(-1));
      } finally {
        socket.close();
      }
    }
  });
});

describe('the policy follows the Host and the Origin allowlist', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ ALLOWED_ORIGINS: 'https://tickdeck.example' });
  });
  afterAll(() => gw?.stop());

  it('names wss for an https origin behind a TLS proxy, nothing for a foreign or malformed Host', async () => {
    const behindProxy = await get(`${gw.url}/`, { Host: 'tickdeck.example' });
    expect(csp(behindProxy)['connect-src']).toEqual(["'self'", 'wss://tickdeck.example']);
    const foreign = await get(`${gw.url}/`, { Host: 'evil.test' });
    expect(csp(foreign)['connect-src']).toEqual(["'self'"]);
    // A Host that would inject a directive is named nowhere, and the page is still served.
    const injected = await get(`${gw.url}/`, { Host: "tickdeck.example;script-src 'unsafe-inline'" });
    expect(injected.status).toBe(200);
    expect(csp(injected)['connect-src']).toEqual(["'self'"]);
    expect(csp(injected)['script-src']).toEqual(["'self'"]);
  });
});

describe('HSTS over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickdeck-hsts-'));
  let gw: RunningGateway | undefined;
  afterAll(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends Strict-Transport-Security when the gateway serves https itself', async () => {
    const pem = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    writeFileSync(join(dir, 'cert.pem'), pem.cert);
    writeFileSync(join(dir, 'key.pem'), pem.private, { mode: 0o600 });
    gw = await startGateway({ TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
    const res = await get(`https://127.0.0.1:${gw.port}/`, {}, 'GET', pem.cert);
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(csp(res)['connect-src']).toEqual(["'self'", `wss://127.0.0.1:${gw.port}`]);
  });
});
