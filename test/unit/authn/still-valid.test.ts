/**
 * `Authenticator.stillValid`: what the `recheck` stage asks once a body is in — the principal's token or key
 * revoked, or expired, since it was authenticated — from memory only.
 */
import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../../src/authn/api-keys.js';
import { createAuthenticator } from '../../../src/authn/authenticator.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

const PEPPER = 'unit-pepper';
const code = (c: string, message?: string) =>
  expect.objectContaining({ code: c, ...(message ? { message } : {}) });

describe('Authenticator.stillValid', () => {
  it('refuses a key revoked or expired since, and a token past its exp and tolerance', async () => {
    const clock = { now: Date.parse('2026-11-23T10:00:00Z') };
    const store = new MemoryStore({ now: () => clock.now });
    const config = parseConfig(
      { authn: { resource: 'https://mcp.example/mcp', jwt: { clockToleranceSec: 30 } } },
      { AUTHZ_API_KEY_PEPPER: PEPPER },
    );
    const authn = createAuthenticator(config, {
      store,
      logger: silentLogger(),
      now: () => clock.now,
      env: { AUTHZ_API_KEY_PEPPER: PEPPER },
    });
    await authn.start();
    try {
      const expiring = await createApiKey(
        store,
        Buffer.from(PEPPER),
        { subject: 'svc', expiresAt: new Date(clock.now + 60_000) },
        () => clock.now,
      );
      const revoked = await createApiKey(store, Buffer.from(PEPPER), { subject: 'svc2' }, () => clock.now);
      const p1 = await authn.authenticate({ headers: { 'x-api-key': expiring.key } });
      const p2 = await authn.authenticate({ headers: { 'x-api-key': revoked.key } });
      expect(() => authn.stillValid(p1)).not.toThrow();
      await store.revokeApiKey(revoked.record.id);
      await authn.stop(); // a stop and start reload the revocations at once (no waiting for the poll)
      await authn.start();
      expect(() => authn.stillValid(p2)).toThrow(code('ERR_AUTHN_REVOKED', 'API key revoked'));
      clock.now += 60_000;
      expect(() => authn.stillValid(p1)).toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
      // A token: accepted up to the tolerance past its exp, as jose accepts it.
      const exp = Math.floor(clock.now / 1000) + 10;
      const token = { ...p1, authMethod: 'jwt' as const, keyId: undefined, tokenId: 'jti-1', expiresAt: exp };
      clock.now = (exp + 29) * 1000;
      expect(() => authn.stillValid(token)).not.toThrow();
      clock.now = (exp + 30) * 1000;
      expect(() => authn.stillValid(token)).toThrow(code('ERR_AUTHN_INVALID_TOKEN', 'token expired'));
      await store.revokeToken('jti-1', exp + 3_600);
      await authn.stop();
      await authn.start();
      clock.now = exp * 1000;
      expect(() => authn.stillValid(token)).toThrow(code('ERR_AUTHN_REVOKED', 'token revoked'));
    } finally {
      await authn.stop();
    }
  });
});
