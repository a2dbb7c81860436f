/**
 * The decision schema bounds the rate-limit obligation to what a bucket can work with: a capacity below 1
 * never lets a request pass (while telling the client to retry), and a refill so slow that the bucket's
 * expiry overflows made Redis refuse the script, which the limiter took for an outage of the store.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { cachedDecision, type Decision, PolicyResultSchema } from '../../../src/policy/decision.js';

const result = (rate_limit: unknown) => ({ allow: true, reasons: [], obligations: { rate_limit } });

describe('PolicyResultSchema rate_limit obligation', () => {
  it.each([
    { capacity: 0.5, refill_per_second: 1 },
    { capacity: 100, refill_per_second: 1e-14 },
    { capacity: 1e12, refill_per_second: 1 },
    { capacity: 10, refill_per_second: Number.POSITIVE_INFINITY },
  ])('refuses %j (a malformed decision is a deny)', (rl) => {
    expect(PolicyResultSchema.safeParse(result(rl)).success).toBe(false);
  });

  it.each([
    { capacity: 1, refill_per_second: 1e-6 },
    { capacity: 200, refill_per_second: 5 },
    { capacity: 1e9, refill_per_second: 1e9 },
  ])('accepts %j', (rl) => {
    expect(PolicyResultSchema.safeParse(result(rl)).success).toBe(true);
  });
});

describe('cachedDecision', () => {
  it('keeps the required scopes of a cached deny (the step-up challenge names them on every repeat)', () => {
    const deny: Decision = {
      allow: false,
      reasons: ['tool echo needs the OAuth scope mcp:echo; sign in again granting it'],
      obligations: {},
      sensitivity: 'public',
      requiredScopes: ['mcp:echo'],
      revision: 'r1',
      evalNs: 5,
    };
    expect(cachedDecision(deny, 1)).toEqual({ ...deny, evalNs: 1, cached: true });
    const { requiredScopes: _, ...without } = deny;
    expect(cachedDecision(without, 1)).not.toHaveProperty('requiredScopes');
  });
});
