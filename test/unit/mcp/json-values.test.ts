import { describe, expect, it } from 'vitest';
import { holdsMoreValues } from '../../../src/mcp/json-values.js';

describe('holdsMoreValues', () => {
  it('counts every array element, object member and container', () => {
    const v = { a: [1, 2, { b: null }], c: 'x' }; // root, a, 1, 2, {b}, b, c = 7
    expect(holdsMoreValues(v, 7)).toBe(false);
    expect(holdsMoreValues(v, 6)).toBe(true);
    expect(holdsMoreValues('x', 1)).toBe(false);
    expect(holdsMoreValues([], 0)).toBe(true);
  });

  it('stops once past the limit: a million values cost no more than the limit', () => {
    const huge = new Array(1_000_000).fill(0);
    expect(holdsMoreValues(huge, 10)).toBe(true);
    expect(holdsMoreValues({ k: huge }, 10)).toBe(true);
    expect(holdsMoreValues(huge, 1_000_001)).toBe(false);
  });
});
