import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../../../src/http/auth-limiter.js';
import { hostName, isAllowedHost } from '../../../src/http/host-guard.js';

describe('host guard (pure)', () => {
  it('extracts the host name from Host headers', () => {
    expect(hostName('LocalHost:8080')).toBe('localhost');
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('::1')).toBe('::1');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
  });

  it.each([
    ['localhost:8080', '127.0.0.1', false, true],
    ['localhost.:8080', '127.0.0.1', false, true],
    ['127.3.4.5', '127.0.0.1', false, true],
    ['[::1]:1', '::1', false, true],
    ['evil.example', '127.0.0.1', false, false],
    ['evil.example', '127.0.0.1', true, false], // loopback + token: still loopback names only
    ['evil.example', '0.0.0.0', true, true], // LAN + token: the token protects
    ['192.168.1.5:8080', '192.168.1.5', true, true],
    ['', '127.0.0.1', false, true], // HTTP/1.0 without Host
    [':8080', '127.0.0.1', false, false],
  ])('Host %j, bound to %s, token %s → %s', (header, bindHost, hasToken, allowed) => {
    expect(isAllowedHost(header, { bindHost, hasToken })).toBe(allowed);
  });
});

describe('wrong-token limiter (fake clock)', () => {
  it('blocks after N failures in the window, per client, and forgets after the window', () => {
    let now = 1_000_000;
    const limiter = new AuthFailureLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs('10.0.0.1')).toBe(0);
      limiter.fail('10.0.0.1');
      now += 1000;
    }
    expect(limiter.retryAfterMs('10.0.0.1')).toBe(60_000 - 3000);
    expect(limiter.retryAfterMs('10.0.0.2')).toBe(0);
    now += 57_001;
    expect(limiter.retryAfterMs('10.0.0.1')).toBe(0);
  });

  it('keeps at most maxClients addresses', () => {
    const limiter = new AuthFailureLimiter({ maxFailures: 1, windowMs: 60_000, now: () => 0, maxClients: 2 });
    limiter.fail('a');
    limiter.fail('b');
    limiter.fail('c');
    expect(limiter.retryAfterMs('a')).toBe(0);
    expect(limiter.retryAfterMs('c')).toBeGreaterThan(0);
  });
});
