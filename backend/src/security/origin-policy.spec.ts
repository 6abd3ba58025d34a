import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { OriginPolicy } from './origin-policy.js';

describe(OriginPolicy.name, () => {
  it('allows exactly the configured origins', () => {
    const p = new OriginPolicy(['https://app.example.com', 'http://localhost:8080'], undefined, false);
    p.listening(3000);
    expect(p.allows('https://app.example.com')).toBe(true);
    expect(p.allows('http://localhost:8080')).toBe(true);
    for (const o of [
      'http://localhost:3000',
      'https://app.example.com.evil.test',
      'https://app.example.com:443.evil.test',
      'http://app.example.com',
      'https://app.example.com/',
      'null',
      '',
    ]) {
      expect(p.allows(o), o).toBe(false);
    }
  });

  it('defaults to its own loopback origins at the real port, HOST, and the Vite dev server', () => {
    const p = new OriginPolicy(undefined, 'tickdeck.internal', false);
    expect(p.allows('http://localhost:41234')).toBe(false);
    p.listening(41234);
    for (const o of [
      'http://localhost:41234',
      'http://127.0.0.1:41234',
      'http://[::1]:41234',
      'http://tickdeck.internal:41234',
      'http://localhost:5173',
    ]) {
      expect(p.allows(o), o).toBe(true);
    }
    for (const o of ['http://localhost:41234.evil.test', 'https://localhost:41234', 'http://localhost:3000', 'null']) {
      expect(p.allows(o), o).toBe(false);
    }
  });

  it("listening on every interface, adds this machine's name", () => {
    const p = new OriginPolicy(undefined, undefined, false);
    p.listening(3000);
    expect(p.allows(`http://${hostname().toLowerCase()}:3000`)).toBe(true);
    expect(p.allows('http://localhost:3000')).toBe(true);
  });

  it('uses https for its own origins under TLS, and drops default ports as browsers do', () => {
    const p = new OriginPolicy(undefined, '127.0.0.1', true);
    p.listening(443);
    expect(p.allows('https://127.0.0.1')).toBe(true);
    expect(p.allows('http://127.0.0.1')).toBe(false);
  });

  it('lets a request without Origin through: non-browser clients send none', () => {
    expect(new OriginPolicy([], undefined, false).allows(undefined)).toBe(true);
  });
});
