import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/** Where the Swagger UI lives (`setupOpenApi`): it gets {@link DOCS_DIRECTIVES}, the rest the dashboard's. */
export const DOCS_PATH = '/api/docs';

type Directives = NonNullable<NonNullable<Exclude<HelmetOptions['contentSecurityPolicy'], boolean>>['directives']>;

/** A `Host` header fit to name in a policy: a DNS name or a bracketed IPv6 address, and a port. */
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The WebSocket sources for a page loaded through `host`: `ws://host` if `http://host` is an
 * origin the gateway lets open sockets, `wss://host` if `https://host` is (behind a TLS proxy the
 * gateway sees http, the page is https: ALLOWED_ORIGINS names the https origin). Empty for a host
 * the Origin policy would refuse anyway, or one that is not a plain host[:port].
 */
export function socketSources(host: string | undefined, allowsOrigin: (origin: string) => boolean): string {
  if (!host || !HOST.test(host)) return '';
  const sources: string[] = [];
  for (const [page, socket] of [
    ['http', 'ws'],
    ['https', 'wss'],
  ] as const) {
    if (allowsOrigin(new URL(`${page}://${host}`).origin)) sources.push(`${socket}://${host}`);
  }
  return sources.join(' ');
}

/**
 * The dashboard's policy (and every other response's): its own scripts and styles only, no inline
 * code, no plugins, no framing, HTTP to its own origin and WebSockets to its own host. `'self'`
 * covers ws/wss of the same host in CSP 3 browsers; the explicit `ws(s)://host` is for the others.
 */
export function dashboardDirectives(allowsOrigin: (origin: string) => boolean): Directives {
  return {
    defaultSrc: ["'self'"],
    baseUri: ["'none'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    fontSrc: ["'self'"],
    connectSrc: ["'self'", (req: IncomingMessage) => socketSources(req.headers.host, allowsOrigin)],
    objectSrc: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
}

/**
 * The Swagger UI's policy: its page carries an inline `<style>` and `style` attributes, and its
 * icons are `data:` images; scripts stay `'self'` only.
 */
export const DOCS_DIRECTIVES: Directives = {
  defaultSrc: ["'self'"],
  baseUri: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Helmet's headers with the given policy: nosniff, no-referrer, DENY framing, HSTS over TLS only. */
function headers(directives: Directives, tls: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives },
    // HSTS pins the host to https for a year: only when this process serves https itself.
    strictTransportSecurity: tls ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  }) as RequestHandler;
}

export interface SecurityHeadersOptions {
  /** The Origin allowlist (`OriginPolicy.allows`): which pages may open sockets. */
  allowsOrigin: (origin: string) => boolean;
  /** TLS_CERT is set: this process serves https (and sends HSTS). */
  tls: boolean;
}

/**
 * Express middleware setting the security headers on every HTTP response the gateway's Express
 * stack writes: the dashboard's Content-Security-Policy, and under {@link DOCS_PATH} the Swagger
 * UI's. Engine.IO's own responses never pass through Express (it answers `/socket.io/` first).
 */
export function securityHeaders(options: SecurityHeadersOptions): RequestHandler {
  const dashboard = headers(dashboardDirectives(options.allowsOrigin), options.tls);
  const docs = headers(DOCS_DIRECTIVES, options.tls);
  return (req: Request, res: Response, next: NextFunction) => {
    const underDocs = req.path === DOCS_PATH || req.path.startsWith(`${DOCS_PATH}/`);
    return (underDocs ? docs : dashboard)(req, res, next);
  };
}
