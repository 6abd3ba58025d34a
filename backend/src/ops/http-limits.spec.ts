import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RefusalLog } from '../security/refusal-log.js';
import {
  AddressCounter,
  applyHttpCaps,
  describeHttpLimits,
  FD_RESERVE,
  httpCaps,
  parseOpenFilesLimit,
  readOpenFilesLimit,
  type HttpCaps,
} from './http-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                524288               files
Max locked memory         8388608              8388608              bytes
`;

const config = (
  http: { maxConnections?: number; maxConnectionsPerIp?: number },
  maxConnections = 1000,
  trustProxy = false,
) => ({
  http: {
    maxConnections: http.maxConnections,
    maxConnectionsPerIp: http.maxConnectionsPerIp ?? 416,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
  },
  limits: { maxConnections } as never,
  security: { trustProxy } as never,
});

describe(parseOpenFilesLimit.name, () => {
  it('reads the soft limit of "Max open files"', () => {
    expect(parseOpenFilesLimit(LIMITS)).toBe(20000);
  });

  it('says undefined for unlimited, a missing line or garbage', () => {
    expect(parseOpenFilesLimit(LIMITS.replace('20000 ', 'unlimited'))).toBeUndefined();
    expect(parseOpenFilesLimit('Max cpu time   unlimited  unlimited  seconds\n')).toBeUndefined();
    expect(parseOpenFilesLimit('')).toBeUndefined();
    expect(parseOpenFilesLimit('Max open files  -1  -1  files')).toBeUndefined();
  });
});

describe(readOpenFilesLimit.name, () => {
  it('reads a limits file, and says undefined when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'limits-'));
    try {
      writeFileSync(join(dir, 'limits'), LIMITS);
      expect(readOpenFilesLimit(join(dir, 'limits'))).toBe(20000);
      expect(readOpenFilesLimit(join(dir, 'missing'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it.runIf(process.platform === 'linux')("reads this process's own limit on Linux", () => {
    expect(readOpenFilesLimit()).toBeGreaterThan(0);
  });
});

describe(httpCaps.name, () => {
  it('derives the global cap from the descriptor limit, less the reserve', () => {
    expect(httpCaps(config({}), 20000)).toEqual({
      maxConnections: 20000 - FD_RESERVE,
      maxConnectionsPerIp: 416,
      warnings: [],
    });
    expect(httpCaps(config({}), 1000, 100).maxConnections).toBe(900);
  });

  it('keeps a MAX_HTTP_CONNECTIONS below the ceiling, and applies it when no limit is known', () => {
    expect(httpCaps(config({ maxConnections: 5000 }), 20000)).toMatchObject({ maxConnections: 5000, warnings: [] });
    expect(httpCaps(config({ maxConnections: 5000 }), undefined)).toMatchObject({ maxConnections: 5000, warnings: [] });
  });

  it('has no global cap with neither a limit nor MAX_HTTP_CONNECTIONS', () => {
    expect(httpCaps(config({}), undefined)).toMatchObject({ maxConnections: undefined, warnings: [] });
  });

  it('lowers a MAX_HTTP_CONNECTIONS above the ceiling, naming the variable and ulimit -n', () => {
    const caps = httpCaps(config({ maxConnections: 50_000 }), 20000);
    expect(caps.maxConnections).toBe(20000 - FD_RESERVE);
    expect(caps.warnings).toHaveLength(1);
    expect(caps.warnings[0]).toMatch(/MAX_HTTP_CONNECTIONS=50000 .*ulimit -n.*capping at 19744/);
  });

  it('never goes below 16, and warns when the limit leaves no room', () => {
    const caps = httpCaps(config({}, 10), 100);
    expect(caps.maxConnections).toBe(16);
    expect(caps.warnings.join('\n')).toMatch(/open-files limit is 100 \(ulimit -n\)/);
  });

  it('warns when Socket.IO MAX_CONNECTIONS is above the HTTP cap', () => {
    expect(httpCaps(config({}, 20000), 20000).warnings).toEqual([
      expect.stringMatching(/MAX_CONNECTIONS=20000 .*capped at 19744 by the open-files limit 20000/),
    ]);
    expect(httpCaps(config({ maxConnections: 100 }, 200), undefined).warnings).toEqual([
      expect.stringMatching(/MAX_CONNECTIONS=200 .*capped at 100 by MAX_HTTP_CONNECTIONS/),
    ]);
    expect(httpCaps(config({}, 19744), 20000).warnings).toEqual([]);
  });

  it('drops the per-address cap behind a proxy', () => {
    expect(httpCaps(config({}, 1000, true), 20000).maxConnectionsPerIp).toBeUndefined();
  });
});

describe(describeHttpLimits.name, () => {
  const timeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };

  it('names the descriptor limit and the caps in force', () => {
    expect(describeHttpLimits(httpCaps(config({}), 20000), 20000, timeouts)).toBe(
      'HTTP limits: open-files limit 20000; connections 19744 in all, 416 per address; ' +
        'headers within 10000 ms, whole request within 30000 ms',
    );
  });

  it('says when there is no global cap, and why there is none per address behind a proxy', () => {
    const line = describeHttpLimits(httpCaps(config({}, 1000, true), undefined), undefined, timeouts);
    expect(line).toMatch(/open-files limit unknown; connections uncapped in all, no cap per address \(TRUST_PROXY/);
  });
});

describe(AddressCounter.name, () => {
  it('counts per address up to the cap, and refuses without counting past it', () => {
    const c = new AddressCounter(2);
    expect([c.tryOpen('a'), c.tryOpen('a'), c.tryOpen('a'), c.tryOpen('b')]).toEqual([true, true, false, true]);
    expect([c.count('a'), c.count('b'), c.addresses]).toEqual([2, 1, 2]);
    c.close('a');
    expect(c.tryOpen('a')).toBe(true);
  });

  it('forgets an address at 0 and ignores a close it never counted', () => {
    const c = new AddressCounter(3);
    c.tryOpen('a');
    c.close('a');
    c.close('a');
    c.close('never');
    expect([c.count('a'), c.addresses]).toEqual([0, 0]);
    for (let i = 0; i < 10_000; i++) {
      c.tryOpen(`10.0.${i >> 8}.${i & 255}`);
      c.close(`10.0.${i >> 8}.${i & 255}`);
    }
    expect(c.addresses).toBe(0);
  });
});

describe(applyHttpCaps.name, () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  async function serve(caps: HttpCaps, lines: string[]): Promise<number> {
    server = createServer((_req, res) => res.end('ok'));
    applyHttpCaps(server, caps, new RefusalLog({ warn: (l) => lines.push(l) }, 60_000));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  /** Opens `n` idle connections; resolves with how many the server closed within `ms`. */
  async function closedOf(port: number, n: number, ms = 300): Promise<number> {
    let closed = 0;
    for (let i = 0; i < n; i++) {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.on('close', () => closed++);
      sockets.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    await new Promise((r) => setTimeout(r, ms));
    return closed;
  }

  it('closes connections past the per-address cap at once, logged at a bounded rate', async () => {
    const lines: string[] = [];
    const port = await serve({ maxConnections: undefined, maxConnectionsPerIp: 3, warnings: [] }, lines);
    expect(await closedOf(port, 10)).toBe(7);
    expect(lines).toEqual([expect.stringMatching(/^refused 127\.0\.0\.1: HTTP_CONNECTIONS_PER_IP: .*PER_IP=3/)]);
    // A held one closes: the address has room for one more.
    sockets[0]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await closedOf(port, 1)).toBe(0);
    expect(await closedOf(port, 1)).toBe(1);
  });

  it('applies maxConnections and logs its drops', async () => {
    const lines: string[] = [];
    const port = await serve({ maxConnections: 4, maxConnectionsPerIp: undefined, warnings: [] }, lines);
    expect(await closedOf(port, 6)).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^refused 127\.0\.0\.1: HTTP_CONNECTIONS: .*=4/)]);
  });
});
