/**
 * A policy's reason as the record, the decision span and the report keep it (src/audit/scrubbed-reason.ts):
 * secrets found by value, then URI secrets, in the part scanned; nothing past it is kept.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { SCRUB_WINDOW } from '../../../src/audit/mask.js';
import { scrubbedReason } from '../../../src/audit/scrubbed-reason.js';

describe('scrubbedReason', () => {
  it('redacts secrets by value, then the secrets of the URIs it names', () => {
    expect(
      scrubbedReason(`key ghp_${'S3cR'.repeat(9)} may not read https://b.example/r?X-Amz-Signature=abc&v=1`),
    ).toBe('key [redacted] may not read https://b.example/r?X-Amz-Signature=REDACTED&v=1');
    expect(scrubbedReason('not_in_role')).toBe('not_in_role');
  });

  it('keeps only the part it scanned, marked as cut: a secret past it is not written', () => {
    const head = 'x'.repeat(SCRUB_WINDOW - 5);
    const out = scrubbedReason(`${head} Bearer Zm9vOmJhcjEyMzQ1Ng== ghp_${'S3cR'.repeat(9)}`);
    expect(out).toBe(`${head} Bear…`);
  });
});
