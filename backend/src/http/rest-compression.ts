import compression from 'compression';
import type { Request, RequestHandler, Response } from 'express';

/** Response bodies below this many bytes go out as they are (compression's own default, 1 KiB). */
export const COMPRESS_THRESHOLD_BYTES = 1024;

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

/**
 * On-the-fly brotli or gzip for REST and API-docs bodies of {@link COMPRESS_THRESHOLD_BYTES} and
 * more. The dashboard's files are compressed once ahead of it (DashboardAssets); Engine.IO's
 * polling and websocket traffic never reaches Express, so the viewers' hot path is untouched.
 */
export function restCompression(): RequestHandler {
  return compression({ threshold: COMPRESS_THRESHOLD_BYTES, filter: shouldCompress }) as RequestHandler;
}
