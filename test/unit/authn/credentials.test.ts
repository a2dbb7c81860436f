import { describe, expect, it } from 'vitest';
import { authorizationLines, extractCredential, looksLikeJwt } from '../../../src/authn/credentials.js';

const o = { apiKeyPrefix: 'mcpk', apiKeyHeader: 'x-api-key' };
const code = (c: string) => expect.objectContaining({ code: c });

describe('extractCredential', () => {
  it('finds no credential', () => {
    expect(extractCredential({}, o)).toEqual({ kind: 'none' });
    expect(extractCredential({ authorization: '' }, o)).toEqual({ kind: 'none' });
  });
  it('reads a bearer JWT (scheme case-insensitive)', () => {
    expect(extractCredential({ authorization: 'Bearer a.b.c' }, o)).toEqual({ kind: 'jwt', token: 'a.b.c' });
    expect(extractCredential({ authorization: 'bearer a.b.c' }, o)).toEqual({ kind: 'jwt', token: 'a.b.c' });
  });
  it('treats a bearer value with the key prefix as an API key', () => {
    expect(extractCredential({ authorization: 'Bearer mcpk_x_y' }, o)).toEqual({
      kind: 'api_key',
      key: 'mcpk_x_y',
    });
  });
  it('reads the API key header', () => {
    expect(extractCredential({ 'x-api-key': 'mcpk_x_y' }, o)).toEqual({ kind: 'api_key', key: 'mcpk_x_y' });
  });
  it('refuses an API key header given as several values, never picking one of them', () => {
    // Node joins repeated custom headers into one string; a caller handing headers over as arrays must not
    // have the first of several keys taken (the others ignored) whatever their number.
    for (const values of [
      ['mcpk_x_y', 'mcpk_a_b'],
      ['mcpk_x_y', 'mcpk_a_b', 'mcpk_c_d'],
    ]) {
      expect(() => extractCredential({ 'x-api-key': values }, o)).toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
    }
    expect(extractCredential({ 'x-api-key': ['mcpk_x_y'] }, o)).toEqual({ kind: 'api_key', key: 'mcpk_x_y' });
  });
  it('accepts the same key in both places', () => {
    expect(extractCredential({ authorization: 'Bearer mcpk_x_y', 'x-api-key': 'mcpk_x_y' }, o)).toEqual({
      kind: 'api_key',
      key: 'mcpk_x_y',
    });
  });
  it('refuses two different credentials as invalid_request (RFC 6750 §3.1)', () => {
    expect(() => extractCredential({ authorization: 'Bearer a.b.c', 'x-api-key': 'mcpk_x_y' }, o)).toThrow(
      code('ERR_AUTHN_INVALID_REQUEST'),
    );
    expect(() => extractCredential({ authorization: 'Bearer mcpk_a_b', 'x-api-key': 'mcpk_x_y' }, o)).toThrow(
      code('ERR_AUTHN_INVALID_REQUEST'),
    );
  });
  it('refuses several Authorization lines as invalid_request (Node keeps only the first in headers)', () => {
    const headers = { authorization: 'Bearer a.b.c' };
    const raw = ['Host', 'x', 'Authorization', 'Bearer a.b.c', 'authorization', 'Basic dXNlcjpwYXNz'];
    expect(authorizationLines(raw)).toBe(2);
    expect(() => extractCredential(headers, o, '/mcp', 2)).toThrow(code('ERR_AUTHN_INVALID_REQUEST'));
    expect(extractCredential(headers, o, '/mcp', authorizationLines(raw.slice(0, 4)))).toEqual({
      kind: 'jwt',
      token: 'a.b.c',
    });
  });

  it.each(['Bearer', 'Bearer a b'])('refuses a malformed bearer value: Authorization: %s', (value) => {
    expect(() => extractCredential({ authorization: value }, o)).toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });
  it.each(['Basic dXNlcjpwYXNz', 'Token abc', 'Bearerx abc'])(
    'answers another scheme like no credential (bare challenge, RFC 6750 §3.1): Authorization: %s',
    (value) => {
      expect(() => extractCredential({ authorization: value }, o)).toThrow(code('ERR_AUTHN_MISSING'));
    },
  );

  describe('credentials in the URL query', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
    it.each([
      ['/mcp?access_token=abc', 'access_token'],
      ['/mcp?ACCESS_TOKEN=abc', 'ACCESS_TOKEN'],
      ['/mcp?x=1&key=mcpk_id_secret', 'key'],
      [`/mcp?token=${jwt}`, 'token'],
      [`/messages?sessionId=s1&auth=${jwt}`, 'auth'],
      [`/mcp?${jwt}`, jwt],
      ['/mcp?mcpk_id_secret', 'mcpk_id_secret'],
      [`/mcp?x=1;access_token=abc`, 'access_token'],
      [`/mcp?t=%20${jwt}`, 't'],
      [`/mcp?t=${jwt}%0A`, 't'],
      [`/mcp?t=Bearer%20${jwt}`, 't'],
      [`/mcp?t=${jwt}.e30.c2ln`, 't'],
    ])('refuses %s, naming the parameter but not its value', (url, name) => {
      let err: unknown;
      try {
        extractCredential({ authorization: 'Bearer a.b.c' }, o, url);
      } catch (e) {
        err = e;
      }
      expect(err).toEqual(code('ERR_AUTHN_INVALID_REQUEST'));
      const message = (err as Error).message;
      expect(message).toContain(
        name.length > 20 || name.startsWith('mcpk_') ? 'a parameter name' : `"${name}"`,
      );
      expect(message).not.toMatch(/abc|secret|eyJ/);
    });
    it('refuses one even when no header carries a credential', () => {
      expect(() => extractCredential({}, o, '/mcp?access_token=abc')).toThrow(
        code('ERR_AUTHN_INVALID_REQUEST'),
      );
    });
    it.each(['/mcp', '/mcp?', '/mcp?sessionId=0b7c-11&debug=1', '/mcp?note=eyJ', '/mcp?k=mcpk'])(
      'lets %s through',
      (url) => {
        expect(extractCredential({ authorization: 'Bearer a.b.c' }, o, url)).toEqual({
          kind: 'jwt',
          token: 'a.b.c',
        });
      },
    );
  });
});

describe('looksLikeJwt', () => {
  const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
  it('takes a compact JWS whose header names its alg', () => {
    expect(looksLikeJwt(`${header({ alg: 'RS256', typ: 'at+jwt' })}.eyJzdWIiOiJ4In0.c2ln`)).toBe(true);
    expect(looksLikeJwt(`${header({ alg: 'none' })}.eyJzdWIiOiJ4In0.`)).toBe(true);
  });

  it('leaves dotted opaque tokens to introspection', () => {
    expect(looksLikeJwt('v4.public.eyJkYXRhIjoidGhpcyJ9')).toBe(false); // PASETO
    expect(looksLikeJwt('abc.def.ghi')).toBe(false);
    expect(looksLikeJwt(`${header({ typ: 'JWT' })}.eyJ9.x`)).toBe(false);
    expect(looksLikeJwt('opaque-token-without-dots')).toBe(false);
  });
});
