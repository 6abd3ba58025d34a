import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPRESS_THRESHOLD_BYTES, SYNC_COMPRESS_MAX_BYTES, restCompression } from './rest-compression.js';

describe(restCompression.name, () => {
  let server: Server;
  let port = 0;
  const big = Array.from({ length: 200 }, (_, i) => ({ symbol: `SYM${i}`, last: 100 + i }));
  /** Over the size compressed at once: it goes through compression's stream. */
  const huge = Array.from({ length: 2 * (SYNC_COMPRESS_MAX_BYTES / 40) }, (_, i) => ({
    symbol: `SYM${i}`,
    last: i / 3,
  }));

  beforeAll(async () => {
    const app = new ExpressAdapter().getInstance<Express>();
    app.use(restCompression());
    app.get('/big', (_req, res) => res.json(big));
    app.get('/small', (_req, res) => res.json({ status: 'ok' }));
    app.get('/huge', (_req, res) => res.json(huge));
    app.get('/raw', (_req, res) => res.type('json').send(JSON.stringify(big)));
    app.get('/no-transform', (_req, res) => res.set('Cache-Control', 'no-transform').json(big));
    app.get('/stream', (_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.write(`data: ${'x'.repeat(2 * COMPRESS_THRESHOLD_BYTES)}\n\n`);
      // A compressor would hold the first event until the stream ends (or its buffer fills).
      setTimeout(() => res.end('data: done\n\n'), 300);
    });
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ headers: IncomingHttpHeaders; body: Buffer; firstChunkMs: number }>((resolve, reject) => {
      const started = Date.now();
      request({ host: '127.0.0.1', port, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        let firstChunkMs = -1;
        res.on('data', (c: Buffer) => {
          if (firstChunkMs < 0) firstChunkMs = Date.now() - started;
          chunks.push(c);
        });
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks), firstChunkMs }));
      })
        .on('error', reject)
        .end();
    });

  it('compresses a JSON body over the threshold and leaves a small one alone', async () => {
    const res = await get('/big', { 'Accept-Encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(res.body).toString())).toEqual(big);
    expect((await get('/big', { 'Accept-Encoding': 'br' })).headers['content-encoding']).toBe('br');
    expect((await get('/big')).headers['content-encoding']).toBeUndefined();
    const small = await get('/small', { 'Accept-Encoding': 'gzip, br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(small.body.toString())).toEqual({ status: 'ok' });
  });

  it('compresses JSON at once or through the stream, and bodies sent otherwise, each decoding to the same JSON', async () => {
    for (const [path, body] of [
      ['/big', big],
      ['/huge', huge],
      ['/raw', big],
    ] as const) {
      const br = await get(path, { 'Accept-Encoding': 'gzip, deflate, br' });
      expect(br.headers['content-encoding'], path).toBe('br');
      expect(br.headers['content-type'], path).toMatch(/^application\/json; charset=utf-8$/);
      expect(br.headers.vary, path).toMatch(/Accept-Encoding/);
      expect(JSON.parse(brotliDecompressSync(br.body).toString()), path).toEqual(body);
      const gz = await get(path, { 'Accept-Encoding': 'gzip;q=1, br;q=0.5' });
      expect(gz.headers['content-encoding'], path).toBe('gzip');
      expect(JSON.parse(gunzipSync(gz.body).toString()), path).toEqual(body);
    }
    // Compressed at once, the length is known: no chunked transfer.
    const once = await get('/big', { 'Accept-Encoding': 'br' });
    expect(Number(once.headers['content-length'])).toBe(once.body.length);
    expect(once.headers['transfer-encoding']).toBeUndefined();
    // Over the bound, compression's stream: chunked.
    expect((await get('/huge', { 'Accept-Encoding': 'br' })).headers['transfer-encoding']).toBe('chunked');
    // An ETag of the bytes sent: a revalidation with it gets 304.
    const etag = once.headers.etag!;
    expect(etag).toBeTruthy();
    const again = await get('/big', { 'Accept-Encoding': 'br', 'If-None-Match': etag });
    expect(again.body.length).toBe(0);
  });

  it('leaves a body marked no-transform as it is', async () => {
    const res = await get('/no-transform', { 'Accept-Encoding': 'gzip, br' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.body.toString())).toEqual(big);
  });

  it('never compresses (nor holds back) a text/event-stream', async () => {
    const res = await get('/stream', { 'Accept-Encoding': 'gzip, br' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toMatch(/^data: x+\n\ndata: done\n\n$/);
    // The first event arrived before the stream ended, 300 ms later.
    expect(res.firstChunkMs).toBeLessThan(250);
  });
});
