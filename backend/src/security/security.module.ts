import { Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ConnectionGate } from './connection-gate.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { OriginPolicy } from './origin-policy.js';
import { RefusalLog } from './refusal-log.js';
import { RestAuthGuard } from './rest-auth.guard.js';
import { ViewerAuth } from './viewer-auth.js';
import { ViewerSession } from './viewer-session.js';

/**
 * Who may connect and what they may hold: the connection gate for every namespace (Origin, caps,
 * frames, CONNECTs), the `/market` viewer session (auth, rate limit, expiry), REST auth (a global
 * guard), and the one refusal log.
 */
@Module({
  providers: [
    {
      provide: OriginPolicy,
      useFactory: (config: AppConfig) =>
        new OriginPolicy(config.security.allowedOrigins, config.host, config.tls !== undefined),
      inject: [APP_CONFIG],
    },
    {
      provide: ViewerAuth,
      useFactory: (config: AppConfig) => new ViewerAuth(config.security.authTokens, config.security.jwtSecret),
      inject: [APP_CONFIG],
    },
    {
      provide: RefusalLog,
      useFactory: (config: AppConfig) => {
        const logger = new Logger('Refusals');
        return new RefusalLog({ warn: (m) => logger.warn(m) }, config.refusalLogIntervalMs);
      },
      inject: [APP_CONFIG],
    },
    {
      provide: ConnectionGate,
      useFactory: (config: AppConfig, origins: OriginPolicy, refusals: RefusalLog) =>
        new ConnectionGate(
          origins,
          new ConnectionLimiter(
            config.limits.maxConnections,
            config.limits.maxConnectionsPerIp,
            config.security.trustProxy,
          ),
          refusals,
          config.limits,
        ),
      inject: [APP_CONFIG, OriginPolicy, RefusalLog],
    },
    {
      provide: ViewerSession,
      useFactory: (config: AppConfig, gate: ConnectionGate, auth: ViewerAuth, refusals: RefusalLog) =>
        new ViewerSession(gate, auth, refusals, config.limits),
      inject: [APP_CONFIG, ConnectionGate, ViewerAuth, RefusalLog],
    },
    { provide: APP_GUARD, useClass: RestAuthGuard },
  ],
  exports: [OriginPolicy, ViewerAuth, RefusalLog, ConnectionGate, ViewerSession],
})
export class SecurityModule {}
