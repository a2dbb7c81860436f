import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyVerifier, createApiKey } from '../../../src/authn/api-keys.js';
import { createSecretSource } from '../../../src/config/secrets.js';
import type { AuthnError } from '../../../src/errors/errors.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import { type Logger, silentLogger } from '../../../src/telemetry/logger.js';

const PEPPER = 'unit-test-pepper';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const code = (c: string) => expect.objectContaining({ code: c });

function setup(opts: { pepper?: string | null; store?: Store } = {}) {
  const clock = { now: T0, mono: 1_000 };
  const store = opts.store ?? new MemoryStore({ now: () => clock.now });
  const env = opts.pepper === null ? {} : { AUTHZ_API_KEY_PEPPER: opts.pepper ?? PEPPER };
  const pepper = createSecretSource({ name: 'apiKeyPepper', envVar: 'AUTHZ_API_KEY_PEPPER', env });
  const revoked = new Set<string>();
  const verifier = new ApiKeyVerifier({
    store,
    pepper,
    prefix: 'mcpk',
    logger: silentLogger(),
    isRevoked: (id) => revoked.has(id),
    now: () => clock.now,
    monotonic: () => clock.mono,
  });
  const mint = (input: Partial<Parameters<typeof createApiKey>[2]> = {}) =>
    createApiKey(store, Buffer.from(PEPPER), { subject: 'svc-a', ...input }, () => clock.now);
  return { store, verifier, clock, revoked, mint };
}

describe('ApiKeyVerifier', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([{ subject: 'svc-\ud800' }, { tenant: 'ac\udc00me' }, { roles: ['ok', '\ud83d'] }])(
    'refuses a key whose fields are not well-formed Unicode: %j',
    async (fields) => {
      const { store, mint } = setup();
      await expect(mint(fields)).rejects.toThrow(/well-formed Unicode/);
      expect(await store.listApiKeys()).toEqual([]);
    },
  );

  it('names the owner of an existing key it refuses (for abuse rules), never in the message', async () => {
    const { verifier, mint, revoked } = setup();
    const { key, record } = await mint({ subject: 'svc-owner' });
    const wrong = `${key.split('_').slice(0, 2).join('_')}_${'A'.repeat(43)}`;
    const err = (await verifier.verify(wrong).catch((e: unknown) => e)) as AuthnError;
    expect(err).toMatchObject({ code: 'ERR_AUTHN_INVALID_API_KEY', subject: 'svc-owner' });
    expect(err.message).not.toContain('svc-owner');
    revoked.add(record.id);
    expect(await verifier.verify(key).catch((e: unknown) => e)).toMatchObject({
      code: 'ERR_AUTHN_REVOKED',
      subject: 'svc-owner',
    });
    const unknown = (await verifier
      .verify(`mcpk_aaaaaaaaaaaa_${'A'.repeat(43)}`)
      .catch((e: unknown) => e)) as AuthnError;
    expect(unknown.subject).toBeUndefined();
  });

  it('refuses a key that would be expired when created', async () => {
    const { store, mint, clock } = setup();
    await expect(mint({ expiresAt: new Date(clock.now - 1000) })).rejects.toThrow(/in the past/);
    expect(await store.listApiKeys()).toEqual([]);
  });

  it('authenticates a minted key as its subject', async () => {
    const { verifier, mint } = setup();
    const { key, record } = await mint({
      tenant: 'acme',
      roles: ['bot'],
      scopes: ['mcp:tools'],
      clearance: 'internal',
    });
    expect(record.hash).not.toContain(key.split('_').slice(2).join('_'));
    await expect(verifier.verify(key)).resolves.toMatchObject({
      id: 'svc-a',
      tenant: 'acme',
      roles: ['bot'],
      scopes: ['mcp:tools'],
      clearance: 'internal',
      authMethod: 'api_key',
      keyId: record.id,
    });
  });

  it('gives one answer for unknown id, wrong secret, malformed, inactive and expired keys', async () => {
    const { verifier, mint, store, clock } = setup();
    const good = await mint();
    const [, id] = good.key.split('_');
    const wrongSecret = `mcpk_${id}_${'A'.repeat(43)}`;
    const unknown = `mcpk_aaaaaaaaaaaa_${'A'.repeat(43)}`;
    const expiring = await mint({ expiresAt: new Date(T0 + 60_000) });
    const inactive = await mint();
    await store.putApiKey({ ...inactive.record, active: false });
    clock.now = T0 + 60_000;
    for (const key of [wrongSecret, unknown, 'mcpk_garbage', expiring.key, inactive.key]) {
      const err = await verifier.verify(key).catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'ERR_AUTHN_INVALID_API_KEY', message: 'invalid API key' });
    }
    await expect(verifier.verify(good.key)).resolves.toBeDefined();
  });

  it('refuses a key from the moment its expiry passes, also when the expiry has milliseconds', async () => {
    const { verifier, mint, clock } = setup();
    // 60.5 s from now: refused at 60.5 s (the whole second before, even), never up to 61 s.
    const { key } = await mint({ expiresAt: new Date(T0 + 60_500) });
    clock.now = T0 + 59_999;
    await expect(verifier.verify(key)).resolves.toBeDefined();
    clock.now = T0 + 60_500;
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('counts an expiry the store gives back unreadable as past, never as "does not expire"', async () => {
    const { verifier, mint, store } = setup();
    const { key, record } = await mint({ expiresAt: new Date(T0 + 3_600_000) });
    // A Store that does not decode its records (as the Redis one does) may hand back anything.
    await store.putApiKey({ ...record, expiresAt: 'not a date' });
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('answers a revoked key with ERR_AUTHN_REVOKED', async () => {
    const { verifier, mint, revoked } = setup();
    const { key, record } = await mint();
    await verifier.verify(key);
    revoked.add(record.id);
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
  });

  it('refuses every key when no pepper is set, as an outage (503), not the caller’s bad key', async () => {
    const { verifier, mint } = setup({ pepper: null });
    const { key } = await mint();
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    expect(() => verifier.fromCache(key)).toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    // A key that is no key at all is still the caller's mistake.
    await expect(verifier.verify('mcpk_nonsense')).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('says at start that no pepper is set, naming the configured file when it gave none', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) } as unknown as Logger;
    const pepper = createSecretSource({ name: 'apiKeyPepper', envVar: 'AUTHZ_API_KEY_PEPPER', env: {} });
    const base = {
      store: new MemoryStore(),
      pepper,
      prefix: 'mcpk',
      logger,
      isRevoked: () => false,
      now: () => T0,
    };
    const withFile = new ApiKeyVerifier({ ...base, pepperFile: '/var/run/secrets/pepper' });
    withFile.start();
    const without = new ApiKeyVerifier(base);
    without.start();
    expect(warnings).toEqual([
      expect.stringContaining(
        'the pepper file authn.apiKeys.pepperFile (/var/run/secrets/pepper) is empty or unreadable',
      ),
      expect.stringContaining('no pepper is set (authn.apiKeys.pepperFile or AUTHZ_API_KEY_PEPPER)'),
    ]);
    return Promise.all([withFile.stop(), without.stop()]);
  });

  it('refuses keys minted under another pepper', async () => {
    const { verifier, store } = setup({ pepper: 'rotated-pepper' });
    const { key } = await createApiKey(store, Buffer.from(PEPPER), { subject: 's' });
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('caches records for a few seconds and shares concurrent lookups', async () => {
    const { verifier, mint, store, clock } = setup();
    const { key } = await mint();
    const spy = vi.spyOn(store, 'getApiKey');
    await Promise.all([verifier.verify(key), verifier.verify(key), verifier.verify(key)]);
    await verifier.verify(key);
    expect(spy).toHaveBeenCalledTimes(1);
    clock.now += 5_000;
    await verifier.verify(key);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('answers a key whose record is cached synchronously, with every check verify makes', async () => {
    const { verifier, mint, store, clock, revoked } = setup();
    const { key, record } = await mint({ subject: 'svc-sync' });
    // Not looked up yet: verify has to run.
    expect(verifier.fromCache(key)).toBeUndefined();
    const principal = await verifier.verify(key);
    const spy = vi.spyOn(store, 'getApiKey');
    expect(verifier.fromCache(key)).toBe(principal);
    const wrong = `${key.split('_').slice(0, 2).join('_')}_${'A'.repeat(43)}`;
    expect(() => verifier.fromCache(wrong)).toThrow(
      expect.objectContaining({ code: 'ERR_AUTHN_INVALID_API_KEY', subject: 'svc-sync' }),
    );
    expect(() => verifier.fromCache('mcpk_broken')).toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
    revoked.add(record.id);
    expect(() => verifier.fromCache(key)).toThrow(code('ERR_AUTHN_REVOKED'));
    revoked.delete(record.id);
    // Past the cache lifetime the record is looked up again.
    clock.now += 5_000;
    expect(verifier.fromCache(key)).toBeUndefined();
    expect(spy).not.toHaveBeenCalled();
    // Uses answered from the cache count, re-checks do not: two verifies and two answers from the cache
    // (refusals are no use), and a re-check that is not counted.
    await verifier.verify(key);
    verifier.fromCache(key);
    verifier.fromCache(key, true);
    await verifier.flushUsage();
    expect((await store.getApiKey(record.id))?.usageCount).toBe(4);
  });

  it('looks a record up again after its 5 s when the wall clock was stepped back meanwhile', async () => {
    const { verifier, mint, store, clock } = setup();
    const { key } = await mint();
    await verifier.verify(key);
    const spy = vi.spyOn(store, 'getApiKey');
    clock.now -= 3_600_000;
    clock.mono += 4_999;
    await verifier.verify(key);
    expect(spy).not.toHaveBeenCalled();
    clock.mono += 1;
    expect(verifier.fromCache(key)).toBeUndefined();
    await verifier.verify(key);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('answers a store failure with ERR_AUTHN_UNAVAILABLE', async () => {
    const { verifier, mint, store } = setup();
    const { key } = await mint();
    vi.spyOn(store, 'getApiKey').mockRejectedValue(new Error('store getApiKey failed: not connected'));
    await expect(verifier.verify(key)).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
  });

  it('refuses during a store outage a key the record read before shows expired or revoked, never admits one', async () => {
    const { verifier, mint, store, clock, revoked } = setup();
    const soon = await mint({ expiresAt: new Date(T0 + 60_000) });
    const later = await mint();
    const fine = await mint();
    for (const k of [soon, later, fine]) await verifier.verify(k.key);
    vi.spyOn(store, 'getApiKey').mockRejectedValue(new Error('store getApiKey failed: not connected'));
    clock.now += 120_000; // past the first key's expiry and every record's 5 s lifetime
    revoked.add(later.record.id);
    await expect(verifier.verify(soon.key)).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
    await expect(verifier.verify(later.key)).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
    // Nothing against it: the outage is the answer, not a stale admission.
    await expect(verifier.verify(fine.key)).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    // A wrong secret for a seen id is refused as ever; a re-check records no use.
    const wrong = `${fine.key.split('_').slice(0, 2).join('_')}_${'A'.repeat(43)}`;
    await expect(verifier.verify(wrong)).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('records usage off the request path and flushes it in batches', async () => {
    const { verifier, mint, store, clock } = setup();
    const { key, record } = await mint();
    const spy = vi.spyOn(store, 'recordApiKeyUsage');
    await verifier.verify(key);
    clock.now += 1_000;
    await verifier.verify(key);
    expect(spy).not.toHaveBeenCalled();
    await verifier.flushUsage();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(await store.getApiKey(record.id)).toMatchObject({
      usageCount: 2,
      lastUsedAt: new Date(T0 + 1_000).toISOString(),
    });
  });

  it('keeps usage counts when a flush fails and writes them on the next', async () => {
    const { verifier, mint, store } = setup();
    const { key, record } = await mint();
    await verifier.verify(key);
    const spy = vi.spyOn(store, 'recordApiKeyUsage').mockRejectedValueOnce(new Error('down'));
    await verifier.flushUsage();
    await verifier.verify(key);
    await verifier.stop();
    expect(spy).toHaveBeenCalledTimes(2);
    expect((await store.getApiKey(record.id))?.usageCount).toBe(2);
  });
});

describe('createApiKey', () => {
  it('stores the record with the hash and returns the key once', async () => {
    const store = new MemoryStore();
    const { key, record } = await createApiKey(store, Buffer.from(PEPPER), {
      subject: 'svc',
      roles: ['r'],
      description: 'ci bot',
      expiresAt: '2030-01-01T00:00:00Z',
    });
    expect(key.startsWith(`mcpk_${record.id}_`)).toBe(true);
    expect(await store.getApiKey(record.id)).toEqual(record);
    expect(record).toMatchObject({
      active: true,
      usageCount: 0,
      expiresAt: '2030-01-01T00:00:00.000Z',
      tenant: null,
    });
  });

  it.each([
    [{ tenant: '' }, 'tenant'],
    [{ roles: ['analyst', ''] }, 'role'],
    [{ scopes: [''] }, 'scope'],
    [{ clearance: '' }, 'clearance'],
  ])('refuses an empty %j, as an empty claim of a token is refused', async (input, field) => {
    // `keys create --tenant "$TENANT"` with TENANT unset: the key would carry tenant "", which no token can.
    const store = new MemoryStore();
    await expect(createApiKey(store, Buffer.from(PEPPER), { subject: 's', ...input })).rejects.toThrow(
      `an API key's ${field} must not be empty (leave it out for none)`,
    );
    expect(await store.listApiKeys()).toEqual([]);
  });

  it('refuses a bad expiry', async () => {
    await expect(
      createApiKey(new MemoryStore(), Buffer.from('p'), { subject: 's', expiresAt: 'soon' }),
    ).rejects.toThrow('expiresAt is not a valid date');
  });
});
