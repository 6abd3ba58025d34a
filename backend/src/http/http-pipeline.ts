import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '../config/config.js';
import { accessLog } from './access-log.js';
import { DashboardAssets } from './dashboard-assets.js';
import { restCompression } from './rest-compression.js';
import { securityHeaders } from './security-headers.js';

export interface HttpPipelineOptions {
  config: Pick<AppConfig, 'logFormat' | 'tls'>;
  /** The Origin allowlist (OriginPolicy.allows): which pages may open sockets, for connect-src. */
  allowsOrigin: (origin: string) => boolean;
  /** The dashboard build to serve at `/`. */
  dashboardDir: string;
}

/**
 * Puts the gateway's Express middleware in order, ahead of the Nest routes: the access log (first,
 * so it times the whole response), the security headers, the dashboard (each file compressed once),
 * then on-the-fly compression for REST and the API docs. Engine.IO answers `/socket.io/` before
 * Express sees it, so none of this touches the viewers' transport.
 */
export function applyHttpPipeline(app: NestExpressApplication, options: HttpPipelineOptions): void {
  app.disable('x-powered-by');
  app.use(accessLog(new Logger('HTTP'), options.config.logFormat === 'json'));
  app.use(securityHeaders({ allowsOrigin: options.allowsOrigin, tls: Boolean(options.config.tls) }));
  const dashboard = resolve(options.dashboardDir);
  if (existsSync(dashboard)) {
    const assets = new DashboardAssets(dashboard, (message) => Logger.warn(message, DashboardAssets.name));
    app.use(assets.middleware);
    app.useStaticAssets(dashboard, { index: 'index.html', setHeaders: assets.setHeaders });
  } else {
    Logger.warn(`no dashboard build at ${dashboard}: run \`npm run build\` (npm start does it for you)`, 'tickdeck');
  }
  app.use(restCompression());
}
