/**
 * Credentials end to end through a running sidecar on a real `redis-server`: API keys created and revoked
 * with the `mcp-authz` CLI (a separate process, as an operator would), and the bad-token corpus sent over
 * HTTP — every one refused with 401 and none reaching the upstream.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { type JwksServer, startJwksServer } from '../helpers/jwks-server.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { ROOT } from '../helpers/policy.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Harness, PEPPER, RESOURCE, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let redis: RedisServer;
let jwks: JwksServer;
let h: Harness;
/** Moves the sidecar's clock (expiry checks) ahead of the wall clock. */
let clockOffsetMs = 0;

beforeAll(async () => {
  redis = await startRedis();
  jwks = await startJwksServer({ alg: 'ES256' });
  h = await startHarness({
    redisUrl: redis.url,
    upstreamStateless: true,
    now: () => Date.now() + clockOffsetMs,
    config: {
      authn: {
        jwt: { issuers: [jwks.issuer], jwksUri: jwks.url, jwks: { cooldownMs: 200 }, maxLifetimeSec: 86_400 },
      },
      // This file sends ~20 refused credentials from 127.0.0.1 within a minute (bad tokens, and the polls
      // while a rotated key is not fetched yet): the default IP rule (more than 20 in 60 s) could block the
      // address mid-file on a slow run. Abuse rules have tests of their own (sidecar-abuse.test.ts).
      abuse: { rules: [] },
    },
  });
});

afterAll(async () => {
  await h?.stop();
  await jwks?.stop();
  await redis?.stop();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, AUTHZ_REDIS_URL: redis.url, AUTHZ_API_KEY_PEPPER: PEPPER },
        timeout: 60_000,
      },
      (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const ping = (headers: Record<string, string>) =>
  postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'ping' });

describe('API keys from the CLI against a running sidecar', () => {
  it('create → works; revoke → refused within 1 s', async () => {
    const created = await cli(
      'keys',
      'create',
      '--subject',
      'svc-report',
      '--tenant',
      'acme',
      '--role',
      'analyst',
      '--json',
    );
    expect(created.code, created.stderr).toBe(0);
    const { key, record } = JSON.parse(created.stdout) as { key: string; record: { id: string } };
    expect(key).toMatch(/^mcpk_[a-z2-7]{12}_[\w-]{43}$/);

    const c = await connectStreamable(h.mcpUrl, { 'x-api-key': key });
    const r = await c.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
    expect(r.isError).toBeFalsy();
    const denied = await c
      .callTool({ name: 'run_sql', arguments: { query: 'select 1' } })
      .catch((e: unknown) => e);
    expect((denied as McpError).code).toBe(-32003);
    await c.close();

    const listed = await cli('keys', 'list', '--json');
    expect(listed.stdout).toContain(record.id);
    expect(listed.stdout).not.toContain(key.split('_').slice(2).join('_'));

    const revoked = await cli('keys', 'revoke', record.id);
    expect(revoked.code, revoked.stderr).toBe(0);
    const revokedAt = Date.now();
    await until(3_000, async () => (await ping({ 'x-api-key': key })).status === 401);
    expect(Date.now() - revokedAt).toBeLessThan(1_000 + 300); // poll interval 200 ms in the harness
    const res = await ping({ authorization: `Bearer ${key}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('refuses an expired key', async () => {
    // An hour ahead, so a slow CLI start on a loaded machine cannot outlast it; the sidecar's clock then
    // moves past it.
    const expiresAt = Date.now() + 3_600_000;
    const created = await cli(
      'keys',
      'create',
      '--subject',
      'svc-old',
      '--role',
      'user',
      '--expires-at',
      new Date(expiresAt).toISOString(),
      '--json',
    );
    expect(created.code, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    expect((await ping({ 'x-api-key': key })).status).toBe(200);
    clockOffsetMs = expiresAt - Date.now() + 1_000;
    try {
      expect((await ping({ 'x-api-key': key })).status).toBe(401);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('refuses a revoked token (jti) within 1 s', async () => {
    const token = await jwks.sign({
      sub: 'ana',
      aud: RESOURCE,
      roles: ['analyst'],
      tenant: 'acme',
      jti: 'jti-e2e-1',
    });
    expect((await ping({ authorization: `Bearer ${token}` })).status).toBe(200);
    const revoked = await cli('tokens', 'revoke', 'jti-e2e-1', '--expires-in', '1h');
    expect(revoked.code, revoked.stderr).toBe(0);
    const ms = await until(
      3_000,
      async () => (await ping({ authorization: `Bearer ${token}` })).status === 401,
    );
    expect(ms).toBeLessThan(1_000);
  });
});

describe('bad tokens over HTTP', () => {
  const claims = () => ({ sub: 'mallory', aud: RESOURCE, roles: ['admin'], tenant: 'acme' });
  const tamper = (token: string) => {
    const [a, p, s] = token.split('.') as [string, string, string];
    const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'root' };
    return `${a}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  };
  const corpus: [string, () => Promise<string>][] = [
    [
      'alg none',
      async () => new UnsecuredJWT({ ...claims(), iss: jwks.issuer }).setExpirationTime('5m').encode(),
    ],
    [
      'HS256 signed with the public key',
      async () =>
        new SignJWT({ ...claims(), iss: jwks.issuer })
          .setProtectedHeader({ alg: 'HS256', kid: jwks.kid, typ: 'at+jwt' })
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(await jwks.publicKeyPem())),
    ],
    ['wrong audience', () => jwks.sign({ ...claims(), aud: 'https://evil.example' })],
    ['wrong issuer', () => jwks.sign({ ...claims(), iss: 'https://evil.example' })],
    ['expired', () => jwks.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 120 })],
    ['not yet valid', () => jwks.sign({ ...claims(), nbf: Math.floor(Date.now() / 1000) + 600 })],
    ['unknown kid', () => jwks.sign(claims(), { unservedKey: true, kid: 'never-served' })],
    ['tampered payload', async () => tamper(await jwks.sign(claims()))],
    ['truncated', async () => (await jwks.sign(claims())).slice(0, -10)],
    ['refresh token', () => jwks.sign({ ...claims(), typ: 'Refresh' }, { typ: 'JWT' })],
    ['token for another resource', () => jwks.sign({ ...claims(), aud: 'https://other.example/mcp' })],
    [
      'minted to live ten years (exp - iat over authn.jwt.maxLifetimeSec)',
      () => jwks.sign(claims(), { expiresInSec: 10 * 365 * 86_400 }),
    ],
    [
      'without iat, expiring two days ahead (over authn.jwt.maxLifetimeSec)',
      () => jwks.sign({ ...claims(), iat: undefined }, { expiresInSec: 2 * 86_400 }),
    ],
  ];

  it.each(corpus)('refuses %s with 401 and never forwards it', async (_name, make) => {
    const token = await make();
    h.upstream.resetCalls();
    const res = await ping({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe('ERR_AUTHN_INVALID_TOKEN');
    expect(JSON.stringify(body)).not.toContain(token);
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses a credential in the URL query with 400 invalid_request, even beside a valid header, and forwards nothing', async () => {
    const token = await jwks.sign({ sub: 'ana', aud: RESOURCE, roles: ['analyst'], tenant: 'acme' });
    expect((await ping({ authorization: `Bearer ${token}` })).status).toBe(200);
    h.upstream.resetCalls();
    const before = h.upstream.httpRequests().length;
    const res = await postJsonRpc(
      `${h.mcpUrl}?access_token=${token}`,
      { authorization: `Bearer ${token}` },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_request", error_description="[^"]*access_token/,
    );
    const body = (await res.json()) as { error: { code: number; data: { code: string } } };
    expect(body.error).toMatchObject({ code: -32600, data: { code: 'ERR_AUTHN_INVALID_REQUEST' } });
    expect(JSON.stringify(body)).not.toContain(token);
    expect(h.upstream.httpRequests().length).toBe(before);
    expect(h.upstream.calls()).toEqual([]);
  });

  it('accepts a rotated issuer key without a restart', async () => {
    const before = await jwks.sign({ sub: 'ana', aud: RESOURCE, roles: ['analyst'], tenant: 'acme' });
    expect((await ping({ authorization: `Bearer ${before}` })).status).toBe(200);
    await jwks.rotate();
    const after = await jwks.sign({ sub: 'ana', aud: RESOURCE, roles: ['analyst'], tenant: 'acme' });
    // The new kid is fetched on first sight, once the JWKS cooldown (200 ms here, 30 s by default) has passed.
    await until(2_000, async () => (await ping({ authorization: `Bearer ${after}` })).status === 200);
    expect(jwks.requests).toBeGreaterThan(1);
  });
});
