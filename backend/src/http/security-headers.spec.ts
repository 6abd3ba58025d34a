import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { DOCS_PATH, securityHeaders, socketSources } from './security-headers.js';

const ALLOWED = new Set(['http://127.0.0.1:3000', 'https://tickdeck.example', 'http://[::1]:3000']);
const allows = (origin: string) => ALLOWED.has(origin);

/** Runs the middleware on a request for `path` with `host`; resolves with the headers it set. */
function headersFor(path: string, host: string | undefined, tls = false): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  const req = { path, url: path, method: 'GET', headers: host === undefined ? {} : { host } } as unknown as Request;
  const res = {
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
    getHeader: (name: string) => headers[name.toLowerCase()],
  } as unknown as Response;
  return new Promise((resolve, reject) => {
    const next: NextFunction = (err?: unknown) => (err ? reject(err as Error) : resolve(headers));
    securityHeaders({ allowsOrigin: allows, tls })(req, res, next);
  });
}

const directive = (headers: Record<string, string>, name: string) =>
  headers['content-security-policy']!.split(';').find((d) => d.startsWith(`${name} `));

describe(socketSources.name, () => {
  it('names ws for an allowed http origin and wss for an allowed https one', () => {
    expect(socketSources('127.0.0.1:3000', allows)).toBe('ws://127.0.0.1:3000');
    expect(socketSources('tickdeck.example', allows)).toBe('wss://tickdeck.example');
    expect(socketSources('[::1]:3000', allows)).toBe('ws://[::1]:3000');
    expect(socketSources('TickDeck.Example', allows)).toBe('wss://TickDeck.Example');
  });

  it('names nothing for a host the Origin policy refuses, or one that is not a plain host[:port]', () => {
    for (const host of [
      undefined,
      '',
      'evil.test',
      '127.0.0.1:3001',
      "tickdeck.example;script-src 'unsafe-inline'",
      'tickdeck.example, evil.test',
      'tickdeck.example evil.test',
      'user@tickdeck.example',
      'tickdeck.example/path',
    ]) {
      expect(socketSources(host, allows), String(host)).toBe('');
    }
  });
});

describe(securityHeaders.name, () => {
  it("sets the dashboard's policy, nosniff, no-referrer and DENY, and no HSTS without TLS", async () => {
    const h = await headersFor('/', '127.0.0.1:3000');
    expect(h['content-security-policy']).toBe(
      "default-src 'self';base-uri 'none';script-src 'self';script-src-attr 'none';style-src 'self';" +
        "img-src 'self';font-src 'self';connect-src 'self' ws://127.0.0.1:3000;object-src 'none';" +
        "form-action 'self';frame-ancestors 'none'",
    );
    expect(h).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
    expect(h['strict-transport-security']).toBeUndefined();
    expect(directive(await headersFor('/api/snapshot', 'evil.test'), 'connect-src')).toBe("connect-src 'self' ");
  });

  it('gives the Swagger UI its relaxed styles and images, and only under its path', async () => {
    for (const path of [DOCS_PATH, `${DOCS_PATH}/`, `${DOCS_PATH}/swagger-ui-bundle.js`]) {
      const h = await headersFor(path, '127.0.0.1:3000');
      expect(directive(h, 'style-src'), path).toBe("style-src 'self' 'unsafe-inline'");
      expect(directive(h, 'img-src'), path).toBe("img-src 'self' data:");
      expect(directive(h, 'script-src'), path).toBe("script-src 'self'");
      expect(directive(h, 'frame-ancestors'), path).toBe("frame-ancestors 'none'");
    }
    for (const path of [`${DOCS_PATH}-json`, `${DOCS_PATH}x`, '/api']) {
      expect(directive(await headersFor(path, '127.0.0.1:3000'), 'style-src'), path).toBe("style-src 'self'");
    }
  });

  it('sends HSTS when the gateway serves https itself', async () => {
    expect((await headersFor('/', '127.0.0.1:3000', true))['strict-transport-security']).toBe('max-age=31536000');
  });
});
