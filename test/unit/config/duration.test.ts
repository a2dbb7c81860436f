/**
 * Human durations for the CLI (`--expires-in`, `--for`) and the report (`--since`): the units, and a bound
 * that keeps a typo (extra zeros) from reaching the store as a time no date can hold.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { durationMs, parseDuration } from '../../../src/config/duration.js';

describe('parseDuration', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
  });

  it('refuses what is no duration, or none', () => {
    expect(() => parseDuration('90')).toThrow('bad duration "90" (use e.g. 90s, 15m, 1h, 30d, 2w)');
    expect(() => parseDuration('0s')).toThrow('duration must be positive: "0s"');
    // The whole text is the duration: no trailing unit or word is dropped (1h30m is not 1h).
    for (const text of ['1h30m', '90sx', '15m ago']) {
      expect(durationMs(text), text).toBeUndefined();
      expect(() => parseDuration(text)).toThrow(`bad duration "${text}"`);
    }
  });

  it('refuses more than 100 years, which would be no date at all (a typo)', () => {
    expect(parseDuration('5200w')).toBe(5200 * 604_800_000);
    // 100000000d is past the last date JavaScript can hold: `keys create` said "expiresAt is not a valid
    // date" and `tokens revoke` passed it to Redis ("ERR value is not a valid float").
    for (const text of ['36600d', '100000000d', '99999999999999999999d']) {
      expect(() => parseDuration(text)).toThrow(`duration too long: "${text}" (at most 100 years)`);
    }
    expect(durationMs('100000000d')).toBe(100_000_000 * 86_400_000);
  });
});
