import {
  HttpException,
  HttpStatus,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '@tickdeck/protocol';
import type { Request, Response } from 'express';
import { AuthError, ViewerAuth } from './viewer-auth.js';

const PUBLIC = 'tickdeck:public';
/** Marks a route that stays open when viewer auth is on (liveness for load balancers). */
export const Public = () => SetMetadata(PUBLIC, true);

/**
 * REST side of viewer auth: when `AUTH_TOKENS` or `AUTH_JWT_SECRET` is set, every route but the
 * {@link Public} ones needs `Authorization: Bearer <token>`; otherwise 401 `{error: {code: UNAUTHORIZED}}`.
 */
@Injectable()
export class RestAuthGuard implements CanActivate {
  constructor(
    private readonly auth: ViewerAuth,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Global guards also wrap gateway handlers: sockets were authenticated at the handshake.
    if (!this.auth.enabled || context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const http = context.switchToHttp();
    const token = ViewerAuth.bearer(http.getRequest<Request>().headers.authorization);
    try {
      await this.auth.verify(token);
      return true;
    } catch (err) {
      http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      const message = err instanceof AuthError ? err.message : 'invalid token';
      throw new HttpException(
        { code: ErrorCode.UNAUTHORIZED, message: `${message} (send Authorization: Bearer <token>)` },
        HttpStatus.UNAUTHORIZED,
      );
    }
  }
}
