import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { RedisIoAdapter } from './cluster/redis-io.adapter.js';
import { ConfigError, loadConfig, LOG_LEVELS, type AppConfig } from './config/config.js';
import { ExpressServerAdapter } from './ops/express-server.adapter.js';
import { HttpErrorFilter } from './ops/http-error.filter.js';
import {
  applyHttpCaps,
  CONNECTIONS_CHECKING_INTERVAL_MS,
  describeHttpLimits,
  httpCaps,
  readOpenFilesLimit,
} from './ops/http-limits.js';
import { setupOpenApi } from './ops/openapi.js';
import { armShutdownDeadline, SHUTDOWN_SIGNALS } from './ops/shutdown.service.js';
import { OriginPolicy } from './security/origin-policy.js';
import { RefusalLog } from './security/refusal-log.js';
import { LeanIoAdapter } from './stream/lean-io.adapter.js';

const STATIC_DIR = fileURLToPath(new URL('../../frontend/dist', import.meta.url));

async function bootstrap(config: AppConfig): Promise<void> {
  const logger = new ConsoleLogger('tickdeck', {
    logLevels: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.logLevel) + 1),
    colors: Boolean(process.stdout.isTTY),
  });
  // Node checks the headers and request timeouts every second, not every 30 s: a half-open request
  // holds its descriptor for HTTP_HEADERS_TIMEOUT_MS (+1 s), then gets a 408.
  const adapter = new ExpressServerAdapter({
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    headersTimeout: config.http.headersTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    handshakeTimeout: config.http.headersTimeoutMs,
  });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), adapter, {
    logger,
    // TLS_CERT + TLS_KEY: the same port serves https and wss.
    ...(config.tls && { httpsOptions: { cert: config.tls.cert, key: config.tls.key } }),
  });
  const fdLimit = readOpenFilesLimit();
  const caps = httpCaps(config, fdLimit);
  const httpLog = new Logger('HttpLimits');
  // The gateway's one refusal log: counted in tickdeck_refusals_total, flushed at shutdown.
  applyHttpCaps(app.getHttpServer(), caps, app.get(RefusalLog));
  httpLog.log(describeHttpLimits(caps, fdLimit, config.http));
  for (const warning of caps.warnings) httpLog.warn(warning);
  // Cluster mode: the same lean adapter with the Socket.IO Redis adapter attached.
  app.useWebSocketAdapter(config.redisUrl ? new RedisIoAdapter(app, config.redisUrl) : new LeanIoAdapter(app));
  app.useGlobalFilters(new HttpErrorFilter());
  const origins = app.get(OriginPolicy);
  // REST has no cookie auth, so it cannot be hijacked by origin; its CORS headers follow the same list.
  app.enableCors({ origin: (origin, cb) => cb(null, origins.allows(origin)) });
  // ShutdownService does the graceful part; then exit 0, or 1 if it overruns the deadline.
  app.enableShutdownHooks([...SHUTDOWN_SIGNALS], { useProcessExit: true });
  armShutdownDeadline();
  setupOpenApi(app);
  const dashboard = config.dashboardDir ?? STATIC_DIR;
  if (existsSync(dashboard)) {
    app.useStaticAssets(dashboard, { index: 'index.html', maxAge: '1h' });
  } else {
    Logger.warn(`no dashboard build at ${dashboard}: run \`npm run build\` (npm start does it for you)`, 'tickdeck');
  }
  await (config.host ? app.listen(config.port, config.host) : app.listen(config.port));
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  origins.listening(port);
  Logger.log(`allowed origins: ${origins.origins.join(' ')}`, 'tickdeck');
  const host = config.host && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : 'localhost';
  // Printed whatever LOG_LEVEL says: scripts and tests wait for this line.
  const scheme = config.tls ? 'https' : 'http';
  console.log(`tickdeck listening on ${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

let config: AppConfig;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`tickdeck: ${err.message}`);
  process.exit(1);
}
bootstrap(config).catch((err: unknown) => {
  console.error('tickdeck: failed to start:', err);
  process.exit(1);
});
