/**
 * Tests of the failure texts (src/policy/eval-errors.ts): what the log, `/readyz` and `policy eval` say for
 * each kind of thing opa-wasm and the wasm runtime throw.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { errorText } from '../../../src/policy/eval-errors.js';

describe('errorText', () => {
  it('gives the message of an Error, a thrown string as it is', () => {
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText('entrypoint x is not valid in this instance')).toBe(
      'entrypoint x is not valid in this instance',
    );
  });

  it("gives the message text of a thrown plain object, as opa-wasm's missing builtin throws it", () => {
    const thrown = { message: 'not implemented: built-in function 3: time.diff' };
    expect(errorText(thrown)).toBe('not implemented: built-in function 3: time.diff');
  });

  it('gives the JSON of anything else thrown', () => {
    expect(errorText({ code: 7 })).toBe('{"code":7}');
    expect(errorText({ message: 42 })).toBe('{"message":42}');
    expect(errorText(undefined)).toBe('undefined');
  });

  it('explains the wasm runtime terse conflict messages', () => {
    expect(errorText(new Error('policy.rego:3:1: var assignment conflict'))).toMatch(
      /var assignment conflict \(a complete rule or function produced two different values/,
    );
  });
});
