/**
 * Tests of the key-part encoding (src/store/key-parts.ts): the shortcut for parts that need no escaping
 * gives exactly what the full encoding gives, separators and the wildcard never survive, and decoding
 * inverts it.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { decodePart, encodePart } from '../../../src/store/key-parts.js';

const full = (s: string) => encodeURIComponent(s).replace(/\*/g, '%2A');

describe('encodePart', () => {
  it('matches the full encoding for plain and special parts alike', () => {
    const parts = [
      'acme',
      'svc-ci',
      'u_1.x',
      "a!b~c'(d)",
      '',
      'acme/x',
      'a:b',
      'a|b',
      '*',
      'alice@example.com',
      'ü',
      ' ',
    ];
    for (let c = 0; c < 256; c++) parts.push(String.fromCharCode(c), `x${String.fromCharCode(c)}y`);
    for (const p of parts) {
      expect(encodePart(p)).toBe(full(p));
      expect(decodePart(encodePart(p))).toBe(p);
      expect(encodePart(p)).not.toMatch(/[/:|*]/);
    }
  });

  it('encodes null and undefined as the empty part', () => {
    expect([encodePart(null), encodePart(undefined)]).toEqual(['', '']);
  });
});
