import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/authn/authenticator.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { until } from '../../helpers/wait.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const introspection = {
  endpoint: 'https://idp.example.com/introspect',
  clientId: 'mcp-authz',
  issuer: 'https://idp.example.com',
};

describe('introspection in the authenticator', () => {
  it('refuses to start without a client secret or an audience', () => {
    const build =
      (authn: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
      () =>
        createAuthenticator(parseConfig({ authn: { apiKeys: { enabled: false }, ...authn } }, {}), {
          store: new MemoryStore(),
          logger: silentLogger(),
          env,
        });
    expect(build({ resource: RESOURCE, introspection })).toThrow(
      'authn.introspection.clientSecretFile: no client secret for the introspection endpoint',
    );
    expect(build({ introspection }, { AUTHZ_INTROSPECTION_CLIENT_SECRET: 's' })).toThrow(
      'authn.resource: required (or authn.jwt.audiences) so introspected tokens are bound to this server',
    );
    expect(
      build({ resource: RESOURCE, introspection }, { AUTHZ_INTROSPECTION_CLIENT_SECRET: 's' }),
    ).not.toThrow();
  });

  it('reports in /readyz when the client secret file turns empty (opaque tokens are refused then)', async () => {
    const file = join(tempDir('introspection-secret'), 'secret');
    writeFileSync(file, 'client-secret\n');
    const authn = createAuthenticator(
      parseConfig(
        {
          authn: {
            resource: RESOURCE,
            apiKeys: { enabled: false },
            introspection: { ...introspection, clientSecretFile: file },
          },
        },
        {},
      ),
      { store: new MemoryStore(), logger: silentLogger(), env: {} },
    );
    try {
      expect(authn.status().detail ?? '').not.toContain('introspection');
      writeFileSync(file, '');
      await until(5_000, async () => authn.status().state === 'warn');
      expect(authn.status().detail).toContain(
        'no introspection client secret: opaque tokens are refused (503)',
      );
    } finally {
      await authn.stop();
    }
  });

  it('is only warn while the JWKS cannot be fetched, opaque tokens being another way in', async () => {
    const authn = createAuthenticator(
      parseConfig(
        {
          authn: {
            resource: RESOURCE,
            apiKeys: { enabled: false },
            jwt: { jwksUri: 'https://idp.example.com/jwks', issuers: ['https://idp.example.com'] },
            introspection,
          },
        },
        {},
      ),
      {
        store: new MemoryStore(),
        logger: silentLogger(),
        env: { AUTHZ_INTROSPECTION_CLIENT_SECRET: 's' },
        fetch: (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch,
        jwksRetryMs: 60_000,
      },
    );
    await authn.start();
    try {
      expect(authn.status()).toMatchObject({
        state: 'warn',
        detail: expect.stringContaining('JWKS not fetched yet'),
      });
    } finally {
      await authn.stop();
    }
  });
});
