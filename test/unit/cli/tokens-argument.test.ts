/**
 * What `tokens revoke` takes as the token to revoke: a jti as typed, or a whole JWT pasted (also with
 * `Bearer ` or spaces around it); anything else — a JWT cut short or quoted, an API key, an opaque token — is
 * refused without being shown, since revoking it as an id would print and store a credential and revoke
 * nothing.
 *
 * @module
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jtiArgument } from '../../../src/cli/tokens.js';

const secret = new TextEncoder().encode('any-signing-secret-of-32-bytes!!');
const jwt = () =>
  new SignJWT({ sub: 'u', jti: 'jti-leaked', exp: 2_000_000_000 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(secret);

describe('tokens revoke: the argument', () => {
  it('takes a jti as typed', () => {
    expect(jtiArgument('8f14e45f-ceea-467f-a0e6-0d3b1c1f2e3a', 'mcpk')).toEqual({
      jti: '8f14e45f-ceea-467f-a0e6-0d3b1c1f2e3a',
    });
    expect(jtiArgument('onrtac:1b2c', 'mcpk')).toEqual({ jti: 'onrtac:1b2c' });
    // A jti that only begins with the prefix's letters is no API key (the prefix is configured without `_`).
    expect(jtiArgument('ab3f2c1e-6d4b-4f7a-9c2e-1f0a9b8c7d6e', 'ab')).toEqual({
      jti: 'ab3f2c1e-6d4b-4f7a-9c2e-1f0a9b8c7d6e',
    });
  });

  it('reads a whole JWT pasted with Bearer, spaces or a line end around it', async () => {
    const t = await jwt();
    for (const arg of [t, `Bearer ${t}`, ` ${t}\n`, `bearer  ${t}`])
      expect(jtiArgument(arg, 'mcpk')).toEqual({ jti: 'jti-leaked', exp: 2_000_000_000 });
  });

  it('refuses, without showing it, what may be a credential', async () => {
    const t = await jwt();
    const cases = [
      t.slice(0, 60), // cut short
      `"${t}"`, // quoted
      t.split('.').slice(0, 2).join('.'), // no signature
      'mcpk_ramqgp42rort_qtFCqFf6bO04OiTvZpLOmYrY71GFGheIX3x7dThKXOw', // an API key
      'SECRETOPAQUE token', // an opaque token with a space
      'x'.repeat(129),
    ];
    for (const arg of cases) {
      let message = '';
      try {
        jtiArgument(arg, 'mcpk');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^not a token id .*what was given is not shown/);
      expect(message).not.toContain(arg.slice(0, 20));
    }
  });

  it('says what to do with what it refuses: a JWT cut short or quoted, an API key', async () => {
    // All three got one message naming the jti's form, which a JWT cut short (no spaces, under 128
    // characters) seems to have: the operator was not told to paste the whole token, nor `keys revoke`.
    const refusal = (arg: string) => {
      try {
        jtiArgument(arg, 'mcpk');
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    const t = await jwt();
    for (const arg of [t.slice(0, 60), `"${t}"`, t.split('.').slice(0, 2).join('.')])
      expect(refusal(arg)).toContain('paste the whole token, or give its jti');
    expect(refusal('Bearer mcpk_ramqgp42rort_qtFCqFf6bO04OiTvZpLOmYrY71GFGheIX3x7dThKXOw')).toContain(
      'shaped as an API key: API keys are revoked with `keys revoke`',
    );
    expect(refusal('SECRETOPAQUE token')).toContain(
      'a token id is up to 128 printable characters, no spaces or quotes',
    );
  });
});
