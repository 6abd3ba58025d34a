import { errors, jwtVerify } from 'jose';
import { Secrets } from './secrets.js';

/** A verified viewer credential. */
export interface Grant {
  /** Epoch ms the credential stops being valid (a JWT's `exp`); undefined = never. */
  expiresAt: number | undefined;
}

/** Why a credential was refused; the message is safe to show and never contains the token. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}

/**
 * Viewer authentication, opt-in: static tokens (`AUTH_TOKENS`) and/or HS256 JWTs with `exp`
 * (`AUTH_JWT_SECRET`). Off when neither is configured. Tokens are compared as SHA-256 digests in
 * constant time, and never logged or echoed.
 */
export class ViewerAuth {
  private readonly tokens: Secrets;
  private readonly secret: Uint8Array | undefined;

  constructor(tokens: readonly string[] | undefined, jwtSecret: string | undefined) {
    this.tokens = new Secrets(tokens ?? []);
    this.secret = jwtSecret === undefined ? undefined : new TextEncoder().encode(jwtSecret);
  }

  get enabled(): boolean {
    return this.tokens.size > 0 || this.secret !== undefined;
  }

  /** Resolves with the grant, or rejects with an {@link AuthError}. */
  async verify(token: unknown): Promise<Grant> {
    if (typeof token !== 'string' || token === '') throw new AuthError('a token is required');
    if (token.length > 8192) throw new AuthError('invalid token');
    if (this.tokens.matches(token)) return { expiresAt: undefined };
    if (this.secret && token.split('.').length === 3) {
      try {
        const { payload } = await jwtVerify(token, this.secret, { algorithms: ['HS256'], requiredClaims: ['exp'] });
        return { expiresAt: (payload.exp as number) * 1000 };
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new AuthError('token expired');
        throw new AuthError('invalid token');
      }
    }
    throw new AuthError('invalid token');
  }

  /** The token of an `Authorization: Bearer <token>` header, or undefined. */
  static bearer(header: string | string[] | undefined): string | undefined {
    const h = Array.isArray(header) ? header[0] : header;
    const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    return m?.[1];
  }
}
