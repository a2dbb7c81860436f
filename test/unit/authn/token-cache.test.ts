import { describe, expect, it } from 'vitest';
import { ANONYMOUS } from '../../../src/authn/principal.js';
import { TokenCache, tokenKey } from '../../../src/authn/token-cache.js';

describe('tokenKey', () => {
  it('is the sha256 of the token, not the token', () => {
    expect(tokenKey('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(tokenKey('abc')).not.toContain('abc');
  });
});

describe('TokenCache', () => {
  it('returns an entry until its expiry, then forgets it', () => {
    const c = new TokenCache(10);
    c.set('k', ANONYMOUS, 2_000, 1_000);
    expect(c.get('k', 1_999)).toBe(ANONYMOUS);
    expect(c.get('k', 2_000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('keeps an entry no longer than its lifetime when the wall clock is stepped back', () => {
    const mono = { t: 50_000 };
    const c = new TokenCache(10, () => mono.t);
    c.set('k', ANONYMOUS, 61_000, 1_000); // 60 s
    // The wall clock steps back an hour; 59 s pass, then 60.
    mono.t += 59_000;
    expect(c.get('k', 1_000 - 3_600_000 + 59_000)).toBe(ANONYMOUS);
    mono.t += 1_000;
    expect(c.get('k', 1_000 - 3_600_000 + 60_000)).toBeUndefined();
  });

  it('ignores entries that are already expired', () => {
    const c = new TokenCache(10);
    c.set('k', ANONYMOUS, 1_000, 1_000);
    expect(c.size).toBe(0);
  });

  it('evicts the oldest entry when full', () => {
    const c = new TokenCache(2);
    c.set('a', ANONYMOUS, 10_000, 0);
    c.set('b', ANONYMOUS, 10_000, 0);
    c.set('c', ANONYMOUS, 10_000, 0);
    expect(c.get('a', 1)).toBeUndefined();
    expect(c.get('b', 1)).toBe(ANONYMOUS);
    expect(c.get('c', 1)).toBe(ANONYMOUS);
  });

  it('is disabled with maxEntries 0', () => {
    const c = new TokenCache(0);
    c.set('a', ANONYMOUS, 10_000, 0);
    expect(c.get('a', 1)).toBeUndefined();
  });
});
