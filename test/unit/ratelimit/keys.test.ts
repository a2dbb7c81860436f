import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '../../../src/authn/principal.js';
import { bucketKey, limitedKey } from '../../../src/ratelimit/keys.js';

function principal(tenant: string | null, id: string | null): Principal {
  return { ...ANONYMOUS, tenant, id, authMethod: 'jwt' };
}

describe('bucketKey', () => {
  const alice = principal('acme', 'alice');

  it('keys by scope', () => {
    expect(bucketKey('subject', alice, 'search')).toBe('subject:acme/alice');
    expect(bucketKey('subject_tool', alice, 'search')).toBe('subject_tool:acme/alice/search');
    expect(bucketKey('tenant', alice, 'search')).toBe('tenant:acme');
  });

  it('cannot be forged through separators in tenant, subject or tool', () => {
    const a = bucketKey('subject_tool', principal('acme/x', 'y'), 't');
    const b = bucketKey('subject_tool', principal('acme', 'x/y'), 't');
    const c = bucketKey('subject_tool', principal('acme', 'x'), 'y/t');
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a).toBe('subject_tool:acme%2Fx/y/t');
    expect(bucketKey('subject', principal('a:b', 'c'), 't')).not.toBe(
      bucketKey('subject', principal('a', 'b:c'), 't'),
    );
  });

  it('gives callers without a tenant or subject their own encoding', () => {
    expect(bucketKey('subject', principal(null, 'alice'), 't')).toBe('subject:/alice');
    expect(bucketKey('subject', ANONYMOUS, 't')).toBe('subject:/');
    expect(bucketKey('tenant', principal('*', 'a'), 't')).toBe('tenant:%2A');
  });
});

describe('limitedKey', () => {
  it('names the whole limit, so calls with different limits never share (and refill) one bucket', () => {
    const key = 'subject:acme/alice';
    const strict = limitedKey(key, { capacity: 10, refillPerSecond: 0.1 });
    expect(strict).not.toBe(limitedKey(key, { capacity: 10, refillPerSecond: 5 }));
    expect(strict).not.toBe(limitedKey(key, { capacity: 20, refillPerSecond: 0.1 }));
    expect(strict).toBe(limitedKey(key, { capacity: 10, refillPerSecond: 0.1 }));
  });
});
