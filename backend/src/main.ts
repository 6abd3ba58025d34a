import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { Logger, type ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { RedisIoAdapter } from './cluster/redis-io.adapter.js';
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';
import { applyHttpPipeline } from './http/http-pipeline.js';
import { createLogger, printAlways, printFatal, routeProcessOutput } from './http/logging.js';
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

async function bootstrap(config: AppConfig, logger: ConsoleLogger): Promise<void> {
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
    // No route takes a body: nothing is parsed, so nothing a client sends can end up in an error log.
    bodyParser: false,
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
  applyHttpPipeline(app, {
    config,
    allowsOrigin: (origin) => origins.allows(origin),
    dashboardDir: config.dashboardDir ?? STATIC_DIR,
  });
  // REST has no cookie auth, so it cannot be hijacked by origin; its CORS headers follow the same list.
  app.enableCors({ origin: (origin, cb) => cb(null, origins.allows(origin)) });
  // ShutdownService does the graceful part; then exit 0, or 1 if it overruns the deadline.
  app.enableShutdownHooks([...SHUTDOWN_SIGNALS], { useProcessExit: true });
  armShutdownDeadline();
  setupOpenApi(app);
  await (config.host ? app.listen(config.port, config.host) : app.listen(config.port));
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  origins.listening(port);
  Logger.log(`allowed origins: ${origins.origins.join(' ')}`, 'tickdeck');
  const host = config.host && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : 'localhost';
  // Printed whatever LOG_LEVEL says: scripts and tests wait for this line.
  const scheme = config.tls ? 'https' : 'http';
  printAlways(config.logFormat, `tickdeck listening on ${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

let config: AppConfig;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // LOG_FORMAT as set, even when the configuration around it is not valid.
  printFatal(process.env.LOG_FORMAT === 'json' ? 'json' : 'text', `tickdeck: ${err.message}`);
  process.exit(1);
}
const logger = createLogger(config);
routeProcessOutput(config.logFormat, logger);
bootstrap(config, logger).catch((err: unknown) => {
  printFatal(config.logFormat, 'tickdeck: failed to start:', err);
  process.exit(1);
});
