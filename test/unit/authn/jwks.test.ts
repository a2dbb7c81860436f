import { generateKeyPairSync } from 'node:crypto';
import { errors, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuthenticator } from '../../../src/authn/authenticator.js';
import { createKeyResolver, KeysUnavailableError } from '../../../src/authn/jwks.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const code = (c: string) => expect.objectContaining({ code: c });

async function keyAndToken() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const token = await new SignJWT({ sub: 'u-1', aud: RESOURCE, iss: 'https://idp.example.com' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(privateKey);
  return { jwk, token };
}

function authnWith(fetchImpl: typeof fetch) {
  const config = parseConfig(
    {
      authn: {
        resource: RESOURCE,
        jwt: {
          issuers: ['https://idp.example.com'],
          jwksUri: 'https://idp.example.com/jwks',
          jwks: { timeoutMs: 200 },
        },
      },
    },
    {},
  );
  return createAuthenticator(config, { store: new MemoryStore(), logger: silentLogger(), fetch: fetchImpl });
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** The resolver timings these tests use (a fetch timeout, the failure cooldown, the set's maximum age). */
const TIMINGS = { timeoutMs: 200, cooldownMs: 30_000, cacheMaxAgeMs: 600_000 } as const;
describe('JWKS key resolution (injected fetch)', () => {
  it('verifies with keys from the JWKS', async () => {
    const { jwk, token } = await keyAndToken();
    const authn = authnWith(async () => Response.json({ keys: [jwk] }));
    await expect(authn.authenticate(bearer(token))).resolves.toMatchObject({ id: 'u-1' });
  });

  it.each([
    ['a network failure', async () => Promise.reject(new TypeError('fetch failed'))],
    ['a 500', async () => new Response('boom', { status: 500 })],
    ['a non-JSON body', async () => new Response('<html>', { status: 200 })],
    ['a body that is not a key set', async () => Response.json({ nope: true })],
    [
      'a timeout',
      (_url: string | URL | Request, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    ],
  ])('maps %s to ERR_AUTHN_UNAVAILABLE', async (_name, impl) => {
    const { token } = await keyAndToken();
    const authn = authnWith(impl as typeof fetch);
    await expect(authn.authenticate(bearer(token))).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    // JWTs are the only way in (API keys, on by default, have no pepper and no Redis) and no key set was ever
    // fetched: not ready.
    expect(authn.status()).toMatchObject({ state: 'not_ready', detail: expect.stringContaining('JWKS') });
  });

  it('maps an unknown kid to ERR_AUTHN_INVALID_TOKEN', async () => {
    const { jwk } = await keyAndToken();
    const other = await keyAndToken();
    const authn = authnWith(async () => Response.json({ keys: [{ ...jwk, kid: 'k0' }] }));
    await expect(authn.authenticate(bearer(other.token))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });
});

describe('tokens that name no key', () => {
  /** A public JWK and a token signed with its private key, neither naming a kid. */
  async function unnamed() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256' };
    const token = await new SignJWT({ sub: 'u-1', aud: RESOURCE, iss: 'https://idp.example.com' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('5m')
      .sign(privateKey);
    return { jwk, token };
  }

  it('are verified with whichever key of the set fits, as during a rotation; no key fitting is refused', async () => {
    const [old, current, stranger] = await Promise.all([unnamed(), unnamed(), unnamed()]);
    const authn = authnWith(async () => Response.json({ keys: [old.jwk, current.jwk] }));
    await expect(authn.authenticate(bearer(current.token))).resolves.toMatchObject({ id: 'u-1' });
    await expect(authn.authenticate(bearer(old.token))).resolves.toMatchObject({ id: 'u-1' });
    await expect(authn.authenticate(bearer(stranger.token))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'signature verification failed' }),
    );
  });
});

describe('tokens that name no key, with a candidate key that fails on its own', () => {
  it('are verified by the next candidate: a key of the set too weak for its algorithm ends nothing', async () => {
    // WebCrypto imports a 1024-bit RSA key; jose refuses to verify with it (a TypeError, not a signature failure).
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const strong = { ...(await exportJWK(publicKey)), alg: 'RS256' };
    const token = await new SignJWT({ sub: 'u-1', aud: RESOURCE, iss: 'https://idp.example.com' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(privateKey);
    const authn = authnWith(async () => Response.json({ keys: [{ ...weak, alg: 'RS256' }, strong] }));
    await expect(authn.authenticate(bearer(token))).resolves.toMatchObject({ id: 'u-1' });
    // A key that verifies it ends the search, also when the claims are then refused.
    const expired = await new SignJWT({ sub: 'u-1', aud: RESOURCE, iss: 'https://idp.example.com' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 600)
      .sign(privateKey);
    await expect(authn.authenticate(bearer(expired))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'token expired' }),
    );
    // None verifying is still a refusal.
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: 'u-2', aud: RESOURCE, iss: 'https://idp.example.com' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(other.privateKey);
    await expect(authn.authenticate(bearer(forged))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_TOKEN', message: 'signature verification failed' }),
    );
  });
});

describe('JWKS fetch failures', () => {
  const header = (kid: string) => ({ alg: 'ES256', kid });
  const token = { payload: '', signature: '' };

  /** A resolver over a JWKS whose answers `respond` gives; counts the fetches. */
  function resolver(respond: () => Response | Promise<Response>) {
    const clock = { now: 1_000_000 };
    const calls = { n: 0 };
    const keys = createKeyResolver({
      jwksUri: 'https://idp.example.com/jwks',
      ...TIMINGS,
      fetch: (async () => {
        calls.n++;
        return respond();
      }) as typeof fetch,
      now: () => clock.now,
    });
    return { keys, clock, calls };
  }

  it('fetches no more than once per cooldown while the issuer is down, whatever kids tokens name', async () => {
    const { keys, clock, calls } = resolver(() => Promise.reject(new TypeError('fetch failed')));
    for (let i = 0; i < 20; i++) {
      await expect(keys.getKey(header(`forged-${i}`), token)).rejects.toBeInstanceOf(KeysUnavailableError);
    }
    expect(calls.n).toBe(1);
    clock.now += 30_000;
    await expect(keys.getKey(header('forged-x'), token)).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(calls.n).toBe(2);
  });

  it('keeps verifying with the set fetched last while it is fresh, without fetching it again', async () => {
    const { jwk } = await keyAndToken();
    let up = true;
    const { keys, calls, clock } = resolver(() =>
      up ? Response.json({ keys: [jwk] }) : new Response('down', { status: 503 }),
    );
    await expect(keys.getKey(header('k1'), token)).resolves.toBeDefined();
    up = false;
    await expect(keys.warm()).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(calls.n).toBe(2);
    await expect(keys.getKey(header('k1'), token)).resolves.toBeDefined();
    await expect(keys.getKey(header('k9'), token)).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(calls.n).toBe(2);
    // A key found in the set held is no news of the issuer: /readyz keeps saying the JWKS fails, also once
    // the failure's cooldown is over.
    clock.now += 30_000;
    await expect(keys.getKey(header('k1'), token)).resolves.toBeDefined();
    expect(keys.lastFailure()).toMatch(/Expected 200 OK/);
    up = true;
    await keys.warm();
    expect(calls.n).toBe(3);
    expect(keys.lastFailure()).toBeNull();
  });

  it('ends the failure cooldown on a successful fetch: a failed start then a retry that works', async () => {
    const { jwk } = await keyAndToken();
    let up = false;
    const { keys, calls } = resolver(() =>
      up ? Response.json({ keys: [jwk] }) : new Response('down', { status: 503 }),
    );
    await expect(keys.warm()).rejects.toBeInstanceOf(KeysUnavailableError);
    up = true;
    await keys.warm();
    expect(keys.lastFailure()).toBeNull();
    // Within what was the failure's cooldown: an unknown kid is a 401 (no key matches), not "JWKS unavailable".
    await expect(keys.getKey(header('k9'), token)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    await expect(keys.getKey(header('k1'), token)).resolves.toBeDefined();
    expect(calls.n).toBe(2);
  });

  it('hands on every fitting key of the last set for a token without kid, also while the issuer is down', async () => {
    const [a, b] = await Promise.all([keyAndToken(), keyAndToken()]);
    const unnamed = (jwk: typeof a.jwk) => ({ ...jwk, kid: undefined });
    let up = true;
    const { keys } = resolver(() =>
      up ? Response.json({ keys: [unnamed(a.jwk), unnamed(b.jwk)] }) : new Response('down', { status: 503 }),
    );
    const noKid = { alg: 'ES256' };
    await expect(keys.getKey(noKid, token)).rejects.toBeInstanceOf(errors.JWKSMultipleMatchingKeys);
    up = false;
    await expect(keys.warm()).rejects.toBeInstanceOf(KeysUnavailableError);
    // The verifier tries each of them (tested above); here they are not lost to a 503.
    await expect(keys.getKey(noKid, token)).rejects.toBeInstanceOf(errors.JWKSMultipleMatchingKeys);
  });

  it('ends a failure on a fetch made for a token without kid that several keys fit', async () => {
    const [a, b] = await Promise.all([keyAndToken(), keyAndToken()]);
    const unnamed = (jwk: typeof a.jwk) => ({ ...jwk, kid: undefined });
    let up = false;
    const { keys, clock, calls } = resolver(() =>
      up ? Response.json({ keys: [unnamed(a.jwk), unnamed(b.jwk)] }) : new Response('down', { status: 503 }),
    );
    await expect(keys.warm()).rejects.toBeInstanceOf(KeysUnavailableError);
    up = true;
    clock.now += 30_000;
    // The fetch worked; the several keys are handed on to the verifier: /readyz must no longer say it failed.
    await expect(keys.getKey({ alg: 'ES256' }, token)).rejects.toBeInstanceOf(
      errors.JWKSMultipleMatchingKeys,
    );
    expect(calls.n).toBe(2);
    expect(keys.lastFailure()).toBeNull();
    expect(keys.fetched()).toBe(true);
  });
});

describe('keys past their lifetime or too weak', () => {
  afterEach(() => vi.useRealTimers());

  it('stops verifying with the set fetched last once it is older than cacheMaxAge, while the issuer is down', async () => {
    // jose dates its set with Date.now: a fake Date ages it without waiting.
    vi.useFakeTimers({ toFake: ['Date'] });
    const { jwk } = await keyAndToken();
    let up = true;
    const clock = { now: 1_000_000 };
    const keys = createKeyResolver({
      jwksUri: 'https://idp.example.com/jwks',
      ...TIMINGS,
      fetch: (async () =>
        up ? Response.json({ keys: [jwk] }) : new Response('down', { status: 503 })) as typeof fetch,
      now: () => clock.now,
    });
    const header = { alg: 'ES256', kid: 'k1' };
    const token = { payload: '', signature: '' };
    await expect(keys.getKey(header, token)).resolves.toBeDefined();
    up = false;
    vi.setSystemTime(Date.now() + 600_001);
    clock.now += 600_001;
    await expect(keys.warm()).rejects.toBeInstanceOf(KeysUnavailableError);
    // Within the failure's cooldown, the stale set is not a way around the refetch that failed.
    await expect(keys.getKey(header, token)).rejects.toBeInstanceOf(KeysUnavailableError);
  });

  it('refuses HS tokens while the HS secret it is given is shorter than 32 bytes', async () => {
    const secret = { value: Buffer.alloc(32, 1) };
    const keys = createKeyResolver({
      hsSecret: {
        name: 'jwtHsSecret',
        get: () => secret.value,
        refresh: () => secret.value,
        origin: () => 'file',
        close: () => {},
      },
      ...TIMINGS,
    });
    const token = { payload: '', signature: '' };
    await expect(keys.getKey({ alg: 'HS256' }, token)).resolves.toBeDefined();
    secret.value = Buffer.alloc(31, 1);
    await expect(keys.getKey({ alg: 'HS256' }, token)).rejects.toBeInstanceOf(KeysUnavailableError);
  });
});

describe('a JWKS outage after start, in the log', () => {
  afterEach(() => vi.useRealTimers());

  async function signer(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
    let n = 0;
    const sign = () =>
      new SignJWT({ sub: `u-${++n}`, aud: RESOURCE, iss: 'https://idp.example.com' })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
    return { jwk, sign };
  }

  it('is logged once when a fetch first fails and once when one succeeds again, not per request', async () => {
    // jose times its cooldown with Date.now: a fake Date moves past it without waiting.
    vi.useFakeTimers({ toFake: ['Date'] });
    const [k1, k2] = await Promise.all([signer('k1'), signer('k2')]);
    let served: object[] | null = [k1.jwk];
    const lines: string[] = [];
    const config = parseConfig(
      {
        authn: {
          resource: RESOURCE,
          jwt: { issuers: ['https://idp.example.com'], jwksUri: 'https://idp.example.com/jwks' },
        },
      },
      {},
    );
    const authn = createAuthenticator(config, {
      store: new MemoryStore(),
      logger: createLogger('info', lineCollector(lines)),
      fetch: (async () =>
        served ? Response.json({ keys: served }) : new Response('down', { status: 503 })) as typeof fetch,
    });
    await authn.start();
    await expect(authn.authenticate(bearer(await k1.sign()))).resolves.toBeDefined();
    const logged = () => lines.map((l) => JSON.parse(l) as { level: string; msg: string });

    // The issuer goes down and rotates to k2: each k2 token past the cooldown makes a fetch, which fails.
    served = null;
    for (let i = 0; i < 5; i++) {
      vi.setSystemTime(Date.now() + 31_000);
      await expect(authn.authenticate(bearer(await k2.sign()))).rejects.toThrow(
        code('ERR_AUTHN_UNAVAILABLE'),
      );
      // Tokens signed with a key of the set fetched last still verify (the set is fresh for 10 minutes).
      await expect(authn.authenticate(bearer(await k1.sign()))).resolves.toBeDefined();
    }
    const outage = logged().filter((l) => l.level === 'warn' && /JWKS/.test(l.msg));
    expect(outage).toHaveLength(1);
    expect(logged().filter((l) => /JWKS/.test(l.msg) && l.level === 'info')).toEqual([]);

    served = [k1.jwk, k2.jwk];
    vi.setSystemTime(Date.now() + 31_000);
    await expect(authn.authenticate(bearer(await k2.sign()))).resolves.toBeDefined();
    await expect(authn.authenticate(bearer(await k2.sign()))).resolves.toBeDefined();
    expect(logged().filter((l) => l.level === 'info' && /JWKS/.test(l.msg))).toHaveLength(1);
    expect(logged().filter((l) => l.level === 'warn' && /JWKS/.test(l.msg))).toHaveLength(1);
    await authn.stop();
  });
});

describe('a key of the set that cannot be used', () => {
  /** A public JWK the token names that jose cannot use as one. */
  const badKeys: [string, () => Promise<object>][] = [
    ['an EC point off its curve', async () => ({ kty: 'EC', kid: 'b', crv: 'P-256', x: 'AAAA', y: 'AAAA' })],
    [
      'a private key',
      async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        return { ...(await exportJWK(privateKey)), kid: 'b' };
      },
    ],
  ];

  it.each(badKeys)(
    '%s makes the tokens naming it invalid (401, not counted as a failed login), said once, and is no JWKS outage',
    async (_n, bad) => {
      const good = await keyAndToken();
      const { privateKey } = await generateKeyPair('ES256');
      const named = () =>
        new SignJWT({ sub: 'u-2', aud: RESOURCE, iss: 'https://idp.example.com' })
          .setProtectedHeader({ alg: 'ES256', kid: 'b' })
          .setExpirationTime('5m')
          .sign(privateKey);
      const served = { keys: [good.jwk, await bad()] };
      const lines: string[] = [];
      const config = parseConfig(
        {
          authn: {
            resource: RESOURCE,
            jwt: { issuers: ['https://idp.example.com'], jwksUri: 'https://idp.example.com/jwks' },
            apiKeys: { enabled: false },
          },
        },
        {},
      );
      let fetches = 0;
      const authn = createAuthenticator(config, {
        store: new MemoryStore(),
        logger: createLogger('info', lineCollector(lines)),
        fetch: (async () => {
          fetches++;
          return Response.json(served);
        }) as typeof fetch,
      });
      for (let i = 0; i < 3; i++) {
        await expect(authn.authenticate(bearer(await named()))).rejects.toThrow(
          expect.objectContaining({
            code: 'ERR_AUTHN_INVALID_TOKEN',
            message: expect.stringMatching(/cannot be used/),
            // The issuer's fault, not a guess: no failed login for the abuse rules (an IP block).
            uncounted: true,
          }),
        );
      }
      // No fetch-failure cooldown: a key the set lacks is fetched for, and the other key keeps verifying.
      await expect(authn.authenticate(bearer(good.token))).resolves.toMatchObject({ id: 'u-1' });
      expect(authn.status()).toMatchObject({ state: 'ok' });
      const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'warn');
      expect(warned).toEqual([expect.objectContaining({ kid: 'b', reason: expect.stringMatching(/\w/) })]);
      expect(warned[0].msg).toMatch(/cannot be used/);
      expect(fetches).toBe(1);
    },
  );
});

describe('a key of the set that cannot be used, while the issuer is down', () => {
  afterEach(() => vi.useRealTimers());

  it.each([
    ['a network failure', () => Promise.reject(new TypeError('fetch failed'))],
    ['a body that is not a key set', async () => Response.json({ nope: true })],
  ])('is no reason to take %s for a fetch that worked, once the set held is stale', async (_n, down) => {
    // jose dates its set with Date.now: a fake Date ages it without waiting.
    vi.useFakeTimers({ toFake: ['Date'] });
    const { jwk } = await keyAndToken();
    const bad = { kty: 'EC', kid: 'b', crv: 'P-256', x: 'AAAA', y: 'AAAA' };
    let up = true;
    let fetches = 0;
    const outages: string[] = [];
    const clock = { now: 1_000_000 };
    const keys = createKeyResolver({
      jwksUri: 'https://idp.example.com/jwks',
      ...TIMINGS,
      fetch: (async () => {
        fetches++;
        return up ? Response.json({ keys: [jwk, bad] }) : down();
      }) as typeof fetch,
      now: () => clock.now,
      onOutage: (failure) => outages.push(failure),
    });
    const token = { payload: '', signature: '' };
    await expect(keys.getKey({ alg: 'ES256', kid: 'k1' }, token)).resolves.toBeDefined();
    up = false;
    vi.setSystemTime(Date.now() + 600_001);
    clock.now += 600_001;
    // The fetch for the stale set failed: an outage (503, logged, cooldown), whatever key the token names.
    await expect(keys.getKey({ alg: 'ES256', kid: 'b' }, token)).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(keys.lastFailure()).not.toBeNull();
    expect(outages).toHaveLength(1);
    // The failure's cooldown holds: neither another token naming that key nor a forged kid fetches again.
    await expect(keys.getKey({ alg: 'ES256', kid: 'b' }, token)).rejects.toBeInstanceOf(KeysUnavailableError);
    await expect(keys.getKey({ alg: 'ES256', kid: 'forged' }, token)).rejects.toBeInstanceOf(
      KeysUnavailableError,
    );
    expect(fetches).toBe(2);
  });
});
