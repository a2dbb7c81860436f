/**
 * Integration tests for the dev token issuer of the demo and the tests: tokens that verify against its
 * JWKS over HTTP, its metadata, and the deliberately bad tokens the negative tests ask for.
 *
 * @module
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { startDevIssuer } from '../../examples/dev-issuer/issuer.js';

describe('dev issuer', () => {
  const audience = 'http://127.0.0.1:8080/mcp';

  it.each(['ES256', 'RS256'] as const)('mints %s at+jwt tokens that verify against its JWKS', async (alg) => {
    const issuer = await startDevIssuer({ audience, alg });
    try {
      const token = await issuer.mint({
        sub: 'u-42',
        roles: ['analyst'],
        tenant: 'acme',
        scope: 'mcp:tools',
        clearance: 'confidential',
      });
      expect(decodeProtectedHeader(token)).toEqual({ alg, kid: issuer.kid, typ: 'at+jwt' });
      const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
      const { payload } = await jwtVerify(token, jwks, { issuer: issuer.issuer, audience, typ: 'at+jwt' });
      expect(payload).toMatchObject({
        iss: issuer.issuer,
        aud: audience,
        sub: 'u-42',
        tenant: 'acme',
        roles: ['analyst'],
        scope: 'mcp:tools',
        clearance: 'confidential',
        client_id: 'mcp-authz-dev',
      });
      expect(payload.jti).toEqual(expect.any(String));
      expect(Number(payload.exp) - Number(payload.iat)).toBe(3_600);
    } finally {
      await issuer.close();
    }
  });

  it('puts the roles at another claim path on request (Keycloak: realm_access.roles)', async () => {
    const issuer = await startDevIssuer({ audience, rolesClaim: 'realm_access.roles' });
    try {
      const token = await issuer.mint({ sub: 'u-1', roles: ['support'], tenant: 'acme' });
      const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
      const { payload } = await jwtVerify(token, jwks, { issuer: issuer.issuer, audience });
      expect(payload.realm_access).toEqual({ roles: ['support'] });
      expect(payload).not.toHaveProperty('roles');
    } finally {
      await issuer.close();
    }
  });

  it('serves honest RFC 8414 metadata and a dev-only POST /token', async () => {
    const issuer = await startDevIssuer({ audience });
    try {
      const meta = (await (
        await fetch(`${issuer.issuer}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, unknown>;
      expect(meta).toMatchObject({ issuer: issuer.issuer, jwks_uri: issuer.jwksUri });
      expect(meta).not.toHaveProperty('token_endpoint');
      expect(meta).not.toHaveProperty('authorization_endpoint');

      const res = await fetch(issuer.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'u-1', roles: ['admin'], tenant: 'globex' }),
      });
      expect(res.status).toBe(200);
      const { access_token, token_type, expires_in } = (await res.json()) as Record<string, string | number>;
      expect({ token_type, expires_in }).toEqual({ token_type: 'Bearer', expires_in: 3_600 });
      const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
      const { payload } = await jwtVerify(String(access_token), jwks, { issuer: issuer.issuer, audience });
      expect(payload).toMatchObject({ sub: 'u-1', roles: ['admin'], tenant: 'globex' });

      const bad = await fetch(issuer.tokenEndpoint, { method: 'POST', body: JSON.stringify({ roles: 'x' }) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: 'invalid_request' });
    } finally {
      await issuer.close();
    }
  });

  it('mints expired and wrong-audience tokens on request, for negative tests', async () => {
    const issuer = await startDevIssuer({ audience });
    try {
      const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
      const expired = await issuer.mint({ sub: 'u', roles: [], expiresIn: '-5m' });
      await expect(jwtVerify(expired, jwks, { audience })).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
      const elsewhere = await issuer.mint({ sub: 'u', roles: [], audience: 'https://other.example/mcp' });
      await expect(jwtVerify(elsewhere, jwks, { audience })).rejects.toMatchObject({
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
        claim: 'aud',
      });
    } finally {
      await issuer.close();
    }
  });
});
