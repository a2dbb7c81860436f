import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, retryAfterSeconds } from '../../../src/ratelimit/headers.js';
import type { TakeResult } from '../../../src/ratelimit/types.js';

const SPEC = { capacity: 20, refillPerSecond: 2 };

function result(r: Partial<TakeResult>): TakeResult {
  return { allowed: true, limit: 20, remaining: 19, retryAfterMs: 0, resetMs: 500, source: 'memory', ...r };
}

describe('rateLimitHeaders', () => {
  it('sends the policy and the current state when allowed, without Retry-After', () => {
    expect(rateLimitHeaders(result({}), SPEC)).toEqual({
      'ratelimit-policy': '"default";q=20;w=10',
      ratelimit: '"default";r=19;t=1',
    });
  });

  it('adds Retry-After in whole seconds, rounded up, when refused', () => {
    const h = rateLimitHeaders(
      result({ allowed: false, remaining: 0, retryAfterMs: 1_001, resetMs: 10_000 }),
      SPEC,
    );
    expect(h).toEqual({
      'ratelimit-policy': '"default";q=20;w=10',
      ratelimit: '"default";r=0;t=10',
      'retry-after': '2',
    });
  });

  it('never says Retry-After: 0', () => {
    expect(rateLimitHeaders(result({ allowed: false, retryAfterMs: 1 }), SPEC)['retry-after']).toBe('1');
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(3_000)).toBe(3);
  });

  it('rounds the window up for slow refills and names the policy', () => {
    const h = rateLimitHeaders(result({ resetMs: 0 }), { capacity: 5, refillPerSecond: 0.3 }, 'tier-gold');
    expect(h['ratelimit-policy']).toBe('"tier-gold";q=5;w=17');
    expect(h.ratelimit).toBe('"tier-gold";r=19;t=0');
  });

  it('keeps w and t within the 15 digits of a structured-field integer at the largest limits accepted', () => {
    const h = rateLimitHeaders(result({ remaining: 0, resetMs: 1e18 }), {
      capacity: 1e9,
      refillPerSecond: 1e-6,
    });
    expect(h['ratelimit-policy']).toBe('"default";q=1000000000;w=999999999999999');
    expect(h.ratelimit).toBe('"default";r=0;t=999999999999999');
  });

  it('escapes the policy name as a structured-field string', () => {
    const h = rateLimitHeaders(result({}), SPEC, 'a"b\\c\nd');
    expect(h['ratelimit-policy']).toBe('"a\\"b\\\\c_d";q=20;w=10');
  });
});
