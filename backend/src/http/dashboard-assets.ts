import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import Negotiator from 'negotiator';

/** Files smaller than this go out as they are: the headers would eat what compression saves. */
export const MIN_COMPRESS_BYTES = 1024;
/** Larger files are streamed as they are rather than held compressed in memory. */
export const MAX_COMPRESS_BYTES = 8 << 20;
/** Text types worth compressing, by extension. */
const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.html', '.svg', '.json', '.map', '.txt', '.xml', '.webmanifest']);
/** Encodings served, the server's preference first (when the client weighs them equally). */
const ENCODINGS = ['br', 'gzip'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Cache-Control of a hashed asset: its name changes with its content, so it never needs revalidating. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control of everything else (index.html first): keep it, but ask (a 304) before each use. */
export const REVALIDATE = 'no-cache';
/** Vite's output names under `assets/`: `name-<8 base64url characters>.ext`. */
const HASHED = /^assets\/(?:.+\/)?[^/]+-[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+$/;

/**
 * Cache-Control for a file of the dashboard build, by its path relative to the build: hashed
 * assets are immutable for a year, everything else (index.html, favicon.svg) is revalidated on
 * every use, so a browser picks up a new build at once after an upgrade.
 */
export function cacheControlFor(relativePath: string): string {
  return HASHED.test(relativePath.split(sep).join('/')) ? IMMUTABLE : REVALIDATE;
}

/** The encoding to send for this `Accept-Encoding`, or undefined for none (identity). */
export function negotiateEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  if (!acceptEncoding) return undefined;
  const chosen = new Negotiator({ headers: { 'accept-encoding': acceptEncoding } }).encoding([...ENCODINGS], {
    preferred: [...ENCODINGS],
  });
  return ENCODINGS.find((e) => e === chosen);
}

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** Compresses `body` as hard as the format goes: done once per file and kept. */
export function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  return encoding === 'br'
    ? brotli(body, {
        params: {
          [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
          [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
          [zlib.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      })
    : gzipped(body, { level: zlib.Z_BEST_COMPRESSION });
}

interface Compressed {
  /** The file as it was compressed: a rebuild (new size or mtime) compresses it again. */
  size: number;
  mtimeMs: number;
  variants: Partial<Record<Encoding, Promise<Buffer>>>;
}

/**
 * The dashboard build as the gateway serves it. Text files of 1 KB and more go out brotli- or
 * gzip-compressed when the client accepts it, each compressed once (at the highest level, on its
 * first request: starting the gateway costs nothing) and then answered from memory; the rest, and
 * clients that accept neither, get the file from disk through `express.static` with
 * {@link setHeaders}. Every response says its Cache-Control ({@link cacheControlFor}) and, when
 * the file has compressed variants, `Vary: Accept-Encoding`.
 */
export class DashboardAssets {
  private readonly cache = new Map<string, Compressed>();

  constructor(
    /** The build directory (absolute). */
    private readonly root: string,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  /** The compressed-variant middleware; falls through (`next()`) for whatever it does not serve. */
  readonly middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const relative = this.resolve(req.path);
    if (!relative || !COMPRESSIBLE.has(extname(relative))) return next();
    const encoding = negotiateEncoding(req.headers['accept-encoding']);
    if (!encoding) return next();
    this.serve(req, res, relative, encoding).then(
      (served) => (served ? undefined : next()),
      (err: unknown) => {
        this.onError(`${relative}: ${err instanceof Error ? err.message : String(err)}; serving it uncompressed`);
        next();
      },
    );
  };

  /** For `express.static`: the same Cache-Control and Vary on the files it serves. */
  readonly setHeaders = (res: ServerResponse, path: string, stats: Stats): void => {
    if (!path.startsWith(this.root)) return;
    res.setHeader('Cache-Control', cacheControlFor(path.slice(this.root.length + 1)));
    if (this.compressible(path, stats)) res.setHeader('Vary', 'Accept-Encoding');
  };

  private compressible(path: string, stats: Stats): boolean {
    return COMPRESSIBLE.has(extname(path)) && stats.size >= MIN_COMPRESS_BYTES && stats.size <= MAX_COMPRESS_BYTES;
  }

  /** The build-relative file for a URL path, or undefined for one outside it or hidden. */
  private resolve(urlPath: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
    const segments = decoded.split('/').slice(1);
    if (segments.at(-1) === '') segments[segments.length - 1] = 'index.html';
    if (segments.some((s) => s === '' || s.startsWith('.'))) return undefined;
    return segments.join(sep);
  }

  /** Answers from the compressed variant; false when this file has none worth sending. */
  private async serve(req: Request, res: Response, relative: string, encoding: Encoding): Promise<boolean> {
    const file = join(this.root, relative);
    let stats: Stats;
    try {
      stats = await stat(file);
    } catch {
      this.cache.delete(file);
      return false;
    }
    if (!stats.isFile() || !this.compressible(file, stats)) return false;
    const body = await this.variant(file, stats, encoding);
    if (body.length >= stats.size) return false;
    res.status(200);
    res.type(extname(file));
    res.setHeader('Cache-Control', cacheControlFor(relative));
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('Content-Encoding', encoding);
    res.setHeader('Last-Modified', stats.mtime.toUTCString());
    // Per variant: a cache must not answer a gzip client's revalidation with the br bytes.
    res.setHeader('ETag', `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}-${encoding}"`);
    if (req.fresh) {
      res.status(304).end();
      return true;
    }
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  private variant(file: string, stats: Stats, encoding: Encoding): Promise<Buffer> {
    let entry = this.cache.get(file);
    if (!entry || entry.size !== stats.size || entry.mtimeMs !== stats.mtimeMs) {
      entry = { size: stats.size, mtimeMs: stats.mtimeMs, variants: {} };
      this.cache.set(file, entry);
    }
    const cached = entry.variants[encoding];
    if (cached) return cached;
    const made = readFile(file).then((body) => compress(body, encoding));
    entry.variants[encoding] = made;
    // A failure is not kept: the next request tries again.
    made.catch(() => {
      if (entry.variants[encoding] === made) delete entry.variants[encoding];
    });
    return made;
  }
}
