import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConnectionLimiter } from './connection-limiter.js';

const req = (remoteAddress: string, forwarded?: string) =>
  ({ socket: { remoteAddress }, headers: forwarded ? { 'x-forwarded-for': forwarded } : {} }) as IncomingMessage;

describe(ConnectionLimiter.name, () => {
  it('caps per address and in total, and frees a slot on close', () => {
    const limiter = new ConnectionLimiter(3, 2, false);
    limiter.opened('a');
    limiter.opened('a');
    expect(limiter.check('a')?.message).toMatch(/MAX_CONNECTIONS_PER_IP=2/);
    expect(limiter.check('b')).toBeNull();
    limiter.opened('b');
    expect(limiter.check('c')?.message).toMatch(/MAX_CONNECTIONS=3/);
    limiter.closed('a');
    limiter.closed('nobody');
    expect(limiter.connections).toBe(2);
    expect(limiter.check('a')).toBeNull();
    expect(limiter.check('c')).toBeNull();
  });

  it('takes the address from the last X-Forwarded-For hop only behind a trusted proxy', () => {
    expect(new ConnectionLimiter(1, 1, false).addressOf(req('10.0.0.9', '1.2.3.4'))).toBe('10.0.0.9');
    expect(new ConnectionLimiter(1, 1, true).addressOf(req('10.0.0.9', 'spoofed, 1.2.3.4'))).toBe('1.2.3.4');
    expect(new ConnectionLimiter(1, 1, true).addressOf(req('10.0.0.9'))).toBe('10.0.0.9');
  });
});
