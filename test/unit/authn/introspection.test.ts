import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  type IntrospectorOptions,
  MAX_INTROSPECTIONS_IN_FLIGHT,
  MAX_INTROSPECTIONS_PER_CLIENT,
  REFUSED_TTL_MS,
  TokenIntrospector,
} from '../../../src/authn/introspection.js';
import { TokenCache } from '../../../src/authn/token-cache.js';
import type { AuthnError } from '../../../src/errors/errors.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const T0 = Date.parse('2026-12-05T12:00:00Z');
const sec = (ms: number) => Math.floor(ms / 1000);

/** The introspector's options for these tests, with `over` laid on top. */
function options(over: Partial<IntrospectorOptions> = {}): IntrospectorOptions {
  return {
    endpoint: 'https://login.example.com/introspect',
    clientId: 'sidecar',
    clientSecret: () => Buffer.from('secret'),
    audiences: [RESOURCE],
    claims: { subject: 'sub', tenant: 'tenant', roles: 'roles', scopes: 'scope', clearance: 'clearance' },
    requiredScopes: [],
    clockToleranceSec: 30,
    timeoutMs: 1_000,
    cacheTtlMs: 60_000,
    cache: new TokenCache(100),
    isRevoked: () => false,
    now: () => T0,
    ...over,
  };
}

interface Sent {
  readonly url: string;
  readonly init: RequestInit;
}

/** An introspector whose endpoint is `answer` (a body, a Response, or a thrown error); `sent` records requests. */
function setup(
  answer: unknown,
  opts: {
    clientId?: string;
    secret?: string;
    issuer?: string;
    requiredScopes?: string[];
    revoked?: string[];
    maxLifetimeSec?: number;
  } = {},
) {
  let t = T0;
  const sent: Sent[] = [];
  const fetchFake = (async (url: string, init: RequestInit) => {
    sent.push({ url, init });
    if (answer instanceof Error) throw answer;
    if (typeof answer === 'function') return (answer as () => Response)();
    return new Response(typeof answer === 'string' ? answer : JSON.stringify(answer), { status: 200 });
  }) as unknown as typeof fetch;
  const introspector = new TokenIntrospector(
    options({
      clientId: opts.clientId ?? 'sidecar',
      clientSecret: () => Buffer.from(opts.secret ?? 'secret'),
      issuer: opts.issuer,
      requiredScopes: opts.requiredScopes ?? [],
      isRevoked: (jti) => (opts.revoked ?? []).includes(jti),
      maxLifetimeSec: opts.maxLifetimeSec,
      now: () => t,
      fetch: fetchFake,
    }),
  );
  return { introspector, sent, advance: (ms: number) => (t += ms) };
}

const active = (extra: Record<string, unknown> = {}) => ({
  active: true,
  sub: 'alice',
  tenant: 'acme',
  roles: 'user',
  scope: 'mcp:tools',
  aud: [RESOURCE],
  exp: sec(T0) + 300,
  jti: 'j-1',
  ...extra,
});

/** An introspector whose endpoint holds every answer until the test gives it (`waiting`, in ask order). */
function heldEndpoint() {
  const waiting: Array<(r: Response) => void> = [];
  let calls = 0;
  const introspector = new TokenIntrospector(
    options({
      timeoutMs: 60_000,
      fetch: (() => {
        calls++;
        return new Promise<Response>((resolve) => waiting.push(resolve));
      }) as unknown as typeof fetch,
    }),
  );
  return { introspector, waiting, calls: () => calls };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: AuthnError) => `${e.code}: ${e.message}`,
  );

describe('TokenIntrospector', () => {
  it('maps an active answer to a principal, sending the token as a form with Basic client credentials', async () => {
    const s = setup(active(), { clientId: 'side:car', secret: 'p@ss word' });
    const p = await s.introspector.verify('opaque-1');
    expect(p).toMatchObject({
      id: 'alice',
      tenant: 'acme',
      roles: ['user'],
      scopes: ['mcp:tools'],
      authMethod: 'introspection',
      tokenId: 'j-1',
    });
    const [req] = s.sent;
    expect(req?.init.method).toBe('POST');
    expect(req?.init.body).toBe('token=opaque-1&token_type_hint=access_token');
    expect(req?.init.redirect).toBe('error');
    const auth = String((req?.init.headers as Record<string, string> | undefined)?.authorization);
    // RFC 6749 §2.3.1: each part form-encoded before Basic.
    expect(Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()).toBe('side%3Acar:p%40ss+word');
  });

  it('reuses an answer until its exp or the cache time, whichever comes first, and applies revocation to it', async () => {
    const s = setup(active({ exp: sec(T0) + 30 }));
    await s.introspector.verify('opaque-1');
    s.advance(20_000);
    expect(s.introspector.fromCache('opaque-1')?.id).toBe('alice');
    expect(s.sent).toHaveLength(1);
    s.advance(11_000); // past exp: asked again (and now refused as expired, within the tolerance still)
    expect(s.introspector.fromCache('opaque-1')).toBeUndefined();
    const revoked = setup(active(), { revoked: ['j-1'] });
    expect(await refusal(revoked.introspector.verify('opaque-1'))).toBe('ERR_AUTHN_REVOKED: token revoked');
    // Revoked after it was cached: both the synchronous fast path and verify refuse it, without asking again.
    const later: string[] = [];
    const cachedThenRevoked = setup(active(), { revoked: later });
    await cachedThenRevoked.introspector.verify('opaque-1');
    later.push('j-1');
    expect(() => cachedThenRevoked.introspector.fromCache('opaque-1')).toThrow('token revoked');
    expect(await refusal(cachedThenRevoked.introspector.verify('opaque-1'))).toBe(
      'ERR_AUTHN_REVOKED: token revoked',
    );
    expect(cachedThenRevoked.sent).toHaveLength(1);
  });

  it('answers 503 for an exp in milliseconds (centuries ahead), the authorization server being at fault', async () => {
    const s = setup(active({ exp: T0 + 300_000 }));
    expect(await refusal(s.introspector.verify('ms-exp'))).toBe(
      'ERR_AUTHN_UNAVAILABLE: the introspection answer names an exp centuries ahead (milliseconds, not seconds?)',
    );
  });

  it('refuses an answer whose exp - iat, or exp - now plus the tolerance, exceeds maxLifetimeSec', async () => {
    const now = sec(T0);
    const verdict = (answer: Record<string, unknown>, maxLifetimeSec?: number) =>
      refusal(
        setup(active(answer), maxLifetimeSec ? { maxLifetimeSec } : {}).introspector.verify('opaque-1'),
      );
    const overlong = 'ERR_AUTHN_INVALID_TOKEN: token lifetime exceeds authn.jwt.maxLifetimeSec';
    const years = { iat: now, exp: now + 10 * 365 * 86_400 };
    expect(await verdict(years)).toBe('accepted');
    expect(await verdict(years, 3_600)).toBe(overlong);
    expect(await verdict({ iat: now, exp: now + 3_600 }, 3_600)).toBe('accepted');
    expect(await verdict({ iat: now - 3_000, exp: now + 1_000 }, 3_600)).toBe(overlong);
    // Without iat (the tolerance is 30 s): what is left of it.
    expect(await verdict({ exp: now + 3_630 }, 3_600)).toBe('accepted');
    expect(await verdict({ exp: now + 3_631 }, 3_600)).toBe(overlong);
    // An iat that is no number is no iat; one far ahead does not stretch the bound on exp.
    expect(await verdict({ iat: String(now - 86_400), exp: now + 3_600 }, 3_600)).toBe('accepted');
    expect(await verdict({ iat: now + 86_400, exp: now + 87_000 }, 3_600)).toBe(overlong);
  });

  it('refuses a token the answer refused from memory for REFUSED_TTL_MS, then asks again', async () => {
    const s = setup({ active: false });
    for (let i = 0; i < 5; i++)
      expect(await refusal(s.introspector.verify('dead'))).toBe(
        'ERR_AUTHN_INVALID_TOKEN: token is not active',
      );
    expect(s.sent).toHaveLength(1);
    s.advance(REFUSED_TTL_MS + 1);
    expect(await refusal(s.introspector.verify('dead'))).toBe('ERR_AUTHN_INVALID_TOKEN: token is not active');
    expect(s.sent).toHaveLength(2);
    // An outage is not remembered: the next call asks again.
    const down = setup(new Error('connect ECONNREFUSED'));
    await refusal(down.introspector.verify('t'));
    await refusal(down.introspector.verify('t'));
    expect(down.sent).toHaveLength(2);
  });

  it('asks once for concurrent calls with one new token, and sheds new tokens past the in-flight limit', async () => {
    let release: (r: Response) => void = () => undefined;
    const { introspector, waiting, calls } = heldEndpoint();
    const first = introspector.verify('same');
    const second = introspector.verify('same');
    expect(calls()).toBe(1);
    for (let i = 1; i < MAX_INTROSPECTIONS_IN_FLIGHT; i++)
      void introspector.verify(`other-${i}`).catch(() => undefined);
    expect(calls()).toBe(MAX_INTROSPECTIONS_IN_FLIGHT);
    expect(await refusal(introspector.verify('one-too-many'))).toBe(
      'ERR_AUTHN_UNAVAILABLE: too many token introspections in flight; retry shortly',
    );
    release = waiting[0] as (r: Response) => void;
    release(new Response(JSON.stringify(active()), { status: 200 }));
    expect((await first).id).toBe('alice');
    expect(await second).toBe(await first);
    for (const w of waiting.slice(1)) w(new Response(JSON.stringify({ active: false }), { status: 200 }));
  });

  it('gives one client address at most its share of the in-flight introspections, not the slots others need', async () => {
    const { introspector, waiting, calls } = heldEndpoint();
    const mine = Array.from({ length: MAX_INTROSPECTIONS_PER_CLIENT }, (_, i) =>
      introspector.verify(`invented-${i}`, '203.0.113.7'),
    );
    for (const p of mine) p.catch(() => undefined);
    expect(calls()).toBe(MAX_INTROSPECTIONS_PER_CLIENT);
    expect(await refusal(introspector.verify('invented-more', '203.0.113.7'))).toBe(
      'ERR_AUTHN_UNAVAILABLE: too many token introspections in flight from this client address; retry shortly',
    );
    // The same token another caller already asked about is shared, not another introspection.
    const joined = introspector.verify('invented-0', '203.0.113.7');
    joined.catch(() => undefined);
    expect(calls()).toBe(MAX_INTROSPECTIONS_PER_CLIENT);
    // Another client's new token is still asked about.
    const theirs = introspector.verify('real', '198.51.100.2');
    expect(calls()).toBe(MAX_INTROSPECTIONS_PER_CLIENT + 1);
    (waiting.at(-1) as (r: Response) => void)(new Response(JSON.stringify(active()), { status: 200 }));
    expect((await theirs).id).toBe('alice');
    // Once one of the first client's introspections ends, it may start another.
    (waiting[0] as (r: Response) => void)(new Response(JSON.stringify({ active: false }), { status: 200 }));
    await refusal(mine[0] as Promise<unknown>);
    void introspector.verify('invented-next', '203.0.113.7').catch(() => undefined);
    expect(calls()).toBe(MAX_INTROSPECTIONS_PER_CLIENT + 2);
    for (const w of waiting.slice(1)) w(new Response(JSON.stringify({ active: false }), { status: 200 }));
  });

  it.each([
    [{ active: false }, 'ERR_AUTHN_INVALID_TOKEN: token is not active'],
    [active({ aud: 'https://other.example/mcp' }), 'ERR_AUTHN_INVALID_TOKEN: audience not accepted'],
    [active({ aud: undefined }), 'ERR_AUTHN_INVALID_TOKEN: audience not accepted'],
    [active({ exp: undefined }), 'ERR_AUTHN_INVALID_TOKEN: token has no valid exp'],
    [active({ exp: sec(T0) - 60 }), 'ERR_AUTHN_INVALID_TOKEN: token expired'],
    [active({ nbf: sec(T0) + 120 }), 'ERR_AUTHN_INVALID_TOKEN: token not yet valid'],
    // At the edges of the 30 s clock tolerance: expired at exp + 30 s exactly, not yet valid 31 s early.
    [active({ exp: sec(T0) - 30 }), 'ERR_AUTHN_INVALID_TOKEN: token expired'],
    [active({ nbf: sec(T0) + 31 }), 'ERR_AUTHN_INVALID_TOKEN: token not yet valid'],
    [active({ token_type: 'id_token' }), 'ERR_AUTHN_INVALID_TOKEN: not an access token'],
    [active({ token_type: 'IDToken' }), 'ERR_AUTHN_INVALID_TOKEN: not an access token'],
    [active({ token_type: 'refresh_token' }), 'ERR_AUTHN_INVALID_TOKEN: not an access token'],
    [active({ token_use: 'id' }), 'ERR_AUTHN_INVALID_TOKEN: not an access token'],
    [active({ typ: ['ID'] }), 'ERR_AUTHN_INVALID_TOKEN: not an access token'],
    // Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705): the sidecar takes bearer tokens only and
    // cannot check the proof, so a stolen bound token must not work here as a bearer one.
    [
      active({ token_type: 'DPoP', cnf: { jkt: 'abc' } }),
      'ERR_AUTHN_INVALID_TOKEN: token is bound to a key (cnf)',
    ],
    [active({ cnf: { 'x5t#S256': 'abc' } }), 'ERR_AUTHN_INVALID_TOKEN: token is bound to a key (cnf)'],
    [active({ token_type: 'dpop' }), 'ERR_AUTHN_INVALID_TOKEN: token is bound to a key (cnf)'],
    [active({ token_type: 'DPoP' }), 'ERR_AUTHN_INVALID_TOKEN: token is bound to a key (cnf)'],
    [active({ sub: 7 }), 'ERR_AUTHN_INVALID_TOKEN: claim sub is missing or has the wrong type'],
  ])('refuses %j', async (answer, expected) => {
    expect(await refusal(setup(answer).introspector.verify('opaque-1'))).toBe(expected);
  });

  it('accepts an audience differing only in the case of its host, checks the issuer and required scopes', async () => {
    expect((await setup(active({ aud: 'https://MCP.example.com/mcp' })).introspector.verify('t')).id).toBe(
      'alice',
    );
    expect(
      await refusal(
        setup(active({ iss: 'https://evil.example' }), {
          issuer: 'https://login.example.com',
        }).introspector.verify('t'),
      ),
    ).toBe('ERR_AUTHN_INVALID_TOKEN: issuer not accepted');
    expect(await refusal(setup(active(), { requiredScopes: ['mcp:admin'] }).introspector.verify('t'))).toBe(
      'ERR_AUTHN_INSUFFICIENT_SCOPE: token lacks a required scope',
    );
  });

  it('refuses a token short of a required scope from the cache after asking once', async () => {
    const { introspector, sent } = setup(active(), { requiredScopes: ['mcp:admin'] });
    for (let i = 0; i < 3; i++) {
      expect(await refusal(introspector.verify('t'))).toBe(
        'ERR_AUTHN_INSUFFICIENT_SCOPE: token lacks a required scope',
      );
    }
    expect(() => introspector.fromCache('t')).toThrow(/lacks a required scope/);
    expect(sent).toHaveLength(1);
  });

  it.each([
    [
      () => new Response('', { status: 401 }),
      "ERR_AUTHN_UNAVAILABLE: the introspection endpoint refused the sidecar's client credentials (HTTP 401)",
    ],
    [
      () => new Response('', { status: 500 }),
      'ERR_AUTHN_UNAVAILABLE: the introspection endpoint answered HTTP 500',
    ],
    [
      // An error status is no answer, whatever its body says.
      () => new Response(JSON.stringify(active()), { status: 404 }),
      'ERR_AUTHN_UNAVAILABLE: the introspection endpoint answered HTTP 404',
    ],
    ['not json', 'ERR_AUTHN_UNAVAILABLE: the introspection endpoint answered no JSON'],
    [
      { sub: 'alice' },
      'ERR_AUTHN_UNAVAILABLE: the introspection endpoint answered no introspection response (active: Invalid input: expected boolean, received undefined)',
    ],
    [
      JSON.stringify({ active: true, pad: 'x'.repeat(20_000) }),
      'ERR_AUTHN_UNAVAILABLE: the introspection answer is over 16384 bytes',
    ],
    [
      Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }),
      'ERR_AUTHN_UNAVAILABLE: token introspection timed out',
    ],
    [new TypeError('fetch failed'), 'ERR_AUTHN_UNAVAILABLE: token introspection failed'],
    [
      // 16 KiB of nesting: mapping its claims must not overflow the stack (a 500, not the endpoint's fault).
      `{"active":true,"sub":"alice","aud":"${RESOURCE}","exp":${sec(T0) + 300},"x":${'['.repeat(8_000)}${']'.repeat(8_000)}}`,
      'ERR_AUTHN_UNAVAILABLE: the introspection endpoint answered JSON nested deeper than 64 levels',
    ],
  ])('denies with 503 when the endpoint gives no answer to go by: %#', async (answer, expected) => {
    expect(await refusal(setup(answer).introspector.verify('opaque-1'))).toBe(expected);
  });

  it('denies with 503, not 500, when the answer breaks off or drips past the timeout while its body is read', async () => {
    const broken = () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"active":'));
            c.error(new TypeError('terminated'));
          },
        }),
        { status: 200 },
      );
    expect(await refusal(setup(broken).introspector.verify('opaque-1'))).toBe(
      'ERR_AUTHN_UNAVAILABLE: token introspection failed',
    );
    // A real endpoint that sends its headers at once, then a byte every 50 ms: the timeout covers the body.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"active":');
      const drip = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const slow = new TokenIntrospector(
        options({
          endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
          timeoutMs: 300,
          now: Date.now,
        }),
      );
      const started = Date.now();
      expect(await refusal(slow.verify('opaque-1'))).toBe(
        'ERR_AUTHN_UNAVAILABLE: token introspection timed out',
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
