import { describe, expect, it } from 'vitest';
import { extractCredential } from '../../../src/authn/credentials.js';

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
  it('accepts the same key in both places', () => {
    expect(extractCredential({ authorization: 'Bearer mcpk_x_y', 'x-api-key': 'mcpk_x_y' }, o)).toEqual({
      kind: 'api_key',
      key: 'mcpk_x_y',
    });
  });
  it('refuses two different credentials', () => {
    expect(() => extractCredential({ authorization: 'Bearer a.b.c', 'x-api-key': 'mcpk_x_y' }, o)).toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
    expect(() => extractCredential({ authorization: 'Bearer mcpk_a_b', 'x-api-key': 'mcpk_x_y' }, o)).toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
  });
  it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'Token abc'])(
    'refuses Authorization: %s',
    (value) => {
      expect(() => extractCredential({ authorization: value }, o)).toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    },
  );
});
