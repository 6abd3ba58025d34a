import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheControlFor,
  DashboardAssets,
  IMMUTABLE,
  MIN_COMPRESS_BYTES,
  negotiateEncoding,
  REVALIDATE,
} from './dashboard-assets.js';

describe(cacheControlFor.name, () => {
  it("makes Vite's hashed assets immutable and everything else revalidated", () => {
    expect(cacheControlFor('assets/index-AJHnfvEB.js')).toBe(IMMUTABLE);
    expect(cacheControlFor('assets/index-_cySezzr.css')).toBe(IMMUTABLE);
    expect(cacheControlFor('assets/chunks/chart-Ab3d_9-Z.js')).toBe(IMMUTABLE);
    expect(cacheControlFor('index.html')).toBe(REVALIDATE);
    expect(cacheControlFor('favicon.svg')).toBe(REVALIDATE);
    // Not hashed, or not under assets/: a name that could keep its content across builds.
    expect(cacheControlFor('assets/logo.svg')).toBe(REVALIDATE);
    expect(cacheControlFor('index-AJHnfvEB.js')).toBe(REVALIDATE);
  });
});

describe(negotiateEncoding.name, () => {
  it('prefers brotli on a tie, honours q-values and q=0, and falls back to none', () => {
    expect(negotiateEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(negotiateEncoding('gzip')).toBe('gzip');
    expect(negotiateEncoding('br;q=0, gzip')).toBe('gzip');
    expect(negotiateEncoding('br;q=0.5, gzip')).toBe('gzip');
    expect(negotiateEncoding('*')).toBe('br');
    expect(negotiateEncoding('identity')).toBeUndefined();
    expect(negotiateEncoding('gzip;q=0, br;q=0')).toBeUndefined();
    expect(negotiateEncoding('')).toBeUndefined();
    expect(negotiateEncoding(undefined)).toBeUndefined();
  });
});

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe(DashboardAssets.name, () => {
  const root = mkdtempSync(join(tmpdir(), 'tickdeck-assets-'));
  const script = 'console.log("tickdeck");\n'.repeat(400);
  const errors: string[] = [];
  let server: Server;
  let port = 0;

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Promise<Got>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      })
        .on('error', reject)
        .end();
    });

  beforeAll(async () => {
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(join(root, 'assets', 'index-AbCd1234.js'), script);
    writeFileSync(join(root, 'assets', 'blob-AbCd1234.png'), Buffer.alloc(4096, 7));
    writeFileSync(join(root, '.env'), 'SECRET=1\n'.repeat(200));
    const adapter = new ExpressAdapter();
    const app = adapter.getInstance<Express>();
    const assets = new DashboardAssets(root, (m) => errors.push(m));
    app.use(assets.middleware);
    adapter.useStaticAssets(root, { index: 'index.html', setHeaders: assets.setHeaders });
    app.use((_req, res) => res.status(404).end('not found'));
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  it('sends brotli or gzip as accepted, the same bytes once decoded, with Vary and a per-encoding ETag', async () => {
    const br = await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'gzip, br' });
    const gz = await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'gzip' });
    const plain = await get('/assets/index-AbCd1234.js');
    expect([br.headers['content-encoding'], gz.headers['content-encoding'], plain.headers['content-encoding']]).toEqual(
      ['br', 'gzip', undefined],
    );
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    expect(gunzipSync(gz.body).toString()).toBe(script);
    expect(plain.body.toString()).toBe(script);
    for (const res of [br, gz, plain]) {
      expect(res.headers['cache-control']).toBe(IMMUTABLE);
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(res.headers['content-type']).toMatch(/^text\/javascript/);
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
    }
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
    expect(br.body.length).toBeLessThan(script.length / 10);
    expect(
      (await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'br', 'If-None-Match': br.headers.etag! })).status,
    ).toBe(304);
    const head = await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'br' }, 'HEAD');
    expect([head.status, head.headers['content-encoding'], head.body.length]).toEqual([200, 'br', 0]);
  });

  it('compresses a file again when a rebuild changes it, and keeps serving the old one from memory until then', async () => {
    const before = await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'br' });
    const rebuilt = script.replace(/tickdeck/g, 'rebuilt!');
    writeFileSync(join(root, 'assets', 'index-AbCd1234.js'), rebuilt);
    utimesSync(join(root, 'assets', 'index-AbCd1234.js'), new Date(), new Date(Date.now() + 5000));
    const after = await get('/assets/index-AbCd1234.js', { 'Accept-Encoding': 'br' });
    expect(brotliDecompressSync(before.body).toString()).toBe(script);
    expect(brotliDecompressSync(after.body).toString()).toBe(rebuilt);
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('leaves small files, other types, hidden files and paths outside the build to express.static', async () => {
    const index = await get('/', { 'Accept-Encoding': 'br' });
    expect(index.status).toBe(200);
    expect(index.headers['content-encoding']).toBeUndefined();
    expect(index.headers['cache-control']).toBe(REVALIDATE);
    // Under the threshold: never has a compressed variant, so no Vary either.
    expect(index.headers.vary).toBeUndefined();
    expect(index.body.length).toBeLessThan(MIN_COMPRESS_BYTES);
    const png = await get('/assets/blob-AbCd1234.png', { 'Accept-Encoding': 'br' });
    expect([png.status, png.headers['content-encoding'], png.headers['cache-control']]).toEqual([
      200,
      undefined,
      IMMUTABLE,
    ]);
    for (const path of ['/.env', '/%2e%2e/etc/passwd', '/assets/..%2f..%2fetc%2fpasswd', '/%E0', '/missing.js']) {
      const res = await get(path, { 'Accept-Encoding': 'br' });
      expect(res.status, path).toBe(404);
      expect(res.headers['content-encoding'], path).toBeUndefined();
    }
    expect(errors).toEqual([]);
  });
});
