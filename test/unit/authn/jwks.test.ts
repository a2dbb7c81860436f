import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/authn/authenticator.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

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
    expect(authn.status().state).toBe('warn');
  });

  it('maps an unknown kid to ERR_AUTHN_INVALID_TOKEN', async () => {
    const { jwk } = await keyAndToken();
    const other = await keyAndToken();
    const authn = authnWith(async () => Response.json({ keys: [{ ...jwk, kid: 'k0' }] }));
    await expect(authn.authenticate(bearer(other.token))).rejects.toThrow(code('ERR_AUTHN_INVALID_TOKEN'));
  });
});
