import { describe, expect, it } from 'vitest';
import { ANONYMOUS } from '../../../src/authn/principal.js';
import { MAX_ANONYMOUS_STREAMS, StreamCounts } from '../../../src/mcp/stream-counts.js';
import { principal } from '../../helpers/principal.js';

const IP = '203.0.113.1';

describe('StreamCounts', () => {
  it('counts per caller up to the bound, and frees a slot once (closing twice is harmless)', () => {
    const counts = new StreamCounts(2);
    const alice = principal({ id: 'alice' });
    const a1 = counts.open(alice, IP);
    const a2 = counts.open(alice, IP);
    expect(a1 && a2).toBeTruthy();
    expect(counts.open(alice, IP)).toBeUndefined();
    expect(counts.open(principal({ id: 'bob' }), IP)).toBeTypeOf('function');
    a1?.();
    a1?.();
    const a3 = counts.open(alice, IP);
    expect(a3).toBeTypeOf('function');
    expect(counts.open(alice, IP)).toBeUndefined();
  });

  it('counts anonymous callers, who are all one principal, per client address', () => {
    const counts = new StreamCounts(1);
    expect(counts.open(ANONYMOUS, '203.0.113.1')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '203.0.113.1')).toBeUndefined();
    expect(counts.open(ANONYMOUS, '203.0.113.2')).toBeTypeOf('function');
    // A signed-in caller is counted as itself, whatever its address.
    const alice = principal({ id: 'alice' });
    expect(counts.open(alice, '203.0.113.1')).toBeTypeOf('function');
    expect(counts.open(alice, '203.0.113.9')).toBeUndefined();
  });

  it(`caps all anonymous streams together at ${MAX_ANONYMOUS_STREAMS}, whatever the addresses`, () => {
    const counts = new StreamCounts(32);
    const closers = Array.from({ length: MAX_ANONYMOUS_STREAMS }, (_, i) =>
      counts.open(ANONYMOUS, `2001:db8::${i.toString(16)}`),
    );
    expect(closers.every((c) => typeof c === 'function')).toBe(true);
    expect(counts.open(ANONYMOUS, '2001:db8::ffff')).toBeUndefined();
    // Signed-in callers are not affected, and a closed stream frees a slot.
    expect(counts.open(principal({ id: 'alice' }), '2001:db8::1')).toBeTypeOf('function');
    closers[0]?.();
    expect(counts.open(ANONYMOUS, '2001:db8::ffff')).toBeTypeOf('function');
  });
});
