import type { LoggerService } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Longest path written; a longer one is cut and marked, so a request cannot flood the log. */
export const MAX_LOGGED_PATH = 256;
/** Probes and scrapes, logged at `debug` so they do not drown the requests people make. */
const QUIET_PATHS = new Set(['/api/health', '/metrics']);

/** One access-log record: what an operator filters on. */
export interface AccessRecord {
  method: string;
  /** The path without its query string (which may carry a token), at most {@link MAX_LOGGED_PATH}. */
  path: string;
  /** The status sent; 0 when the connection closed before any response. */
  status: number;
  /** From the request reaching the gateway's HTTP stack to the response's last byte (or the close), ms. */
  durationMs: number;
  /** The client went away before the response was complete. */
  aborted?: true;
}

/**
 * The path of a request target as it may be logged: no query string (a `?token=` would be a
 * secret), no fragment, bounded in length.
 */
export function loggablePath(target: string): string {
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}...` : path;
}

/** The access-log line for a record, as the text format writes it. */
export function accessLine(r: AccessRecord): string {
  return `${r.method} ${r.path} ${r.status} ${r.durationMs} ms${r.aborted ? ' (aborted)' : ''}`;
}

/**
 * Express middleware writing one line per request the HTTP stack serves (REST, the dashboard,
 * the API docs; Engine.IO's requests never reach Express): method, path, status and duration,
 * with the fields as a structured record when `structured` (JSON logs). Never a header, a query
 * string or a body.
 */
export function accessLog(logger: LoggerService, structured: boolean): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    let written = false;
    const write = () => {
      if (written) return;
      written = true;
      const record: AccessRecord = {
        method: req.method,
        path: loggablePath(req.originalUrl),
        status: res.headersSent ? res.statusCode : 0,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        ...(!res.writableFinished && { aborted: true as const }),
      };
      const level = QUIET_PATHS.has(record.path) ? 'debug' : 'log';
      if (structured) logger[level]?.(accessLine(record), record);
      else logger[level]?.(accessLine(record));
    };
    res.once('finish', write);
    res.once('close', write);
    next();
  };
}
