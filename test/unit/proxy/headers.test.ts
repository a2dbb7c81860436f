import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '../../../src/authn/principal.js';
import {
  clientResponseHeaders,
  createHeaderPolicy,
  encodeIdentityValue,
  type HeaderPolicy,
  overlayReplyHeaders,
  upstreamRequestHeaders,
} from '../../../src/proxy/headers.js';

const alice: Principal = {
  id: 'alice',
  tenant: 'acme',
  roles: ['admin', 'dev'],
  scopes: [],
  clearance: null,
  authMethod: 'jwt',
  claims: {},
};
const fwd = { clientIp: '10.0.0.9', proto: 'https', host: 'mcp.example.com' };
const plain = createHeaderPolicy({ strip: ['x-user-id'], apiKeyHeader: 'x-api-key' });
const withIdentity = createHeaderPolicy({
  strip: [],
  apiKeyHeader: 'x-api-key',
  subject: 'x-auth-subject',
  tenant: 'x-auth-tenant',
  roles: 'x-auth-roles',
});

function upstream(incoming: IncomingHttpHeaders, policy: HeaderPolicy = plain, principal: Principal = alice) {
  return upstreamRequestHeaders(incoming, policy, principal, fwd);
}

describe('createHeaderPolicy', () => {
  it('always strips credentials, the API key header and the configured list', () => {
    for (const h of ['authorization', 'cookie', 'x-api-key', 'x-user-id', 'x-forwarded-host', 'x-request-id'])
      expect(plain.strip.has(h), h).toBe(true);
    expect(plain.identity).toEqual({});
  });

  it('strips the identity header names it will set', () => {
    for (const h of ['x-auth-subject', 'x-auth-tenant', 'x-auth-roles'])
      expect(withIdentity.strip.has(h)).toBe(true);
    expect(withIdentity.identity).toEqual({
      subject: 'x-auth-subject',
      tenant: 'x-auth-tenant',
      roles: 'x-auth-roles',
    });
  });
});

describe('upstreamRequestHeaders', () => {
  it('drops underscore spellings of stripped headers (CGI-style upstreams read them with dashes)', () => {
    const out = upstream({
      x_user_id: 'forged',
      'x_mcp-authz_subject': 'forged',
      x_api_key: 'k',
      transfer_encoding: 'chunked',
      x_request_tag: 'kept',
      mcp_session_id: 'another-callers-session',
      'mcp_protocol-version': '2026-07-28',
    });
    expect(out).not.toHaveProperty('mcp_session_id');
    expect(out).not.toHaveProperty('mcp_protocol-version');
    expect(out).not.toHaveProperty('x_user_id');
    expect(out).not.toHaveProperty('x_mcp-authz_subject');
    expect(out).not.toHaveProperty('x_api_key');
    expect(out).not.toHaveProperty('transfer_encoding');
    expect(out.x_request_tag).toBe('kept');
  });

  it('forwards an Mcp-Param-* header checked against the body as spelt, and drops its unchecked twin', () => {
    const incoming = {
      'mcp-param-tenant_id': 'acme',
      'mcp-param-tenant-id': 'globex',
      'mcp-param-region_code': 'eu',
      'mcp-param-zone': 'z1',
    };
    const checked = new Set(['mcp-param-tenant_id', 'mcp-param-zone']);
    const out = upstreamRequestHeaders(incoming, plain, alice, { ...fwd, paramHeaders: checked });
    expect(out['mcp-param-tenant_id']).toBe('acme');
    expect(out['mcp-param-zone']).toBe('z1');
    // An unchecked underscore spelling stays dropped; so does the dashed one a CGI upstream merges with it.
    expect(out).not.toHaveProperty('mcp-param-region_code');
    expect(out).not.toHaveProperty('mcp-param-tenant-id');
    // Not checked (no 2026-07-28 call of a tool marking it): dropped, the dashed twin then kept.
    const unchecked = upstreamRequestHeaders(incoming, plain, alice, fwd);
    expect(unchecked).not.toHaveProperty('mcp-param-tenant_id');
    expect(unchecked['mcp-param-tenant-id']).toBe('globex');
  });

  it('keeps ordinary end-to-end headers', () => {
    const out = upstream({
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-session-id': 's1',
      'mcp-protocol-version': '2025-06-18',
    });
    expect(out).toMatchObject({
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-session-id': 's1',
      'mcp-protocol-version': '2025-06-18',
    });
  });

  it('drops hop-by-hop headers, host, content-length and expect', () => {
    const out = upstream({
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic x',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'x-checksum',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      host: 'sidecar:8080',
      'content-length': '12',
      expect: '100-continue',
      accept: '*/*',
    });
    expect(Object.keys(out).sort()).toEqual([
      'accept',
      'accept-encoding',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
    ]);
  });

  it('drops headers listed in Connection, whatever their case and spacing', () => {
    const out = upstream({
      connection: 'close,  X-Debug-Token ,x-trace',
      'x-debug-token': 'a',
      'x-trace': 'b',
      'x-kept': 'c',
    });
    expect(out).not.toHaveProperty('x-debug-token');
    expect(out).not.toHaveProperty('x-trace');
    expect(out['x-kept']).toBe('c');
  });

  it("never forwards the client's trace context or baggage (the sidecar writes its own, if any)", () => {
    // The example upstream's call log keeps no baggage header, so the integration tests cannot see one.
    const out = upstream({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=client',
      baggage: 'user.id=admin,tenant=globex',
      'x-kept': '1',
    });
    expect(out).not.toHaveProperty('traceparent');
    expect(out).not.toHaveProperty('tracestate');
    expect(out).not.toHaveProperty('baggage');
    expect(out['x-kept']).toBe('1');
  });

  it('never forwards the client credentials', () => {
    const out = upstream({ authorization: 'Bearer t', cookie: 'sid=1', 'x-api-key': 'mcpk_a_b' });
    expect(out).not.toHaveProperty('authorization');
    expect(out).not.toHaveProperty('cookie');
    expect(out).not.toHaveProperty('x-api-key');
  });

  it('drops the strip list and any x-mcp-authz-* header', () => {
    const out = upstream({
      'x-user-id': 'mallory',
      'x-mcp-authz-subject': 'root',
      'x-mcp-authz-anything': '1',
    });
    expect(Object.keys(out).filter((k) => !k.startsWith('x-forwarded-'))).toEqual([
      'accept-encoding',
      'x-real-ip',
    ]);
  });

  it('replaces client-supplied identity headers with the verified identity', () => {
    const out = upstream(
      { 'x-auth-subject': 'mallory', 'x-auth-tenant': 'evil', 'x-auth-roles': 'root' },
      withIdentity,
    );
    expect(out).toMatchObject({
      'x-auth-subject': 'alice',
      'x-auth-tenant': 'acme',
      'x-auth-roles': 'admin,dev',
    });
  });

  it('does not forward client identity headers when the caller has no such identity', () => {
    const out = upstream(
      { 'x-auth-subject': 'mallory', 'x-auth-tenant': 'evil', 'x-auth-roles': 'root' },
      withIdentity,
      ANONYMOUS,
    );
    expect(out).not.toHaveProperty('x-auth-subject');
    expect(out).not.toHaveProperty('x-auth-tenant');
    expect(out).not.toHaveProperty('x-auth-roles');
  });

  it('adds no identity headers when none are configured', () => {
    const out = upstream({});
    expect(Object.keys(out).sort()).toEqual([
      'accept-encoding',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
    ]);
  });

  it("never forwards the client's Accept-Encoding: asks the upstream for identity", () => {
    expect(upstream({ 'accept-encoding': 'gzip, deflate, br' })['accept-encoding']).toBe('identity');
    expect(upstream({})['accept-encoding']).toBe('identity');
  });

  it('percent-encodes identity values that are not plain visible ASCII', () => {
    const out = upstream({}, withIdentity, {
      ...alice,
      id: '用户',
      tenant: 'a\u2028b',
      roles: ['guest,admin', 'dev'],
    });
    expect(out).toMatchObject({
      'x-auth-subject': '%E7%94%A8%E6%88%B7',
      'x-auth-tenant': 'a%E2%80%A8b',
      'x-auth-roles': 'guest%2Cadmin,dev',
    });
    // A role containing `,` stays one role for an upstream that splits on `,`.
    expect(String(out['x-auth-roles']).split(',').map(decodeURIComponent)).toEqual(['guest,admin', 'dev']);
    expect(decodeURIComponent(String(out['x-auth-subject']))).toBe('用户');
    expect(decodeURIComponent(String(out['x-auth-tenant']))).toBe('a\u2028b');
  });

  it('keeps plain identity values as they are', () => {
    const out = upstream({}, withIdentity, {
      ...alice,
      id: 'user@example.com',
      tenant: 'u-42',
      roles: ['a:b/c', "x_y.z~!*'()"],
    });
    expect(out).toMatchObject({
      'x-auth-subject': 'user@example.com',
      'x-auth-tenant': 'u-42',
      'x-auth-roles': "a:b/c,x_y.z~!*'()",
    });
  });

  it('sets X-Forwarded-For, -Proto and -Host', () => {
    expect(upstream({ 'x-forwarded-proto': 'http', 'x-forwarded-host': 'spoofed' })).toMatchObject({
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'mcp.example.com',
    });
  });

  it('appends the client IP to an existing X-Forwarded-For', () => {
    expect(upstream({ 'x-forwarded-for': '1.1.1.1, 2.2.2.2' })['x-forwarded-for']).toBe(
      '1.1.1.1, 2.2.2.2, 10.0.0.9',
    );
  });

  it('appends the connecting peer, not the trusted client, and sends the client as X-Real-IP', () => {
    const out = upstreamRequestHeaders(
      { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '6.6.6.6' },
      plain,
      alice,
      { ...fwd, clientIp: '203.0.113.7', peerIp: '10.1.2.3' },
    );
    expect(out['x-forwarded-for']).toBe('203.0.113.7, 10.1.2.3');
    expect(out['x-real-ip']).toBe('203.0.113.7');
  });

  it("appends the peer to a trusted proxy's standard Forwarded header, IPv6 quoted, and drops a client's", () => {
    const behindProxy = createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key', trustsProxies: true });
    expect(upstreamRequestHeaders({ forwarded: 'for=198.51.100.1' }, behindProxy, alice, fwd).forwarded).toBe(
      'for=198.51.100.1, for=10.0.0.9',
    );
    expect(upstream({ forwarded: 'for=1.2.3.4;host=evil.example;proto=https' })).not.toHaveProperty(
      'forwarded',
    );
    const v6 = upstreamRequestHeaders({ forwarded: 'for=a' }, behindProxy, alice, {
      ...fwd,
      clientIp: '2001:db8::1',
    });
    expect(v6.forwarded).toBe('for=a, for="[2001:db8::1]"');
    expect(upstream({})).not.toHaveProperty('forwarded');
  });

  it('never passes underscore spellings of the headers the sidecar writes (a CGI upstream reads them as those)', () => {
    const out = upstream({ x_request_id: 'victim', x_real_ip: '1.2.3.4', x_forwarded_for: '1.2.3.4' });
    for (const h of ['x_request_id', 'x_real_ip', 'x_forwarded_for']) expect(out, h).not.toHaveProperty(h);
  });

  it("omits X-Forwarded-Host when the host is unknown, never passing the client's on", () => {
    const out = upstreamRequestHeaders({ 'x-forwarded-host': 'evil.example' }, plain, alice, {
      ...fwd,
      host: undefined,
    });
    expect(out).not.toHaveProperty('x-forwarded-host');
  });

  it("drops a client's proxy claims (prefix, port, original URL) unless proxy hops are trusted", () => {
    const claims = {
      'x-forwarded-prefix': '/admin',
      'x-forwarded-port': '443',
      'x-forwarded-server': 'edge',
      'x-original-url': '/admin/delete',
      'x-rewrite-url': '/admin/delete',
      'x-forwarded-ssl': 'on',
      'x-original-host': 'evil.example',
      x_forwarded_prefix: '/admin',
    };
    const direct = upstream(claims);
    for (const name of Object.keys(claims)) expect(direct, name).not.toHaveProperty(name);
    const behindProxy = createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key', trustsProxies: true });
    const trusted = upstreamRequestHeaders(claims, behindProxy, alice, fwd);
    expect(trusted).toMatchObject({ 'x-forwarded-prefix': '/admin', 'x-original-url': '/admin/delete' });
  });
});

describe('encodeIdentityValue', () => {
  const cases: [string, string, string][] = [
    ['plain email', 'user@example.com', 'user@example.com'],
    ['plain id', 'u-42', 'u-42'],
    [
      'all visible ASCII but % and ,',
      '!"#$&\'()*+-./09:;<=>?@AZ[\\]^_`az{|}~',
      '!"#$&\'()*+-./09:;<=>?@AZ[\\]^_`az{|}~',
    ],
    ['non-ASCII', '用户', '%E7%94%A8%E6%88%B7'],
    ['astral', 'a😀', 'a%F0%9F%98%80'],
    ['comma', 'guest,admin', 'guest%2Cadmin'],
    ['percent', '100%', '100%25'],
    ['an existing escape', '%41', '%2541'],
    ['space', 'Jane Doe', 'Jane%20Doe'],
    ['control characters', 'a\r\nb\tc\u0000d\u007f', 'a%0D%0Ab%09c%00d%7F'],
    ['U+2028', 'x\u2028y', 'x%E2%80%A8y'],
    ['Latin-1', 'José', 'Jos%C3%A9'],
    ['empty', '', ''],
  ];

  it.each(cases)('%s', (_name, value, encoded) => {
    const out = encodeIdentityValue(value);
    expect(out).toBe(encoded);
    expect(out).toMatch(/^[\x21-\x2b\x2d-\x7e]*$/);
    expect(decodeURIComponent(out)).toBe(value);
  });

  it('sends a lone surrogate as U+FFFD instead of throwing', () => {
    expect(encodeIdentityValue('a\ud800b')).toBe('a%EF%BF%BDb');
  });
});

describe('clientResponseHeaders', () => {
  it('keeps end-to-end headers, including repeated ones', () => {
    const out = clientResponseHeaders(
      { 'content-type': 'text/event-stream', 'mcp-session-id': 's1', 'set-cookie': ['a=1', 'b=2'] },
      false,
    );
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'mcp-session-id': 's1',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  it('drops hop-by-hop headers and those listed in Connection', () => {
    const out = clientResponseHeaders(
      {
        connection: 'keep-alive, X-Internal',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'x-internal': 'secret',
        'content-type': 'application/json',
        missing: undefined,
      },
      false,
    );
    expect(out).toEqual({ 'content-type': 'application/json' });
  });

  it('keeps content-length when the body is passed through unchanged', () => {
    expect(clientResponseHeaders({ 'content-length': '42' }, false)).toEqual({ 'content-length': '42' });
    expect(clientResponseHeaders({ 'content-length': ['42', '42'] }, false)).toEqual({
      'content-length': '42',
    });
  });

  it('drops content-length when the body is rewritten', () => {
    expect(
      clientResponseHeaders({ 'content-length': '42', 'content-type': 'application/json' }, true),
    ).toEqual({
      'content-type': 'application/json',
    });
  });
});

describe('overlayReplyHeaders', () => {
  it('lets the sidecar’s headers win, but merges the list headers both name', () => {
    const out = overlayReplyHeaders(
      {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        vary: 'Accept-Encoding, Origin',
        'access-control-expose-headers': 'X-Trace, mcp-session-id',
      },
      {
        'access-control-allow-origin': 'https://app.example',
        'access-control-expose-headers': 'mcp-session-id, retry-after',
        vary: 'origin',
      },
    );
    expect(out).toEqual({
      'content-type': 'application/json',
      'access-control-allow-origin': 'https://app.example',
      vary: 'Accept-Encoding, Origin',
      'access-control-expose-headers': 'X-Trace, mcp-session-id, retry-after',
    });
  });

  it('keeps a wildcard a wildcard, and takes the sidecar’s list alone when the upstream names none', () => {
    expect(overlayReplyHeaders({ vary: '*' }, { vary: 'Origin' })).toEqual({ vary: '*' });
    expect(overlayReplyHeaders({}, { vary: 'Origin' })).toEqual({ vary: 'Origin' });
    expect(overlayReplyHeaders({ vary: 'Accept' }, {})).toEqual({ vary: 'Accept' });
  });
});
