/**
 * The constant-time path of API key checks, observed through a spy on `crypto.timingSafeEqual`: every
 * presented secret is compared with it exactly once — a right or wrong secret, an unknown id, a malformed
 * stored hash — so the answer time tells no one which ids exist or how much of a secret was right.
 *
 * @module
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

const spy = vi.hoisted(() => ({ calls: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual: typeof real.timingSafeEqual = (a, b) => {
    spy.calls++;
    return real.timingSafeEqual(a, b);
  };
  return { ...real, default: { ...real, timingSafeEqual }, timingSafeEqual };
});

const { ApiKeyVerifier, createApiKey } = await import('../../../src/authn/api-keys.js');
const { hashSecret, secretMatches } = await import('../../../src/authn/api-key-format.js');
const { createSecretSource } = await import('../../../src/config/secrets.js');
const { MemoryStore } = await import('../../../src/store/memory-store.js');
const { silentLogger } = await import('../../../src/telemetry/logger.js');

const PEPPER = 'unit-test-pepper-timing';

afterEach(() => {
  spy.calls = 0;
});

describe('secretMatches', () => {
  it.each([
    ['the right secret', 'right'],
    ['a wrong secret', 'wrong'],
  ])('compares %s in constant time', (_name, secret) => {
    const h = hashSecret(Buffer.from(PEPPER), 'right');
    secretMatches(Buffer.from(PEPPER), secret, h);
    expect(spy.calls).toBe(1);
  });

  it.each([
    ['no stored hash (unknown id)', null],
    ['a malformed stored hash', 'not-hex'],
  ])('compares against a dummy with %s, the same path', (_name, stored) => {
    expect(secretMatches(Buffer.from(PEPPER), 'right', stored)).toBe(false);
    expect(spy.calls).toBe(1);
  });
});

describe('ApiKeyVerifier', () => {
  it('compares the secret of an unknown id as of a known one: once, in constant time', async () => {
    const store = new MemoryStore();
    const verifier = new ApiKeyVerifier({
      store,
      pepper: createSecretSource({
        name: 'apiKeyPepper',
        envVar: 'AUTHZ_API_KEY_PEPPER',
        env: { AUTHZ_API_KEY_PEPPER: PEPPER },
      }),
      prefix: 'mcpk',
      logger: silentLogger(),
      isRevoked: () => false,
      now: Date.now,
    });
    const { key } = await createApiKey(store, Buffer.from(PEPPER), { subject: 'svc-a' });
    const [, id] = key.split('_');
    spy.calls = 0;
    await expect(verifier.verify(`mcpk_${id}_${'A'.repeat(43)}`)).rejects.toThrow();
    expect(spy.calls).toBe(1);
    spy.calls = 0;
    await expect(verifier.verify(`mcpk_aaaaaaaaaaaa_${'A'.repeat(43)}`)).rejects.toThrow();
    expect(spy.calls).toBe(1);
    await verifier.stop();
  });
});
