/**
 * Readiness of authentication while the JWKS has never been fetched: not ready when JWTs are the only way in,
 * only `warn` when API keys are another — which they are only once they can work: a pepper set, and the keys
 * in a shared store (a real redis-server here; the CLI creates keys there, an in-memory store holds none).
 * `authn.apiKeys.enabled` is on by default, so a JWT-only setup whose issuer is unreachable was counted ready.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/authn/authenticator.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startJwksServer } from '../helpers/jwks-server.js';
import { redisSuite } from '../helpers/redis-suite.js';

const RESOURCE = 'http://127.0.0.1:8080/mcp';
const PEPPER = { AUTHZ_API_KEY_PEPPER: 'pepper-for-the-test' };
const suite = redisSuite();

async function statusWithJwksDown(store: Store, env: Record<string, string>) {
  const jwks = await startJwksServer();
  await jwks.stop();
  const config = parseConfig(
    {
      authn: {
        resource: RESOURCE,
        jwt: { jwksUri: jwks.url, issuers: [jwks.issuer], jwks: { timeoutMs: 500 } },
      },
    },
    env,
  );
  const authn = createAuthenticator(config, { store, logger: silentLogger(), env, jwksRetryMs: 60_000 });
  await authn.start();
  try {
    return authn.status();
  } finally {
    await authn.stop();
  }
}

describe('authentication readiness before the JWKS is fetched', () => {
  it('is only warn when API keys are another way in: a pepper, and keys in Redis', async () => {
    const store = await suite.openStore(suite.prefix('ready'));
    expect(await statusWithJwksDown(store, PEPPER)).toMatchObject({
      state: 'warn',
      detail: expect.stringContaining('JWKS not fetched yet'),
    });
  });

  it('is not ready when API keys are on by default but have no pepper', async () => {
    const store = await suite.openStore(suite.prefix('ready'));
    expect(await statusWithJwksDown(store, {})).toMatchObject({
      state: 'not_ready',
      detail: expect.stringMatching(/JWKS not fetched yet.*no API key pepper/),
    });
  });

  it('is not ready with the in-memory store, which holds no API keys', async () => {
    expect(await statusWithJwksDown(new MemoryStore(), PEPPER)).toMatchObject({
      state: 'not_ready',
      detail: expect.stringContaining('JWKS not fetched yet'),
    });
  });
});
