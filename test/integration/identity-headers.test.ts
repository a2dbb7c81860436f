/**
 * Identity headers end to end: SDK client and raw POSTs → sidecar → SDK example server. A caller whose
 * subject, tenant or roles are not plain visible ASCII (non-ASCII text, U+2028, a control character, a
 * role containing `,`) is served, and the upstream receives each value percent-encoded, decodable with
 * `decodeURIComponent` (roles after splitting on `,`).
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
const clients: Client[] = [];

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'identity-headers-test', version: '1.0.0' },
  },
};

beforeAll(async () => {
  h = await startHarness({
    config: {
      authn: {
        identityHeaders: {
          subject: 'x-mcp-authz-subject',
          tenant: 'x-mcp-authz-tenant',
          roles: 'x-mcp-authz-roles',
        },
      },
    },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await h?.stop();
});

describe('identity headers to the upstream', () => {
  it('serves a caller with a non-ASCII subject and sends the values percent-encoded', async () => {
    h.upstream.resetCalls();
    const res = await postJsonRpc(
      h.mcpUrl,
      await h.bearer(['user', 'guest,admin'], { sub: '用户', tenant: 'acme\u2028west' }),
      INITIALIZE,
    );
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const call = h.upstream.calls().find((x) => x.method === 'initialize');
    expect(call?.headers).toMatchObject({
      'x-mcp-authz-subject': '%E7%94%A8%E6%88%B7',
      'x-mcp-authz-tenant': 'acme%E2%80%A8west',
      'x-mcp-authz-roles': 'user,guest%2Cadmin',
    });
    expect(decodeURIComponent(call?.headers['x-mcp-authz-subject'] ?? '')).toBe('用户');
    expect(decodeURIComponent(call?.headers['x-mcp-authz-tenant'] ?? '')).toBe('acme\u2028west');
    expect(call?.headers['x-mcp-authz-roles']?.split(',').map(decodeURIComponent)).toEqual([
      'user',
      'guest,admin',
    ]);
  });

  it('answers tool calls of such a caller through the SDK client', async () => {
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['user'], { sub: 'José\tOps' }));
    clients.push(c);
    h.upstream.resetCalls();
    const r = await c.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(r.isError).toBeFalsy();
    const call = h.upstream.calls().find((x) => x.name === 'echo');
    expect(call?.headers['x-mcp-authz-subject']).toBe('Jos%C3%A9%09Ops');
    expect(call?.headers['x-mcp-authz-tenant']).toBe('acme');
    expect(call?.headers['x-mcp-authz-roles']).toBe('user');
  });
});

describe('X-Request-Id', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it("is the sidecar's own for a client reaching it directly, sent upstream in place of the client's", async () => {
    h.upstream.resetCalls();
    const auth = await h.bearer(['user']);
    const res = await postJsonRpc(h.mcpUrl, { ...auth, 'x-request-id': 'victim-request-123' }, INITIALIZE);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const sent = h.upstream.calls().find((x) => x.method === 'initialize')?.headers['x-request-id'];
    expect(sent).toMatch(UUID);
    expect(h.logs.join('\n')).toContain(String(sent));
    expect(h.logs.join('\n')).not.toContain('victim-request-123');
  });

  it("is a trusted proxy's when server.trustProxyHops is above 0", async () => {
    const behind = await startHarness({ issuer: h.issuer, config: { server: { trustProxyHops: 1 } } });
    try {
      const auth = await behind.bearer(['user']);
      const res = await postJsonRpc(
        behind.mcpUrl,
        // A proxy writing the client's port too (Azure Application Gateway): the address is the client.
        { ...auth, 'x-request-id': 'ingress-4711', 'x-forwarded-for': '203.0.113.9:50123' },
        INITIALIZE,
      );
      expect(res.status).toBe(200);
      await res.body?.cancel();
      const call = behind.upstream.calls().find((x) => x.method === 'initialize');
      expect(call?.headers['x-request-id']).toBe('ingress-4711');
      const audit = behind.logs.find((l) => l.includes('ingress-4711') && l.includes('"client_ip"'));
      expect(audit).toContain('"client_ip":"203.0.113.9"');
    } finally {
      await behind.stop();
    }
  });
});
