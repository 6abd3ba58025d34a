import { request } from 'node:http';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { ExpressServerAdapter } from './express-server.adapter.js';

@Module({})
class EmptyModule {}

const TIMEOUTS = {
  connectionsCheckingInterval: 100,
  headersTimeout: 1000,
  requestTimeout: 1000,
  handshakeTimeout: 1000,
};

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listen(options: Parameters<typeof NestFactory.create>[2] = {}): Promise<number> {
  const adapter = new ExpressServerAdapter(TIMEOUTS);
  app = await NestFactory.create(EmptyModule, adapter, { logger: false, ...options });
  // An answer that takes longer than requestTimeout.
  adapter.get('/slow', (_req: unknown, res: { end(body: string): void }) => setTimeout(() => res.end('late'), 1500));
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as { port: number }).port;
}

/** Opens a connection, writes `head`, resolves with what came back and when the server closed it (ms). */
function halfOpen(port: number, head: string): Promise<{ ms: number; reply: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let reply = '';
    const s = connect({ port, host: '127.0.0.1' }, () => s.write(head));
    s.on('data', (d) => (reply += d.toString()));
    s.on('error', () => {});
    s.on('close', () => resolve({ ms: Date.now() - started, reply }));
  });
}

describe(ExpressServerAdapter.name, () => {
  it('has Node enforce headersTimeout within the checking interval (not 30 s)', async () => {
    const port = await listen();
    const [partial, silent] = await Promise.all([
      halfOpen(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n'),
      halfOpen(port, ''),
    ]);
    for (const c of [partial, silent]) {
      expect(c.reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
      expect(c.ms).toBeGreaterThanOrEqual(900);
      expect(c.ms).toBeLessThan(1800);
    }
  });

  it('does not cut a response that takes longer than requestTimeout (a long-polling GET)', async () => {
    const port = await listen();
    const body = await new Promise<string>((resolve, reject) => {
      request({ port, host: '127.0.0.1', path: '/slow' }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${b}`));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('200 late');
  });

  it('gives https the same timeouts, and a TLS handshake its own', async () => {
    const pem = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', curve: 'P-256' });
    const port = await listen({ httpsOptions: { cert: pem.cert, key: pem.private } });
    const silent = await halfOpen(port, '');
    expect(silent.ms).toBeGreaterThanOrEqual(900);
    expect(silent.ms).toBeLessThan(1800);
    const started = Date.now();
    const partial = await new Promise<string>((resolve) => {
      let reply = '';
      const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => s.write('GET / HTTP/1.1\r\n'));
      s.on('data', (d: Buffer) => (reply += d.toString()));
      s.on('error', () => {});
      s.on('close', () => resolve(reply));
    });
    expect(partial).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
    expect(Date.now() - started).toBeLessThan(1800);
  });

  it("refuses Nest's options it does not carry over", async () => {
    await expect(
      NestFactory.create(EmptyModule, new ExpressServerAdapter(TIMEOUTS), {
        logger: false,
        forceCloseConnections: true,
      }),
    ).rejects.toThrow(/forceCloseConnections/);
  });
});
