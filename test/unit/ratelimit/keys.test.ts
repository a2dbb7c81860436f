import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '../../../src/authn/principal.js';
import { bucketKey } from '../../../src/ratelimit/keys.js';

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
