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

  it('counts the addresses of one IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 one', () => {
    // A host is handed a /64: counted per address, one client took all the anonymous slots alone (the bound
    // below), and every other anonymous caller's event streams got 429.
    const counts = new StreamCounts(2);
    expect(counts.open(ANONYMOUS, '2001:db8:0:1::1')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '2001:db8:0:1::2')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '2001:db8:0:1:ffff::3')).toBeUndefined();
    expect(counts.open(ANONYMOUS, '2001:db8:0:2::1')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '198.51.100.7')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '::ffff:198.51.100.7')).toBeTypeOf('function');
    expect(counts.open(ANONYMOUS, '198.51.100.7')).toBeUndefined();
  });

  it(`caps all anonymous streams together at ${MAX_ANONYMOUS_STREAMS}, whatever the addresses`, () => {
    const counts = new StreamCounts(32);
    const closers = Array.from({ length: MAX_ANONYMOUS_STREAMS }, (_, i) =>
      counts.open(ANONYMOUS, `2001:db8:${i.toString(16)}::1`),
    );
    expect(closers.every((c) => typeof c === 'function')).toBe(true);
    expect(counts.open(ANONYMOUS, '2001:db8:ffff::1')).toBeUndefined();
    // Signed-in callers are not affected, and a closed stream frees a slot.
    expect(counts.open(principal({ id: 'alice' }), '2001:db8::1')).toBeTypeOf('function');
    closers[0]?.();
    expect(counts.open(ANONYMOUS, '2001:db8:ffff::1')).toBeTypeOf('function');
  });
});
