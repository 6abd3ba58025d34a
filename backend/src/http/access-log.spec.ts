import { createServer, request, type Server } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { accessLine, accessLog, loggablePath, MAX_LOGGED_PATH, type AccessRecord } from './access-log.js';

describe(loggablePath.name, () => {
  it('drops the query string and the fragment, and bounds the length', () => {
    expect(loggablePath('/api/snapshot?token=s3cret&symbols=AAPL')).toBe('/api/snapshot');
    expect(loggablePath('/api/snapshot#token=s3cret')).toBe('/api/snapshot');
    expect(loggablePath('/api/health?')).toBe('/api/health');
    expect(loggablePath('/')).toBe('/');
    const long = loggablePath(`/${'a'.repeat(1000)}`);
    expect(long).toHaveLength(MAX_LOGGED_PATH + 3);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe(accessLine.name, () => {
  it('reads method, path, status and duration, and says when the client went away', () => {
    expect(accessLine({ method: 'GET', path: '/api/symbols', status: 200, durationMs: 1.5 })).toBe(
      'GET /api/symbols 200 1.5 ms',
    );
    expect(accessLine({ method: 'GET', path: '/x', status: 0, durationMs: 3, aborted: true })).toBe(
      'GET /x 0 3 ms (aborted)',
    );
  });
});

describe(accessLog.name, () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  /** A server with the access log in front of a few routes; resolves with its port. */
  async function serve(logger: LoggerService, structured: boolean): Promise<number> {
    const app = new ExpressAdapter().getInstance<Express>();
    app.use(accessLog(logger, structured));
    app.get('/api/symbols', (_req, res) => res.json([]));
    app.get('/api/health', (_req, res) => res.json({ status: 'ok' }));
    app.get('/hang', () => {});
    server = createServer(app);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  const get = (port: number, path: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });

  function collecting() {
    const lines: { level: string; message: string; fields?: AccessRecord }[] = [];
    const logger: LoggerService = {
      log: (message: string, fields?: AccessRecord) => lines.push({ level: 'log', message, fields }),
      debug: (message: string, fields?: AccessRecord) => lines.push({ level: 'debug', message, fields }),
      warn: () => {},
      error: () => {},
    };
    return { lines, logger };
  }

  it('writes one record per request with the fields, the probe at debug, never a query or a header', async () => {
    const { lines, logger } = collecting();
    const port = await serve(logger, true);
    await get(port, '/api/symbols?token=s3cret', { Authorization: 'Bearer s3cret' });
    await get(port, '/api/health');
    await get(port, '/nope');
    await until(() => lines.length === 3);
    expect(lines.map((l) => [l.level, l.fields?.method, l.fields?.path, l.fields?.status])).toEqual([
      ['log', 'GET', '/api/symbols', 200],
      ['debug', 'GET', '/api/health', 200],
      ['log', 'GET', '/nope', 404],
    ]);
    for (const l of lines) {
      expect(l.message).toBe(accessLine(l.fields!));
      expect(l.fields!.durationMs).toBeGreaterThanOrEqual(0);
      expect(l.fields!.aborted).toBeUndefined();
    }
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  it('writes the text line alone when not structured, and an aborted request once, with status 0', async () => {
    const { lines, logger } = collecting();
    const port = await serve(logger, false);
    await get(port, '/api/symbols');
    const req = request({ host: '127.0.0.1', port, path: '/hang' });
    req.on('error', () => {});
    req.end();
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    await until(() => lines.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({ level: 'log', message: expect.stringMatching(/^GET \/api\/symbols 200 [\d.]+ ms$/) });
    expect(lines[1]!.message).toMatch(/^GET \/hang 0 \d+(\.\d)? ms \(aborted\)$/);
  });
});

async function until(done: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('not within time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
