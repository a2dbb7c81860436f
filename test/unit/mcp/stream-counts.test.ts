import { describe, expect, it } from 'vitest';
import { StreamCounts } from '../../../src/mcp/stream-counts.js';
import { principal } from '../../helpers/principal.js';

describe('StreamCounts', () => {
  it('counts per caller up to the bound, and frees a slot once (closing twice is harmless)', () => {
    const counts = new StreamCounts(2);
    const alice = principal({ id: 'alice' });
    const a1 = counts.open(alice);
    const a2 = counts.open(alice);
    expect(a1 && a2).toBeTruthy();
    expect(counts.open(alice)).toBeUndefined();
    expect(counts.open(principal({ id: 'bob' }))).toBeTypeOf('function');
    a1?.();
    a1?.();
    const a3 = counts.open(alice);
    expect(a3).toBeTypeOf('function');
    expect(counts.open(alice)).toBeUndefined();
  });
});
