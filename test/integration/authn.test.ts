/**
 * Authentication against REAL parts: a JWKS served over HTTP by `test/helpers/jwks-server.ts` (jose
 * keys), jose's remote key set doing real fetches. A corpus of bad tokens must each be refused with the
 * right code; a key rotation at the issuer must be picked up without a restart; a JWKS that is down or
 * hanging must deny with ERR_AUTHN_UNAVAILABLE.
 *
 * @module
 */
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Authenticator,
  type AuthenticatorDeps,
  createAuthenticator,
} from '../../src/authn/authenticator.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type JwksAlg, type JwksServer, startJwksServer } from '../helpers/jwks-server.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const HS_SECRET = 'integration-hs-secret-32-bytes!!';
const code = (c: string) => expect.objectContaining({ code: c });
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

function authenticator(
  jwks: JwksServer,
  jwt: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  deps: Partial<AuthenticatorDeps> = {},
): Authenticator {
  const config = parseConfig(
    {
      authn: {
        resource: RESOURCE,
        jwt: { jwksUri: jwks.url, issuers: [jwks.issuer], jwks: { timeoutMs: 500 }, ...jwt },
        apiKeys: { enabled: false },
      },
    },
    env,
  );
  return createAuthenticator(config, { store: new MemoryStore(), logger: silentLogger(), env, ...deps });
}

/** Replaces the payload segment, keeping header and signature. */
function tamper(token: string, change: Record<string, unknown>): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), ...change };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

describe('JWT authentication with a real JWKS endpoint', () => {
  let jwks: JwksServer;
  let authn: Authenticator;

  beforeAll(async () => {
    jwks = await startJwksServer({ alg: 'RS256' });
    authn = authenticator(jwks);
    await authn.start();
  });
  afterAll(async () => {
    await authn.stop();
    await jwks.stop();
  });

  it('accepts a valid access token and maps its claims', async () => {
    const token = await jwks.sign({
      sub: 'alice',
      aud: RESOURCE,
      tenant: 'acme',
      roles: 'analyst,admin',
      scope: 'mcp:tools',
    });
    await expect(authn.authenticate(bearer(token))).resolves.toMatchObject({
      id: 'alice',
      tenant: 'acme',
      roles: ['analyst', 'admin'],
      scopes: ['mcp:tools'],
      authMethod: 'jwt',
    });
  });

  const corpus: [string, (j: JwksServer) => Promise<string>][] = [
    [
      'alg none',
      async (j) =>
        new UnsecuredJWT({ sub: 'mallory', aud: RESOURCE, iss: j.issuer }).setExpirationTime('5m').encode(),
    ],
    [
      'HS256 signed with the RSA public key',
      async (j) =>
        new SignJWT({ sub: 'mallory', aud: RESOURCE, iss: j.issuer })
          .setProtectedHeader({ alg: 'HS256', kid: j.kid, typ: 'at+jwt' })
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(await j.publicKeyPem())),
    ],
    ['wrong audience', (j) => j.sign({ sub: 'u', aud: 'https://evil.example.com' })],
    ['wrong issuer', (j) => j.sign({ sub: 'u', aud: RESOURCE, iss: 'https://evil.example.com' })],
    ['expired', (j) => j.sign({ sub: 'u', aud: RESOURCE, exp: Math.floor(Date.now() / 1000) - 120 })],
    ['not yet valid', (j) => j.sign({ sub: 'u', aud: RESOURCE, nbf: Math.floor(Date.now() / 1000) + 600 })],
    ['unknown kid', (j) => j.sign({ sub: 'u', aud: RESOURCE }, { unservedKey: true, kid: 'never-served' })],
    ['tampered payload', async (j) => tamper(await j.sign({ sub: 'u', aud: RESOURCE }), { sub: 'admin' })],
    ['truncated', async (j) => (await j.sign({ sub: 'u', aud: RESOURCE })).slice(0, -12)],
    ['refresh token', (j) => j.sign({ sub: 'u', aud: RESOURCE, typ: 'Refresh' }, { typ: 'JWT' })],
    ['ID token', (j) => j.sign({ sub: 'u', aud: RESOURCE, nonce: 'n-123', auth_time: 1 }, { typ: 'JWT' })],
    ['token for another resource', (j) => j.sign({ sub: 'u', aud: 'https://other-mcp.example.com/mcp' })],
    ['no exp', (j) => j.sign({ sub: 'u', aud: RESOURCE, exp: undefined })],
    ['wrong typ header', (j) => j.sign({ sub: 'u', aud: RESOURCE }, { typ: 'dpop+jwt' })],
  ];

  it.each(corpus)('refuses %s with ERR_AUTHN_INVALID_TOKEN', async (_name, make) => {
    const token = await make(jwks);
    const err = await authn.authenticate(bearer(token)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTHN_INVALID_TOKEN', status: 401 });
    expect((err as Error).message).not.toContain(token);
  });

  it('refuses the HS256 key-confusion token even when HS256 is allowed (HS uses its own secret)', async () => {
    const hs = authenticator(jwks, { algorithms: ['RS256', 'HS256'] }, { AUTHZ_JWT_HS_SECRET: HS_SECRET });
    const [, make] = corpus[1] as [string, (j: JwksServer) => Promise<string>];
    await expect(hs.authenticate(bearer(await make(jwks)))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    const real = await new SignJWT({ sub: 'svc', aud: RESOURCE, iss: jwks.issuer })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(HS_SECRET));
    await expect(hs.authenticate(bearer(real))).resolves.toMatchObject({ id: 'svc' });
    await expect(
      hs.authenticate(bearer(await jwks.sign({ sub: 'rsa', aud: RESOURCE }))),
    ).resolves.toMatchObject({ id: 'rsa' });
  });

  it.each<JwksAlg>(['RS256', 'ES256', 'EdDSA'])('verifies %s keys', async (alg) => {
    const server = await startJwksServer({ alg });
    const a = authenticator(server);
    try {
      await expect(
        a.authenticate(bearer(await server.sign({ sub: alg, aud: RESOURCE }))),
      ).resolves.toMatchObject({ id: alg });
    } finally {
      await server.stop();
    }
  });
});

describe('key rotation at the issuer', () => {
  it('accepts tokens signed with a new kid without a restart (jose refetches on an unknown kid)', async () => {
    const jwks = await startJwksServer({ alg: 'ES256', kid: 'key-1' });
    const authn = authenticator(jwks, { jwks: { timeoutMs: 500, cooldownMs: 1 } });
    try {
      const oldToken = await jwks.sign({ sub: 'before', aud: RESOURCE });
      await expect(authn.authenticate(bearer(oldToken))).resolves.toMatchObject({ id: 'before' });
      const fetchesBefore = jwks.requests;

      await jwks.rotate({ kid: 'key-2' });
      const newToken = await jwks.sign({ sub: 'after', aud: RESOURCE });
      await expect(authn.authenticate(bearer(newToken))).resolves.toMatchObject({ id: 'after' });
      expect(jwks.requests).toBe(fetchesBefore + 1);

      // A fresh token under the retired key no longer verifies (the served set was replaced).
      const stale = await jwks.sign({ sub: 'stale', aud: RESOURCE }, { kid: 'key-1' });
      await expect(authn.authenticate(bearer(stale))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
    } finally {
      await authn.stop();
      await jwks.stop();
    }
  });
});

describe('a key the issuer pulls from its JWKS', () => {
  it('verifies no token cached under it once a fetch shows it gone (a compromised key rotated out)', async () => {
    const jwks = await startJwksServer({ alg: 'ES256', kid: 'key-1' });
    const authn = authenticator(jwks, { jwks: { timeoutMs: 500, cooldownMs: 1 } });
    try {
      const forged = await jwks.sign({ sub: 'attacker', aud: RESOURCE });
      await expect(authn.authenticate(bearer(forged))).resolves.toMatchObject({ id: 'attacker' });
      // Served from the verified-token cache while the key is in the set.
      await expect(authn.authenticate(bearer(forged))).resolves.toMatchObject({ id: 'attacker' });
      await jwks.rotate({ kid: 'key-2' });
      // The first token of the new key makes the sidecar fetch the set, which no longer holds key-1.
      const legit = await jwks.sign({ sub: 'legit', aud: RESOURCE });
      await expect(authn.authenticate(bearer(legit))).resolves.toMatchObject({ id: 'legit' });
      await expect(authn.authenticate(bearer(forged))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
      // A key only added keeps the cache: the new key's token is still answered.
      await expect(authn.authenticate(bearer(legit))).resolves.toMatchObject({ id: 'legit' });
    } finally {
      await authn.stop();
      await jwks.stop();
    }
  });
});

describe('a new kid during the JWKS cooldown', () => {
  it('is refused with 401 but not counted as a failed login, and accepted once the cooldown has passed', async () => {
    const jwks = await startJwksServer({ alg: 'ES256', kid: 'key-1' });
    const authn = authenticator(jwks, { jwks: { timeoutMs: 500, cooldownMs: 2_000 } });
    const outcome = (token: string) =>
      authn.authenticate(bearer(token)).then(
        (p) => `ok ${p.id}`,
        (e: { code?: string; uncounted?: boolean }) => `${e.code}${e.uncounted ? ' uncounted' : ''}`,
      );
    try {
      expect(await outcome(await jwks.sign({ sub: 'before', aud: RESOURCE }))).toBe('ok before');
      await jwks.rotate({ kid: 'key-2' });
      const newToken = await jwks.sign({ sub: 'after', aud: RESOURCE });
      const fetches = jwks.requests;

      // Within the cooldown jose does not fetch again: the token may be good, so it is not counted.
      const err = await authn.authenticate(bearer(newToken)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_AUTHN_INVALID_TOKEN', status: 401, uncounted: true });
      expect((err as Error).message).toContain('fetched again shortly');
      expect(jwks.requests).toBe(fetches);

      await expect.poll(() => outcome(newToken), { timeout: 5_000, interval: 50 }).toBe('ok after');
      expect(jwks.requests).toBe(fetches + 1);

      // A kid still missing after a fresh fetch is an ordinary, counted failure.
      const forged = await jwks.sign({ sub: 'x', aud: RESOURCE }, { kid: 'key-9' });
      expect(await outcome(forged)).toBe('ERR_AUTHN_INVALID_TOKEN uncounted');
      await expect
        .poll(() => outcome(forged), { timeout: 5_000, interval: 50 })
        .toBe('ERR_AUTHN_INVALID_TOKEN');
      // Confirmed missing: counted from then on, within the next cooldown too.
      expect(await outcome(forged)).toBe('ERR_AUTHN_INVALID_TOKEN');
    } finally {
      await authn.stop();
      await jwks.stop();
    }
  });

  it('leaves at most three invented kids per cooldown uncounted: a token sprayer is counted', async () => {
    const jwks = await startJwksServer({ alg: 'ES256', kid: 'key-1' });
    const authn = authenticator(jwks, { jwks: { timeoutMs: 500, cooldownMs: 60_000 } });
    try {
      await authn.authenticate(bearer(await jwks.sign({ sub: 'u', aud: RESOURCE })));
      const kinds: string[] = [];
      for (const kid of ['a', 'b', 'c', 'd', 'a']) {
        const token = await jwks.sign({ sub: 'x', aud: RESOURCE }, { kid });
        const err = (await authn.authenticate(bearer(token)).catch((e: unknown) => e)) as {
          uncounted?: boolean;
        };
        kinds.push(err.uncounted ? 'uncounted' : 'counted');
      }
      expect(kinds).toEqual(['uncounted', 'uncounted', 'uncounted', 'counted', 'uncounted']);
    } finally {
      await authn.stop();
      await jwks.stop();
    }
  });
});

describe('JWKS outages', () => {
  it('denies with ERR_AUTHN_UNAVAILABLE when the JWKS server is down', async () => {
    const jwks = await startJwksServer();
    const token = await jwks.sign({ sub: 'u', aud: RESOURCE });
    await jwks.stop();
    const authn = authenticator(jwks);
    const err = await authn.authenticate(bearer(token)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTHN_UNAVAILABLE', status: 503 });
    // Bearer tokens are the only way in and no key set was ever fetched: not ready.
    expect(authn.status()).toMatchObject({
      state: 'not_ready',
      detail: expect.stringContaining('JWKS not fetched yet'),
    });
  });

  it('is not ready until the JWKS is fetched once (retried after start), then an outage is only warn', async () => {
    const jwks = await startJwksServer();
    jwks.setFailure('error');
    const authn = authenticator(jwks, { jwks: { timeoutMs: 500, cooldownMs: 1 } }, {}, { jwksRetryMs: 50 });
    try {
      await authn.start();
      expect(authn.status().state).toBe('not_ready');
      jwks.setFailure('none');
      await expect.poll(() => authn.status().state, { timeout: 5_000, interval: 20 }).toBe('ok');
      // Fetched once: a later failed fetch (an unknown kid makes jose fetch again) is only warn.
      jwks.setFailure('error');
      const unknownKid = await jwks.sign({ sub: 'u', aud: RESOURCE }, { kid: 'not-in-the-set' });
      await expect(authn.authenticate(bearer(unknownKid))).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
      expect(authn.status()).toMatchObject({ state: 'warn', detail: expect.stringContaining('JWKS: ') });
    } finally {
      await authn.stop();
      await jwks.stop();
    }
  });

  it('stops retrying the JWKS once stopped, even with a fetch in flight', async () => {
    const jwks = await startJwksServer();
    jwks.setFailure('error');
    let fetches = 0;
    // Each fetch takes 30 ms, so stop() comes while one is in flight.
    const counting: typeof fetch = async (input, init) => {
      fetches++;
      await new Promise((r) => setTimeout(r, 30));
      return fetch(input, init);
    };
    const authn = authenticator(jwks, {}, {}, { jwksRetryMs: 5, fetch: counting });
    try {
      await authn.start();
      await expect.poll(() => fetches, { timeout: 5_000, interval: 5 }).toBeGreaterThan(3);
      await authn.stop();
      const after = fetches;
      // Absence of further fetches can only be watched for a while: several fetch-and-retry cycles.
      await new Promise((r) => setTimeout(r, 300));
      expect(fetches).toBeLessThanOrEqual(after + 1);
    } finally {
      await jwks.stop();
    }
  });

  it('denies with ERR_AUTHN_UNAVAILABLE when the JWKS server hangs past the timeout', async () => {
    const jwks = await startJwksServer();
    jwks.setFailure('hang');
    const authn = authenticator(jwks, { jwks: { timeoutMs: 200 } });
    try {
      const started = Date.now();
      await expect(authn.authenticate(bearer(await jwks.sign({ sub: 'u', aud: RESOURCE })))).rejects.toThrow(
        code('ERR_AUTHN_UNAVAILABLE'),
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await jwks.stop();
    }
  });

  it('denies with ERR_AUTHN_UNAVAILABLE when the JWKS answers 500', async () => {
    const jwks = await startJwksServer();
    jwks.setFailure('error');
    const authn = authenticator(jwks);
    try {
      await expect(authn.authenticate(bearer(await jwks.sign({ sub: 'u', aud: RESOURCE })))).rejects.toThrow(
        code('ERR_AUTHN_UNAVAILABLE'),
      );
    } finally {
      await jwks.stop();
    }
  });

  it('keeps verifying with the cached key set while the JWKS server is down', async () => {
    const jwks = await startJwksServer();
    const authn = authenticator(jwks);
    await authn.authenticate(bearer(await jwks.sign({ sub: 'first', aud: RESOURCE })));
    const later = await jwks.sign({ sub: 'second', aud: RESOURCE });
    await jwks.stop();
    await expect(authn.authenticate(bearer(later))).resolves.toMatchObject({ id: 'second' });
  });
});
