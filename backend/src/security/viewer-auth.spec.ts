import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ViewerAuth } from './viewer-auth.js';

const SECRET = 'a-secret-of-at-least-thirty-two-chars!';
const sign = (exp: number, secret = SECRET, alg = 'HS256') =>
  new SignJWT({ sub: 'x' }).setProtectedHeader({ alg }).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
const now = () => Math.floor(Date.now() / 1000);

describe(ViewerAuth.name, () => {
  it('is off without tokens or a secret', () => {
    expect(new ViewerAuth(undefined, undefined).enabled).toBe(false);
    expect(new ViewerAuth(['t0ken-123'], undefined).enabled).toBe(true);
  });

  it('accepts a configured static token, refuses others without echoing them', async () => {
    const auth = new ViewerAuth(['first-token', 'second-token'], undefined);
    await expect(auth.verify('second-token')).resolves.toEqual({ expiresAt: undefined });
    for (const bad of ['second-tokeN', '', undefined, 42, 'x'.repeat(10_000)]) {
      const err = await auth.verify(bad).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).not.toContain('second');
    }
  });

  it('accepts an HS256 JWT with exp, and says when it expires', async () => {
    const auth = new ViewerAuth(undefined, SECRET);
    const exp = now() + 60;
    await expect(auth.verify(await sign(exp))).resolves.toEqual({ expiresAt: exp * 1000 });
    await expect(auth.verify(await sign(now() - 10))).rejects.toThrow('token expired');
    await expect(auth.verify(await sign(exp, 'another-secret-of-thirty-two-chars!!'))).rejects.toThrow('invalid token');
    await expect(auth.verify(await sign(exp, SECRET, 'HS512'))).rejects.toThrow('invalid token');
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    await expect(auth.verify(noExp)).rejects.toThrow('invalid token');
  });

  it('reads only a well-formed Bearer header', () => {
    expect(ViewerAuth.bearer('Bearer abc.def')).toBe('abc.def');
    expect(ViewerAuth.bearer('bearer abc')).toBe('abc');
    expect(ViewerAuth.bearer('Basic abc')).toBeUndefined();
    expect(ViewerAuth.bearer('Bearer a b')).toBeUndefined();
    expect(ViewerAuth.bearer(undefined)).toBeUndefined();
  });
});
