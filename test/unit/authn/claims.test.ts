import { describe, expect, it } from 'vitest';
import { readClaim, readScopes, toPrincipal } from '../../../src/authn/claims.js';
import { parseConfig } from '../../../src/config/load.js';

const paths = parseConfig({}, {}).authn.jwt.claims;
const base = { sub: 'u-1', exp: 2_000_000_000 };

describe('readClaim', () => {
  it('walks dotted paths', () => {
    expect(readClaim({ realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['a']);
    expect(readClaim({ realm_access: {} }, 'realm_access.roles')).toBeUndefined();
    expect(readClaim({ realm_access: 'x' }, 'realm_access.roles')).toBeUndefined();
  });
  it('takes a key containing a colon or dots whole', () => {
    expect(readClaim({ 'cognito:groups': ['g'] }, 'cognito:groups')).toEqual(['g']);
    expect(readClaim({ 'https://example.com/roles': ['r'] }, 'https://example.com/roles')).toEqual(['r']);
  });
  it('does not read inherited properties', () => {
    expect(readClaim({}, 'constructor')).toBeUndefined();
    expect(readClaim({ a: {} }, 'a.toString')).toBeUndefined();
  });
});

describe('readScopes', () => {
  it('splits a space-separated scope string', () => {
    expect(readScopes({ scope: 'mcp:tools  mcp:read' }, 'scope')).toEqual(['mcp:tools', 'mcp:read']);
  });
  it('reads an scp array, falling back from the configured path', () => {
    expect(readScopes({ scp: ['a', 'b'] }, 'scope')).toEqual(['a', 'b']);
    expect(readScopes({ scope: 'a b' }, 'scp')).toEqual(['a', 'b']);
  });
  it('takes the configured path over scope and scp when the token has several', () => {
    const token = { scope: 'mcp:admin', scp: ['mcp:admin'], permissions: 'mcp:read' };
    expect(readScopes(token, 'permissions')).toEqual(['mcp:read']);
    expect(readScopes({ scope: 'mcp:admin', scp: ['mcp:read'] }, 'scp')).toEqual(['mcp:read']);
  });
  it('gives [] when neither is present', () => {
    expect(readScopes({}, 'scope')).toEqual([]);
  });
});

describe('toPrincipal', () => {
  it('maps the default claims', () => {
    const p = toPrincipal(
      { ...base, jti: 'j-1', tenant: 'acme', roles: ['analyst'], scope: 'mcp:tools', clearance: 'secret' },
      paths,
    );
    expect(p).toMatchObject({
      id: 'u-1',
      tenant: 'acme',
      roles: ['analyst'],
      scopes: ['mcp:tools'],
      clearance: 'secret',
      authMethod: 'jwt',
      tokenId: 'j-1',
      expiresAt: 2_000_000_000,
    });
    expect(p.claims).toMatchObject({ sub: 'u-1', tenant: 'acme' });
    expect(Object.isFrozen(p.claims)).toBe(true);
  });

  it('maps Keycloak realm roles and Cognito groups', () => {
    expect(
      toPrincipal(
        { ...base, realm_access: { roles: ['r1', 'r2'] } },
        { ...paths, roles: 'realm_access.roles' },
      ).roles,
    ).toEqual(['r1', 'r2']);
    expect(
      toPrincipal({ ...base, 'cognito:groups': ['g1'] }, { ...paths, roles: 'cognito:groups' }).roles,
    ).toEqual(['g1']);
  });

  it('accepts roles as a space- or comma-separated string', () => {
    expect(toPrincipal({ ...base, roles: 'a, b c' }, paths).roles).toEqual(['a', 'b', 'c']);
  });

  it('splits a scope string on spaces alone and roles on ASCII whitespace and commas, not on Unicode spaces', () => {
    const p = toPrincipal({ ...base, scope: 'read\u00a0admin  x', roles: 'a,b\tc\u3000d' }, paths);
    expect(p.scopes).toEqual(['read\u00a0admin', 'x']);
    expect(p.roles).toEqual(['a', 'b', 'c\u3000d']);
  });

  it('uses custom subject/tenant paths and stringifies numeric tenants', () => {
    const p = toPrincipal(
      { ...base, oid: 'o-9', org: { id: 42 } },
      { ...paths, subject: 'oid', tenant: 'org.id' },
    );
    expect(p.id).toBe('o-9');
    expect(p.tenant).toBe('42');
  });

  it('fills absent optional claims with null / []', () => {
    expect(toPrincipal(base, paths)).toMatchObject({ tenant: null, roles: [], scopes: [], clearance: null });
    expect(toPrincipal(base, paths).tokenId).toBeUndefined();
  });

  it.each([
    ['missing sub', { exp: base.exp }],
    ['empty sub', { ...base, sub: '' }],
    ['numeric sub', { ...base, sub: 7 }],
    ['roles not strings', { ...base, roles: [1, 2] }],
    ['roles an object', { ...base, roles: { a: 1 } }],
    ['tenant an object', { ...base, tenant: { a: 1 } }],
    // Read as …992 already: another tenant's id; 1.5 and 1e21 are no ids either.
    ['tenant beyond 2^53', { ...base, tenant: JSON.parse('9007199254740993') as number }],
    ['tenant a fraction', { ...base, tenant: 1.5 }],
    ['clearance beyond 2^53', { ...base, clearance: 1e21 }],
    ['jti a number', { ...base, jti: 5 }],
    // An empty jti names no token: one could never be revoked by it.
    ['jti empty', { ...base, jti: '' }],
    ['scp not strings', { ...base, scp: [true] }],
  ])('refuses %s with ERR_AUTHN_INVALID_TOKEN', (_name, payload) => {
    expect(() => toPrincipal(payload as never, paths)).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN' }),
    );
  });

  it.each([
    ['sub', { ...base, sub: 'a\ud800' }],
    ['tenant', { ...base, tenant: '\udc00acme' }],
    ['roles', { ...base, roles: ['admin\ud83d'] }],
  ])('refuses a %s with a lone surrogate (no UTF-8 form: it would look like U+FFFD)', (claim, payload) => {
    expect(() => toPrincipal(payload as never, paths)).toThrow(`claim ${claim} is not well-formed Unicode`);
  });

  it('refuses claims nested deeper than 64 levels (the policy input is built from them recursively), accepts 64', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 'x';
      for (let i = 0; i < levels; i++) v = i % 2 ? { a: v } : [v];
      return v;
    };
    // The payload itself is the first level.
    expect(toPrincipal({ ...base, ext: nest(63) } as never, paths).id).toBe('u-1');
    expect(() => toPrincipal({ ...base, ext: nest(64) } as never, paths)).toThrow(
      expect.objectContaining({
        code: 'ERR_AUTHN_INVALID_TOKEN',
        message: 'claims nested deeper than 64 levels',
      }),
    );
  });

  it('accepts characters outside the BMP (surrogate pairs)', () => {
    expect(toPrincipal({ ...base, sub: 'u-\ud83d\ude00' } as never, paths).id).toBe('u-😀');
  });
});
