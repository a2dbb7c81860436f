/**
 * CORS for browser-based MCP clients through a real sidecar (SDK upstream, dev issuer), and the metadata of a
 * resource derived behind a TLS-terminating proxy: a page on an
 * allowed origin gets its preflight answered and can read replies, the 401 challenge and the session id;
 * another origin's preflight and request are refused and never reach the upstream; the metadata
 * documents are readable from anywhere.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const APP = 'https://app.example.com';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ upstreamStateless: true, config: { server: { allowedOrigins: [APP] } } });
});

afterAll(async () => {
  await h?.stop();
});

const preflight = (origin: string, path = '/mcp') =>
  fetch(`${h.sidecar.publicUrl}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
    },
  });

describe('CORS', () => {
  it('answers an allowed origin’s preflight with the methods and headers an MCP client sends', async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    const allowed = res.headers.get('access-control-allow-headers')?.split(', ') ?? [];
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version']),
    );
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('allows the Mcp-Param-* headers a preflight asks for, and answers the legacy stream’s preflight', async () => {
    const res = await fetch(`${h.sidecar.publicUrl}/mcp`, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, mcp-method, mcp-name, Mcp-Param-Region, x-other',
      },
    });
    expect(res.status).toBe(204);
    const allowed = res.headers.get('access-control-allow-headers')?.split(', ') ?? [];
    expect(allowed).toContain('mcp-param-region');
    expect(allowed).not.toContain('x-other');
    // A browser's legacy SSE client opens GET /sse with an Authorization header: preflighted too.
    const sse = await fetch(`${h.sidecar.publicUrl}/sse`, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(sse.status).toBe(204);
    expect(sse.headers.get('access-control-allow-methods')).toBe('GET');
    expect(sse.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('refuses another origin’s preflight and request; the upstream sees neither', async () => {
    h.upstream.resetCalls();
    const res = await preflight('https://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const call = await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['admin'])), origin: 'https://evil.example' },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
    );
    expect(call.status).toBe(403);
    expect(call.headers.get('access-control-allow-origin')).toBeNull();
    expect(h.upstream.calls()).toEqual([]);
  });

  it('names the allowed origin on replies and on the 401 challenge, whose headers the page may read', async () => {
    const ok = await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['user'])), origin: APP },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } },
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-expose-headers')).toContain('mcp-session-id');
    expect(await ok.text()).toContain('hi');
    const unauthenticated = await postJsonRpc(
      h.mcpUrl,
      { origin: APP },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    );
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-allow-origin')).toBe(APP);
    expect(unauthenticated.headers.get('access-control-expose-headers')).toContain('www-authenticate');
    expect(unauthenticated.headers.get('www-authenticate')).toMatch(/resource_metadata=/);
  });

  it('serves the metadata documents to any origin, preflight included', async () => {
    const url = `${h.sidecar.publicUrl}/.well-known/oauth-protected-resource/mcp`;
    const doc = await fetch(url, { headers: { origin: 'https://elsewhere.example' } });
    expect(doc.status).toBe(200);
    expect(doc.headers.get('access-control-allow-origin')).toBe('*');
    const pre = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('answers an OPTIONS that is no preflight (no Origin, or no Access-Control-Request-Method) 405 as before', async () => {
    h.upstream.resetCalls();
    for (const headers of [{}, { origin: APP }] as Record<string, string>[]) {
      const res = await fetch(h.mcpUrl, { method: 'OPTIONS', headers });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, POST, DELETE');
      await res.arrayBuffer();
    }
    expect(h.upstream.calls()).toEqual([]);
  });

  // MCP 2025-11-25, Streamable HTTP "Security Warning": servers "MUST validate the Origin header on all incoming
  // connections"; "If the Origin header is present and invalid, servers MUST respond with HTTP 403 Forbidden".
  it('refuses a foreign origin 403 whatever the method, before answering 405 for one the endpoint does not serve', async () => {
    for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
      const foreign = await fetch(h.mcpUrl, { method, headers: { origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
      expect(await foreign.json()).toMatchObject({ error: { data: { code: 'ERR_REQUEST_ORIGIN' } } });
      // An allowed origin (or none) still learns which methods are served, with the CORS headers its page needs.
      const allowed = await fetch(h.mcpUrl, { method, headers: { origin: APP } });
      expect(allowed.status).toBe(405);
      expect(allowed.headers.get('allow')).toBe('GET, POST, DELETE');
      expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
      await allowed.arrayBuffer();
    }
  });

  it('counts preflights under their own route label', async () => {
    await (await preflight(APP)).arrayBuffer();
    const metrics = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^mcp_authz_requests_total\{route="preflight",status="204"[^}]*\} [1-9]/m);
    // A refused one is a refusal like any other: reason "request", which the dashboard's denials show.
    await (await preflight('https://evil.example')).arrayBuffer();
    const after = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(after).toMatch(
      /^mcp_authz_requests_total\{route="preflight",status="403",reason="request"\} [1-9]/m,
    );
    expect(after).toMatch(/^mcp_authz_requests_total\{route="preflight",status="204",reason="none"\} [1-9]/m);
  });
});

describe('metadata behind a TLS-terminating proxy (resource derived from the request)', () => {
  it('names the https resource the proxy forwarded, and tells caches it varies with X-Forwarded-Proto', async () => {
    const behind = await startHarness({
      upstreamStateless: true,
      config: {
        server: { trustProxyHops: 1 },
        authn: { resource: undefined, jwt: { audiences: ['https://mcp.test.example/mcp'] } },
      },
    });
    try {
      const host = new URL(behind.sidecar.publicUrl).host;
      const doc = await fetch(`${behind.sidecar.publicUrl}/.well-known/oauth-protected-resource/mcp`, {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(doc.headers.get('vary')).toBe('X-Forwarded-Proto');
      expect(await doc.json()).toMatchObject({ resource: `https://${host}/mcp` });
      const challenge = await postJsonRpc(
        behind.mcpUrl,
        { 'x-forwarded-proto': 'https' },
        { jsonrpc: '2.0', id: 1, method: 'ping' },
      );
      expect(challenge.status).toBe(401);
      expect(challenge.headers.get('www-authenticate')).toContain(
        `resource_metadata="https://${host}/.well-known/oauth-protected-resource/mcp"`,
      );
    } finally {
      await behind.stop();
    }
  });
});
