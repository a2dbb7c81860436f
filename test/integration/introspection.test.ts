/**
 * `authn.introspection` on a real sidecar in front of the real MCP SDK example server, with a real RFC 7662
 * endpoint over HTTP: an opaque token the endpoint calls active for this server is let in (the SDK client
 * lists and calls tools, the upstream never sees the token, the audit names the method) and asked about once
 * for many calls; inactive, foreign-audience, refresh, expired, revoked and overlong tokens are 401; JWTs
 * still go to the JWKS, not the endpoint; an endpoint that refuses the sidecar's credentials or is down is a
 * 503.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type Harness, RESOURCE, startHarness } from '../helpers/sidecar.js';

const CLIENT_ID = 'mcp-authz';
const CLIENT_SECRET = 'introspection-secret-0123456789';
const now = () => Math.floor(Date.now() / 1000);

/** What the endpoint answers per token; anything else is `{active: false}`. */
const answers = new Map<string, Record<string, unknown>>();
const asked: string[] = [];
/** Answers for tokens starting `held-` wait here until the test releases them. */
const held: Array<() => void> = [];
/** The endpoint is down: every answer is a 503. */
let down = false;
let endpoint = '';
let server: Server;
let h: Harness | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return void res.writeHead(401).end();
      const form = new URLSearchParams(body);
      const token = form.get('token') ?? '';
      asked.push(`${req.headers['content-type']} ${form.get('token_type_hint')} ${token}`);
      if (down) return void res.writeHead(503).end();
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answers.get(token) ?? { active: false }));
      };
      if (token.startsWith('held-')) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
});

afterAll(() => {
  server?.close();
});

afterEach(async () => {
  await h?.stop();
  h = undefined;
  for (const release of held.splice(0)) release();
  answers.clear();
  asked.length = 0;
  down = false;
});

const active = (extra: Record<string, unknown> = {}) => ({
  active: true,
  sub: 'opaque-alice',
  tenant: 'acme',
  roles: ['user'],
  scope: 'mcp:tools',
  aud: RESOURCE,
  exp: now() + 600,
  jti: 'opaque-jti-1',
  ...extra,
});

const start = (secret = CLIENT_SECRET, url = endpoint, clock?: () => number) =>
  startHarness({
    upstreamStateless: true,
    ...(clock ? { now: clock } : {}),
    // A day at most, for introspected tokens too (every token here lives minutes but t-overlong).
    config: {
      authn: { introspection: { endpoint: url, clientId: CLIENT_ID }, jwt: { maxLifetimeSec: 86_400 } },
    },
    env: { AUTHZ_INTROSPECTION_CLIENT_SECRET: secret },
  });

const ping = async (token: string) => {
  const res = await postJsonRpc(
    h?.mcpUrl ?? '',
    { authorization: `Bearer ${token}` },
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
    },
  );
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
};

describe('authn.introspection', () => {
  it('lets in an opaque token the endpoint calls active for this server, asking once for many calls', async () => {
    answers.set('opaque-token-alice', active());
    h = await start();
    const client = await connectStreamable(h.mcpUrl, { authorization: 'Bearer opaque-token-alice' });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const result = await client.callTool({ name: 'echo', arguments: { text: 'opaque' } });
      expect(JSON.stringify(result.content)).toContain('opaque');
    } finally {
      await client.close();
    }
    expect(asked).toEqual(['application/x-www-form-urlencoded access_token opaque-token-alice']);
    const call = h.upstream.calls().find((c) => c.name === 'echo');
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.headers['x-mcp-authz-subject']).toBe('opaque-alice');
    expect(h.logs.some((l) => l.includes('"auth_method":"introspection"'))).toBe(true);
    expect(h.logs.join('\n')).not.toContain('opaque-token-alice');
  });

  it('refuses inactive, foreign-audience, refresh, expired, revoked and overlong tokens with 401; JWTs go to the JWKS', async () => {
    answers.set('t-foreign', active({ aud: 'https://other.example/mcp' }));
    answers.set('t-refresh', active({ token_type: 'refresh_token' }));
    answers.set('t-expired', active({ exp: now() - 600 }));
    answers.set('t-revoked', active({ jti: 'revoked-jti' }));
    // Ten minutes left, but issued 30 days ago: its lifetime is what counts.
    answers.set('t-overlong', active({ iat: now() - 30 * 86_400 }));
    h = await start();
    await h.sidecar.store.revokeToken('revoked-jti', now() + 600);
    for (const [token, reason] of [
      ['t-unknown', 'token is not active'],
      ['t-foreign', 'audience not accepted'],
      ['t-refresh', 'not an access token'],
      ['t-expired', 'token expired'],
      ['t-revoked', 'token revoked'],
      ['t-overlong', 'token lifetime exceeds authn.jwt.maxLifetimeSec'],
    ] as const) {
      const r = await ping(token);
      expect(r.status, token).toBe(401);
      expect(r.challenge, token).toContain('error="invalid_token"');
      expect(r.body, token).toContain(reason);
    }
    // A JWT of the dev issuer is verified against its JWKS: the endpoint is not asked about it.
    const before = asked.length;
    expect((await ping(await h.token({ roles: ['user'] }))).status).toBe(200);
    expect(asked.length).toBe(before);
  });

  it("gives one client address a share of the introspections in flight, so its invented tokens cannot starve others'", async () => {
    answers.set('opaque-token-alice', active());
    h = await startHarness({
      upstreamStateless: true,
      config: {
        server: { trustProxyHops: 1 },
        authn: { introspection: { endpoint, clientId: CLIENT_ID } },
      },
      env: { AUTHZ_INTROSPECTION_CLIENT_SECRET: CLIENT_SECRET },
    });
    const from = (ip: string, token: string) =>
      postJsonRpc(
        h?.mcpUrl ?? '',
        { authorization: `Bearer ${token}`, 'x-forwarded-for': ip },
        { jsonrpc: '2.0', id: 1, method: 'ping' },
      );
    // One client's invented tokens, each held at the endpoint: they fill that client's share.
    const flood = Array.from({ length: 8 }, (_, i) => from('203.0.113.7', `held-${i}`));
    await expect.poll(() => held.length).toBe(8);
    const more = await from('203.0.113.7', 'held-more');
    expect(more.status).toBe(503);
    expect(await more.text()).toContain('too many token introspections in flight from this client address');
    expect(asked.some((a) => a.endsWith('held-more'))).toBe(false);
    // Another client's token is still asked about, and let in.
    const other = await from('198.51.100.2', 'opaque-token-alice');
    expect(other.status).toBe(200);
    for (const release of held.splice(0)) release();
    for (const r of await Promise.all(flood)) expect(r.status).toBe(401);
  });

  it('refuses with 401, while the endpoint is down, a token it saw expire or whose jti was revoked since', async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    answers.set('opaque-soon', active({ exp: now() + 20, jti: 'jti-soon' }));
    answers.set('opaque-later', active({ jti: 'jti-later' }));
    answers.set('opaque-fine', active({ jti: 'jti-fine' }));
    h = await start(CLIENT_SECRET, endpoint, clock);
    for (const token of ['opaque-soon', 'opaque-later', 'opaque-fine'])
      expect((await ping(token)).status).toBe(200);
    down = true;
    // Two minutes on: the first token expired, and none is in the 60 s introspection cache any more.
    offset += 120_000;
    await h.sidecar.store.revokeToken('jti-later', now() + 3_600);
    const expired = await ping('opaque-soon');
    expect(expired.status).toBe(401);
    expect(expired.body).toContain('token expired');
    const revoked = await ping('opaque-later');
    expect(revoked.status).toBe(401);
    expect(revoked.body).toContain('token revoked');
    // One the sidecar knows nothing against still waits for the endpoint: 503, not let through.
    expect((await ping('opaque-fine')).status).toBe(503);
    expect(h.upstream.calls().filter((c) => c.method === 'ping')).toHaveLength(3);
  });

  it('answers 503 when the endpoint refuses the sidecar or cannot be reached, letting nothing through', async () => {
    answers.set('opaque-token-alice', active());
    h = await start('not-the-secret');
    const refused = await ping('opaque-token-alice');
    expect(refused.status).toBe(503);
    expect(refused.body).toContain("refused the sidecar's client credentials (HTTP 401)");
    expect(refused.body).not.toContain('not-the-secret');
    await h.stop();
    h = await start(CLIENT_SECRET, 'http://127.0.0.1:1/introspect');
    const down = await ping('opaque-token-alice');
    expect(down.status).toBe(503);
    expect(h.upstream.calls().filter((c) => c.method === 'ping')).toEqual([]);
  });
});
