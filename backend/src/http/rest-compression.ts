import compression from 'compression';
import type { Request, RequestHandler, Response } from 'express';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { negotiateEncoding } from './dashboard-assets.js';

/** Response bodies below this many bytes go out as they are (compression's own default, 1 KiB). */
export const COMPRESS_THRESHOLD_BYTES = 1024;

/**
 * JSON bodies up to this size are compressed in one synchronous call (brotli quality 4, gzip 6:
 * about 0.5 ms for a 500-bar page of 60 KB); larger ones through compression's stream, so that no
 * single answer holds the event loop for long.
 */
export const SYNC_COMPRESS_MAX_BYTES = 256 * 1024;

/**
 * Whether a response may be compressed on the fly: never a stream of events (`text/event-stream`
 * must reach the client as each event is written, not when a compressor's buffer fills), else
 * what compression's own filter says (compressible types, `Cache-Control: no-transform` honoured).
 */
export function shouldCompress(req: Request, res: Response): boolean {
  const type = res.getHeader('Content-Type');
  if (typeof type === 'string' && /^\s*text\/event-stream\b/i.test(type)) return false;
  return compression.filter(req, res);
}

/** The body of `res.json(body)`, compressed at once, or undefined to leave it to the stream. */
function compressJson(req: Request, res: Response, text: string): [Buffer, 'br' | 'gzip'] | undefined {
  const size = Buffer.byteLength(text);
  if (size < COMPRESS_THRESHOLD_BYTES || size > SYNC_COMPRESS_MAX_BYTES) return undefined;
  if (res.getHeader('Content-Encoding') !== undefined) return undefined;
  if (/\bno-transform\b/i.test(String(res.getHeader('Cache-Control') ?? ''))) return undefined;
  const encoding = negotiateEncoding(req.headers['accept-encoding']);
  if (encoding === 'br') {
    const params = { [zlib.BROTLI_PARAM_QUALITY]: 4, [zlib.BROTLI_PARAM_SIZE_HINT]: size };
    return [brotliCompressSync(text, { params }), 'br'];
  }
  if (encoding === 'gzip') return [gzipSync(text), 'gzip'];
  return undefined;
}

/**
 * On-the-fly brotli or gzip for REST and API-docs bodies of {@link COMPRESS_THRESHOLD_BYTES} and
 * more. A JSON answer (`res.json`, every REST route) up to {@link SYNC_COMPRESS_MAX_BYTES} is
 * compressed in one synchronous call: through compression's stream it takes trips through libuv's
 * thread pool, each waiting for a busy event loop (a 500-bar `/api/candles` page at a 20,000
 * ticks/s feed cost 1-3 ms more at p50 and 2-7 ms more at p99 as brotli than as it is).
 * Everything else goes through compression's stream. The dashboard's files are compressed once ahead of it
 * (DashboardAssets); Engine.IO's polling and websocket traffic never reaches Express, so the
 * viewers' hot path is untouched.
 */
export function restCompression(): RequestHandler {
  const onTheFly = compression({ threshold: COMPRESS_THRESHOLD_BYTES, filter: shouldCompress }) as RequestHandler;
  return (req, res, next) => {
    const json = res.json;
    res.json = function (this: Response, body?: unknown) {
      if (body === undefined) return json.call(this, body);
      // Stringified once: what is not compressed here goes as this text (compression's stream
      // takes what is too large).
      const text = JSON.stringify(body);
      if (!this.get('Content-Type')) this.type('json');
      const compressed = compressJson(req, this, text);
      if (!compressed) return this.send(text);
      this.setHeader('Content-Encoding', compressed[1]);
      this.vary('Accept-Encoding');
      return this.send(compressed[0]);
    };
    onTheFly(req, res, next);
  };
}
