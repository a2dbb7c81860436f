import { type OAuthClientProvider, selectResourceURL } from '@modelcontextprotocol/sdk/client/auth.js';
import { exportJWK, generateKeyPair, errors as joseErrors, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/authn/authenticator.js';
import { createKeyResolver, KeysUnavailableError } from '../../../src/authn/jwks.js';
import { JwtVerifier } from '../../../src/authn/jwt-verifier.js';
import { TokenCache } from '../../../src/authn/token-cache.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import type { SecretSource } from '../../../src/config/secrets.js';
import { ConfigError } from '../../../src/errors/errors.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

const SECRET = 'a-test-secret-that-is-32-bytes!!';
const RESOURCE = 'https://mcp.example.com/mcp';
const T0 = 1_800_000_000; // epoch seconds

function setup(jwt: Record<string, unknown> = {}, extra: Partial<ConfigInput> = {}, secret = SECRET) {
  const env = { AUTHZ_JWT_HS_SECRET: secret };
  const config = parseConfig(
    {
      ...extra,
      authn: {
        resource: RESOURCE,
        jwt: { algorithms: ['HS256'], clockToleranceSec: 0, ...jwt },
        apiKeys: { enabled: false },
        ...(extra.authn ?? {}),
      },
    },
    env,
  );
  const clock = { now: T0 * 1000 };
  const store = new MemoryStore({ now: () => clock.now });
  const authn = createAuthenticator(config, { store, logger: silentLogger(), now: () => clock.now, env });
  const auth = (token: string, signal?: AbortSignal) =>
    authn.authenticate({ headers: { authorization: `Bearer ${token}` } }, signal);
  return { authn, store, clock, auth };
}

function sign(
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = { typ: 'at+jwt' },
  secret = SECRET,
) {
  const payload = { sub: 'u-1', aud: RESOURCE, iat: T0, exp: T0 + 600, jti: 'j-1', ...claims };
  for (const [k, v] of Object.entries(payload))
    if (v === undefined) delete (payload as Record<string, unknown>)[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', ...header })
    .sign(new TextEncoder().encode(secret));
}

const code = (c: string) => expect.objectContaining({ code: c });

describe('JWT verification (HS256, injected clock)', () => {
  it('accepts a valid access token and maps it', async () => {
    const { auth } = setup();
    const p = await auth(await sign({ scope: 'mcp:tools', roles: ['analyst'] }));
    expect(p).toMatchObject({
      id: 'u-1',
      authMethod: 'jwt',
      tokenId: 'j-1',
      expiresAt: T0 + 600,
      scopes: ['mcp:tools'],
    });
  });

  it.each(['at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT', undefined])(
    'accepts typ header %s',
    async (typ) => {
      const { auth } = setup();
      await expect(auth(await sign({}, typ === undefined ? {} : { typ }))).resolves.toMatchObject({
        id: 'u-1',
      });
    },
  );

  it('refuses a typ header not in authn.jwt.types', async () => {
    const { auth } = setup();
    await expect(auth(await sign({}, { typ: 'dpop+jwt' }))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it.each([
    ['Keycloak refresh token', { typ: 'Refresh' }],
    ['Keycloak offline token', { typ: 'Offline' }],
    ['Keycloak ID token', { typ: 'ID' }],
    ['Cognito ID token', { token_use: 'id' }],
    ['OIDC ID token (nonce)', { nonce: 'n-1' }],
    ['token with another token_use than access', { token_use: 'refresh' }],
    ['typ claim that is a list (["ID"])', { typ: ['ID'] }],
    ['typ claim that is a number', { typ: 1 }],
    ['typ claim that is null', { typ: null }],
  ])('refuses a %s', async (_name, claims) => {
    const { auth } = setup();
    await expect(auth(await sign(claims))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('refuses a typ header that is no string (no type it could be is in the allow-list)', async () => {
    const { auth } = setup();
    for (const [i, typ] of [1, ['at+jwt'], { t: 'at+jwt' }].entries()) {
      await expect(auth(await sign({ jti: `typ-${i}` }, { typ }))).rejects.toThrow(
        code('ERR_AUTHN_INVALID_TOKEN'),
      );
    }
  });

  it('refuses a sender-constrained token (cnf): its key proof cannot be checked on a Bearer request', async () => {
    const { auth } = setup();
    await expect(auth(await sign({ cnf: { jkt: 'thumbprint' } }))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'token is bound to a key (cnf)' }),
    );
  });

  it('accepts a Cognito access token', async () => {
    const { auth } = setup();
    await expect(auth(await sign({ token_use: 'access' }))).resolves.toMatchObject({ id: 'u-1' });
  });

  it.each([
    ['no exp', { exp: undefined }],
    ['expired', { exp: T0 - 1 }],
    ['not yet valid', { nbf: T0 + 60 }],
    ['wrong audience', { aud: 'https://other.example.com/mcp' }],
    ['no sub', { sub: undefined }],
  ])('refuses a token with %s', async (_name, claims) => {
    const { auth } = setup();
    await expect(auth(await sign(claims))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('accepts an audience whose scheme and host differ only in case (MCP canonical server URI)', async () => {
    const { auth } = setup();
    for (const aud of ['HTTPS://MCP.Example.com/mcp', ['x', 'https://mcp.EXAMPLE.com/mcp']]) {
      await expect(auth(await sign({ aud, jti: JSON.stringify(aud) }))).resolves.toMatchObject({ id: 'u-1' });
    }
  });

  it.each([
    ['a path that differs in case', { aud: 'https://mcp.example.com/MCP' }],
    ['a case variant that is also expired', { aud: 'HTTPS://MCP.EXAMPLE.COM/mcp', exp: T0 - 1 }],
    ['a case variant of another host', { aud: 'HTTPS://OTHER.example.com/mcp' }],
  ])('still refuses %s', async (_name, claims) => {
    const { auth } = setup();
    await expect(auth(await sign(claims))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('accepts the audience an MCP SDK client asks for when the resource is an origin (empty path = "/")', async () => {
    // MCP recommends `https://mcp.example.com` without the slash; the SDK client sends the metadata's
    // resource as `new URL(resource).href`, which adds it, so the token's aud is `https://mcp.example.com/`.
    const resource = 'https://mcp.example.com';
    const asked = await selectResourceURL(new URL('https://mcp.example.com/mcp'), {} as OAuthClientProvider, {
      resource,
      authorization_servers: ['https://login.example.com'],
    });
    expect(asked?.href).toBe('https://mcp.example.com/');
    const { auth } = setup({}, { authn: { resource } });
    await expect(auth(await sign({ aud: asked?.href }))).resolves.toMatchObject({ id: 'u-1' });
    // And the other way round, with the default ports spelt out (RFC 3986 §6.2.3).
    const slash = setup({}, { authn: { resource: 'https://mcp.example.com/' } });
    for (const aud of [
      'https://mcp.example.com',
      'https://mcp.example.com:443',
      'HTTPS://MCP.example.com:443/',
    ]) {
      await expect(slash.auth(await sign({ aud, jti: aud }))).resolves.toMatchObject({ id: 'u-1' });
    }
    const http = setup({}, { authn: { resource: 'http://mcp.example.com:80/mcp' } });
    await expect(http.auth(await sign({ aud: 'http://mcp.example.com/mcp' }))).resolves.toMatchObject({
      id: 'u-1',
    });
  });

  it.each([
    ['another port', 'https://mcp.example.com:8443/'],
    ['http for https', 'http://mcp.example.com/'],
    ['a path', 'https://mcp.example.com/x'],
    ['a default port of another scheme', 'https://mcp.example.com:80/'],
  ])('still refuses an origin audience with %s', async (_name, aud) => {
    const { auth } = setup({}, { authn: { resource: 'https://mcp.example.com' } });
    await expect(auth(await sign({ aud }))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('does not fold non-ASCII look-alikes: the Kelvin sign is not a k', async () => {
    // String.toLowerCase maps U+212A to "k"; that host is another (punycode) name, not a case variant.
    const { auth } = setup({ audiences: ['https://mcp.kexample.com/mcp'] });
    await expect(auth(await sign({ aud: 'https://mcp.\u212Aexample.com/mcp' }))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
    await expect(
      auth(await sign({ aud: 'https://MCP.KEXAMPLE.com/mcp', jti: 'j-2' })),
    ).resolves.toMatchObject({
      id: 'u-1',
    });
  });

  it('drops only a trailing default port: ":443" elsewhere in the host is another host', async () => {
    const { auth } = setup();
    await expect(auth(await sign({ aud: 'https://mcp.example.com:443/mcp' }))).resolves.toMatchObject({
      id: 'u-1',
    });
    for (const [i, aud] of [
      'https://mcp.exa:443mple.com/mcp',
      'https://mcp.example.com:4430/mcp',
    ].entries()) {
      await expect(auth(await sign({ aud, jti: `p-${i}` }))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    }
  });

  it('refuses, as 401, a signed token whose claims nest a thousand levels deep (the policy input could not hold them)', async () => {
    const { auth } = setup();
    const deep = JSON.parse(`${'['.repeat(1000)}${']'.repeat(1000)}`) as unknown;
    await expect(auth(await sign({ ext: deep }))).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_AUTHN_INVALID_TOKEN',
        message: 'claims nested deeper than 64 levels',
      }),
    );
  });

  it('never includes the token in the error', async () => {
    const { auth } = setup();
    const token = await sign({ exp: T0 - 1 });
    const err = await auth(token).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'token expired' });
    expect(
      JSON.stringify({ m: (err as Error).message, d: (err as unknown as { data: unknown }).data }),
    ).not.toContain(token);
  });

  it('refuses alg none', async () => {
    const { auth } = setup();
    const token = new UnsecuredJWT({ sub: 'u-1', aud: RESOURCE, exp: T0 + 60 }).encode();
    await expect(auth(token)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('refuses a token signed with another secret', async () => {
    const { auth } = setup();
    await expect(auth(await sign({}, {}, 'another-secret-that-is-32-bytes!'))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
  });

  it('checks issuers and audiences when configured', async () => {
    const { auth } = setup({ issuers: ['https://idp.example.com'], audiences: ['api-1', 'api-2'] });
    await expect(auth(await sign({ iss: 'https://idp.example.com', aud: 'api-2' }))).resolves.toBeDefined();
    await expect(auth(await sign({ iss: 'https://evil.example.com', aud: 'api-2' }))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
    await expect(auth(await sign({ iss: 'https://idp.example.com', aud: RESOURCE }))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
  });

  it('enforces maxTokenAge (and then requires iat)', async () => {
    const { auth } = setup({ maxTokenAgeSec: 60 });
    await expect(auth(await sign({ iat: T0 - 30, jti: 'a' }))).resolves.toBeDefined();
    await expect(auth(await sign({ iat: T0 - 120, jti: 'b' }))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
    await expect(auth(await sign({ iat: undefined, jti: 'c' }))).rejects.toThrow(
      code('ERR_AUTHN_INVALID_TOKEN'),
    );
  });

  it.each([undefined, 3600])(
    'refuses an iat later than now plus the clock tolerance, or not a number (maxTokenAgeSec %s)',
    async (maxTokenAgeSec) => {
      const { auth } = setup({ clockToleranceSec: 60, ...(maxTokenAgeSec ? { maxTokenAgeSec } : {}) });
      const future = expect.objectContaining({
        code: 'ERR_AUTHN_INVALID_TOKEN',
        message: 'token issued in the future',
      });
      await expect(auth(await sign({ iat: T0 + 60, jti: 'a' }))).resolves.toBeDefined();
      await expect(auth(await sign({ iat: T0 + 61, jti: 'b' }))).rejects.toThrow(future);
      await expect(auth(await sign({ iat: T0 + 365 * 86_400, jti: 'c' }))).rejects.toThrow(future);
      for (const iat of [String(T0), null, [T0]]) {
        await expect(auth(await sign({ iat, jti: 'd' }))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
      }
    },
  );

  it('refuses a token whose exp - iat exceeds maxLifetimeSec, naming the setting, never the token', async () => {
    const years = { iat: T0, exp: T0 + 10 * 365 * 86_400, jti: 'years' };
    // Off when left out: a token minted to live ten years is let in.
    await expect(setup().auth(await sign(years))).resolves.toBeDefined();
    const { auth } = setup({ maxLifetimeSec: 3_600, clockToleranceSec: 60 });
    const overlong = expect.objectContaining({
      code: 'ERR_AUTHN_INVALID_TOKEN',
      message: 'token lifetime exceeds authn.jwt.maxLifetimeSec',
    });
    await expect(auth(await sign({ iat: T0, exp: T0 + 3_600, jti: 'a' }))).resolves.toBeDefined();
    // Both stamps are the issuer's: no clock tolerance on exp - iat.
    await expect(auth(await sign({ iat: T0, exp: T0 + 3_601, jti: 'b' }))).rejects.toThrow(overlong);
    // The whole lifetime counts, not what is left of it (Envoy's max_lifetime would take this one).
    await expect(auth(await sign({ iat: T0 - 3_000, exp: T0 + 1_000, jti: 'c' }))).rejects.toThrow(overlong);
    const token = await sign(years);
    const err = await auth(token).catch((e: unknown) => e);
    expect(err).toEqual(overlong);
    expect(JSON.stringify(err)).not.toContain(token);
    // An exp in milliseconds: a lifetime of millennia.
    await expect(auth(await sign({ iat: T0, exp: T0 * 1000, jti: 'ms' }))).rejects.toThrow(overlong);
  });

  it('refuses a token without iat whose exp is further ahead than maxLifetimeSec plus the clock tolerance', async () => {
    const { auth, clock } = setup({ maxLifetimeSec: 3_600, clockToleranceSec: 60 });
    const overlong = expect.objectContaining({ message: 'token lifetime exceeds authn.jwt.maxLifetimeSec' });
    // This clock may be behind the issuer's: a token issued for exactly an hour may look 60 s longer here.
    await expect(auth(await sign({ iat: undefined, exp: T0 + 3_660, jti: 'a' }))).resolves.toBeDefined();
    const far = await sign({ iat: undefined, exp: T0 + 3_661, jti: 'b' });
    await expect(auth(far)).rejects.toThrow(overlong);
    // Without iat only what is left of it can be bounded: a second later it is within the bound.
    clock.now += 1_000;
    await expect(auth(far)).resolves.toBeDefined();
  });

  it('answers missing required scopes with ERR_AUTHN_INSUFFICIENT_SCOPE and the scopes', async () => {
    const { auth } = setup({ requiredScopes: ['mcp:tools', 'mcp:call'] });
    const err = await auth(await sign({ scope: 'mcp:tools' })).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'ERR_AUTHN_INSUFFICIENT_SCOPE',
      data: { scope: 'mcp:tools mcp:call' },
    });
    // The scopes the token holds are asked for again (a client that replaces its scopes with the
    // challenge's would lose them); a value that is no scope token is not repeated.
    const held = await auth(await sign({ scp: ['crm:read', 'mcp:tools', 'bad"scope'] })).catch(
      (e: unknown) => e,
    );
    expect(held).toMatchObject({ data: { scope: 'mcp:tools mcp:call crm:read' } });
    await expect(auth(await sign({ scp: ['mcp:call', 'mcp:tools'] }))).resolves.toBeDefined();
  });

  it('refuses a token short of a required scope from the cache next time, not verifying it again', async () => {
    const { authn, auth } = setup({ requiredScopes: ['mcp:call'] });
    const token = await sign({ scope: 'mcp:tools' });
    await expect(auth(token)).rejects.toThrow(code('ERR_AUTHN_INSUFFICIENT_SCOPE'));
    // Synchronously, from the verified-token cache (undefined would mean: verify it again).
    expect(() => authn.cached({ headers: { authorization: `Bearer ${token}` } })).toThrow(
      code('ERR_AUTHN_INSUFFICIENT_SCOPE'),
    );
  });

  it('refuses to start with an HS secret of 31 bytes, and starts with one of exactly 32', () => {
    expect(() => setup({}, {}, 'x'.repeat(31))).toThrow(/must be at least 32 bytes \(has 31\)/);
    expect(() => setup({}, {}, 'x'.repeat(32))).not.toThrow();
  });

  it('refuses to start with an HS secret shorter than 32 bytes, naming where it came from', () => {
    // setup() gives the secret in AUTHZ_JWT_HS_SECRET, no file.
    expect(() => setup({}, {}, 'short')).toThrow(ConfigError);
    expect(() => setup({}, {}, 'short')).toThrow(
      /AUTHZ_JWT_HS_SECRET: the HS secret must be at least 32 bytes \(has 5\)/,
    );
  });
});

describe('verified-token cache', () => {
  it('serves a repeated token from the cache', async () => {
    const { auth } = setup();
    const token = await sign();
    expect(await auth(token)).toBe(await auth(token));
  });

  it('never serves a token past its exp', async () => {
    const { auth, clock } = setup();
    const token = await sign({ exp: T0 + 10 });
    await auth(token);
    clock.now = (T0 + 10) * 1000 - 1;
    await expect(auth(token)).resolves.toBeDefined();
    clock.now = (T0 + 10) * 1000;
    await expect(auth(token)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('re-verifies after the JWKS cache age even if exp is later', async () => {
    const { auth, clock } = setup({ jwks: { cacheMaxAgeMs: 1_000 } });
    const token = await sign({ exp: T0 + 3_600 });
    const first = await auth(token);
    clock.now += 999;
    expect(await auth(token)).toBe(first);
    clock.now += 1;
    const again = await auth(token);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('never serves a token past iat + maxTokenAge, even when exp and the JWKS cache age are later', async () => {
    const { auth, clock } = setup({ maxTokenAgeSec: 60, jwks: { cacheMaxAgeMs: 3_600_000 } });
    const token = await sign({ iat: T0, exp: T0 + 3_600 });
    await auth(token);
    clock.now = (T0 + 60) * 1000;
    await expect(auth(token)).resolves.toBeDefined();
    // One second past the max age: verified again (too old), not served from the cache.
    clock.now = (T0 + 61) * 1000;
    await expect(auth(token)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('with maxLifetimeSec, still caches a token until its exp and never caches one refused for its lifetime', async () => {
    const { authn, auth, clock } = setup({ maxLifetimeSec: 600, jwks: { cacheMaxAgeMs: 3_600_000 } });
    const within = await sign({ exp: T0 + 600, jti: 'within' });
    const p = await auth(within);
    clock.now = (T0 + 600) * 1000 - 1;
    expect(authn.cached({ headers: { authorization: `Bearer ${within}` } })).toBe(p);
    clock.now = (T0 + 600) * 1000;
    expect(authn.cached({ headers: { authorization: `Bearer ${within}` } })).toBeUndefined();
    clock.now = T0 * 1000;
    const overlong = await sign({ exp: T0 + 601, jti: 'overlong' });
    await expect(auth(overlong)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    expect(authn.cached({ headers: { authorization: `Bearer ${overlong}` } })).toBeUndefined();
  });

  it('checks revocation on a cache hit', async () => {
    const { auth, store } = setup();
    const token = await sign({ jti: 'to-revoke' });
    await auth(token);
    await store.revokeToken('to-revoke', T0 + 600);
    await expect(auth(token)).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
  });

  it('answers cached() synchronously only for a token verified before, revocation included', async () => {
    const { authn, auth, store } = setup();
    const token = await sign({ jti: 'sync' });
    const headers = { authorization: `Bearer ${token}` };
    expect(authn.cached({ headers })).toBeUndefined();
    const p = await auth(token);
    expect(authn.cached({ headers })).toBe(p);
    expect(authn.cached({ headers: {} })).toBeUndefined();
    expect(authn.cached({ headers: { authorization: 'Basic eDp5' } })).toBeUndefined();
    await store.revokeToken('sync', T0 + 600);
    expect(() => authn.cached({ headers })).toThrow(code('ERR_AUTHN_REVOKED'));
  });
});

describe('credentials and modes', () => {
  it('answers no credentials with ERR_AUTHN_MISSING, or ANONYMOUS in optional mode', async () => {
    const { authn } = setup();
    await expect(authn.authenticate({ headers: {} })).rejects.toThrow(code('ERR_AUTHN_MISSING'));
    const optional = setup({}, { authn: { mode: 'optional' } }).authn;
    await expect(optional.authenticate({ headers: {} })).resolves.toMatchObject({
      authMethod: 'anonymous',
      id: null,
    });
  });

  it('refuses invalid credentials even in optional mode', async () => {
    const optional = setup({}, { authn: { mode: 'optional' } }).auth;
    await expect(optional('not-a-jwt')).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });

  it('refuses an API key when API keys are disabled', async () => {
    const { authn } = setup();
    await expect(authn.authenticate({ headers: { 'x-api-key': 'mcpk_x_y' } })).rejects.toThrow(
      code('ERR_AUTHN_INVALID_API_KEY'),
    );
  });

  it('answers an aborted request with ERR_AUTHN_UNAVAILABLE', async () => {
    const { auth } = setup();
    await expect(auth(await sign(), AbortSignal.abort())).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
  });
});

describe('JWT verification while the keys cannot be had', () => {
  /** A verifier whose key set is unreachable (JWKS down or stale), with `revoked` jtis. */
  function offline(revoked: string[] = []) {
    const config = parseConfig(
      {
        authn: {
          resource: RESOURCE,
          jwt: { jwksUri: 'https://issuer.example/jwks', issuers: ['https://issuer.example'] },
          apiKeys: { enabled: false },
        },
      },
      {},
    );
    const verifier = new JwtVerifier({
      // The test tokens are HS256 without an issuer; the key lookup fails whatever the algorithm.
      jwt: { ...config.authn.jwt, algorithms: ['HS256'], issuers: [], clockToleranceSec: 30 },
      audiences: [RESOURCE],
      keys: {
        getKey: () => Promise.reject(new KeysUnavailableError('JWKS unreachable')),
        warm: () => Promise.resolve(),
        lastFailure: () => 'JWKS unreachable',
        fetched: () => false,
        keysRemoved: () => 0,
      },
      cache: new TokenCache(100),
      isRevoked: (jti) => revoked.includes(jti),
      now: () => T0 * 1000,
    });
    return (claims: Record<string, unknown>) => sign(claims).then((t) => verifier.verify(t));
  }

  it('answers 503 for a token that may be valid', async () => {
    await expect(offline()({})).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    // Within the clock tolerance after exp the token could still pass: not refused for expiry.
    await expect(offline()({ exp: T0 - 29 })).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
  });

  it('refuses, with 401, a token that is expired or revoked anyway, so open streams re-checking it are cut', async () => {
    await expect(offline()({ exp: T0 - 30 })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'token expired' }),
    );
    await expect(offline(['j-1'])({})).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
    await expect(offline(['j-2'])({})).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
  });
});

describe('a key pulled from the JWKS while a token is checked', () => {
  /** A verifier whose key set held `key-1` until the fetch that lands while the first token is checked. */
  async function racing() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const config = parseConfig(
      {
        authn: {
          resource: RESOURCE,
          jwt: { jwksUri: 'https://issuer.example/jwks', issuers: ['https://issuer.example'] },
          apiKeys: { enabled: false },
        },
      },
      {},
    );
    let removed = 0;
    let lookups = 0;
    const verifier = new JwtVerifier({
      jwt: { ...config.authn.jwt, algorithms: ['ES256'], issuers: [], clockToleranceSec: 30 },
      audiences: [RESOURCE],
      keys: {
        getKey: async () => {
          lookups++;
          if (removed > 0) throw new joseErrors.JWKSNoMatchingKey();
          // The key is taken from the set held, and the refetch that drops it lands before the check ends.
          removed++;
          return publicKey;
        },
        warm: () => Promise.resolve(),
        lastFailure: () => null,
        fetched: () => true,
        keysRemoved: () => removed,
      },
      cache: new TokenCache(100),
      isRevoked: () => false,
      now: () => T0 * 1000,
    });
    const token = await new SignJWT({ sub: 'attacker', aud: RESOURCE, iat: T0, exp: T0 + 600 })
      .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
      .sign(privateKey);
    return { verifier, token, lookups: () => lookups };
  }

  it('checks the token again with the new set: refused, and never cached', async () => {
    const { verifier, token, lookups } = await racing();
    await expect(verifier.verify(token)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    expect(lookups()).toBe(2);
    expect(verifier.fromCache(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });
});

describe('a key pulled from the JWKS, seen by a fetch for another token', () => {
  it('empties the cache even when the fetch was made for a token naming a kid no set holds', async () => {
    const k1 = await generateKeyPair('ES256');
    const k2 = await generateKeyPair('ES256');
    const jwk1 = { ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256' };
    const jwk2 = { ...(await exportJWK(k2.publicKey)), kid: 'k2', alg: 'ES256' };
    let set: unknown[] = [jwk1];
    const jwks = (async () =>
      new Response(JSON.stringify({ keys: set }), {
        headers: { 'content-type': 'application/json' },
      })) as unknown as typeof fetch;
    const uri = 'https://issuer.example/jwks';
    const keys = createKeyResolver({
      jwksUri: uri,
      timeoutMs: 5_000,
      cooldownMs: 0,
      cacheMaxAgeMs: 600_000,
      fetch: jwks,
    });
    await keys.warm();
    const config = parseConfig(
      { authn: { resource: RESOURCE, jwt: { jwksUri: uri, issuers: [uri] }, apiKeys: { enabled: false } } },
      {},
    );
    const verifier = new JwtVerifier({
      jwt: { ...config.authn.jwt, algorithms: ['ES256'], issuers: [] },
      audiences: [RESOURCE],
      keys,
      cache: new TokenCache(100),
      isRevoked: () => false,
      now: () => T0 * 1000,
    });
    const signed = (
      key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'],
      kid: string,
      sub: string,
    ) =>
      new SignJWT({ sub, aud: RESOURCE, iat: T0, exp: T0 + 600 })
        .setProtectedHeader({ alg: 'ES256', kid })
        .sign(key);
    const stolen = await signed(k1.privateKey, 'k1', 'attacker');
    expect((await verifier.verify(stolen)).id).toBe('attacker');
    set = [jwk2]; // the issuer pulls k1
    // Any caller can make the fetch, with a token naming a kid the new set lacks too.
    await expect(verifier.verify(await signed(k2.privateKey, 'nope', 'x'))).rejects.toThrow();
    expect(verifier.fromCache(stolen)).toBeUndefined();
    await expect(verifier.verify(stolen)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });
});

describe('a rotated HS secret', () => {
  it('is not outlived by tokens verified with the old one: the cache is emptied when it changes', async () => {
    const config = parseConfig(
      { authn: { resource: RESOURCE, jwt: { algorithms: ['HS256'] }, apiKeys: { enabled: false } } },
      { AUTHZ_JWT_HS_SECRET: SECRET },
    );
    let current: Buffer | null = Buffer.from(SECRET);
    const hsSecret: SecretSource = {
      name: 'jwtHsSecret',
      get: () => current,
      refresh: () => current,
      origin: () => 'file',
      close: () => undefined,
    };
    const verifier = new JwtVerifier({
      jwt: { ...config.authn.jwt, clockToleranceSec: 0 },
      audiences: [RESOURCE],
      keys: createKeyResolver({ hsSecret, timeoutMs: 1_000, cooldownMs: 1_000, cacheMaxAgeMs: 60_000 }),
      cache: new TokenCache(100),
      isRevoked: () => false,
      now: () => T0 * 1000,
      hsSecret,
    });
    const old = await sign();
    await expect(verifier.verify(old)).resolves.toMatchObject({ id: 'u-1' });
    expect(verifier.fromCache(old)).toMatchObject({ id: 'u-1' });
    current = Buffer.from('another-test-secret-of-32-bytes!');
    // Verified with the old secret: no longer served from the cache, and refused when verified again.
    expect(verifier.fromCache(old)).toBeUndefined();
    await expect(verifier.verify(old)).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    await expect(
      verifier.verify(await sign({}, undefined, 'another-test-secret-of-32-bytes!')),
    ).resolves.toMatchObject({
      id: 'u-1',
    });
    // A verification under the old secret still running when it changes, and another request empties the
    // cache meanwhile: its token is not put back in the cache afterwards.
    current = Buffer.from(SECRET);
    const late = await sign({ jti: 'j-late' });
    const verifying = verifier.verify(late);
    current = Buffer.from('a-third-test-secret-of-32-bytes!');
    expect(verifier.fromCache(old)).toBeUndefined();
    await expect(verifying).resolves.toMatchObject({ tokenId: 'j-late' });
    expect(verifier.fromCache(late)).toBeUndefined();
  });
});
