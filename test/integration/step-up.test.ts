/**
 * Step-up authorization end to end: the default policy compiled from `policies/`, with data giving the
 * example server's `echo` tool a scope (`catalog.tools.echo.scopes`), in front of the example MCP server.
 * A JWT lacking the scope gets 403 `insufficient_scope` naming the scopes to ask for (MCP "Scope Challenge
 * Handling"); the same caller with a token carrying it is served; an API key, which cannot be stepped up,
 * gets the policy's JSON-RPC denial; a legacy HTTP+SSE client gets the error (with the scopes) on its
 * stream. None of the refused calls reaches the upstream.
 *
 * @module
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/authn/api-keys.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectSse } from '../helpers/mcp-client.js';
import { defaultPolicyBundle } from '../helpers/policy.js';
import { type Harness, PEPPER, startHarness } from '../helpers/sidecar.js';
import { tempDir } from '../helpers/temp-dir.js';

const CALL_ECHO = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hi' } },
};
const REASON = 'tool echo needs the OAuth scope mcp:echo; sign in again granting it';

let h: Harness;

/** The tools/call messages the upstream received (the sidecar's own tools/list discovery aside). */
const echoCalls = () => h.upstream.calls().filter((c) => c.method === 'tools/call').length;

beforeAll(async () => {
  // The default bundle (wasm from policies/) with data in which echo needs the scope mcp:echo.
  const dir = tempDir('step-up-bundle');
  await cp(await defaultPolicyBundle(), dir, { recursive: true });
  const data = JSON.parse(await readFile(join(dir, 'data.json'), 'utf8'));
  data.authz.catalog.tools.echo.scopes = ['mcp:echo'];
  await writeFile(join(dir, 'data.json'), JSON.stringify(data));
  h = await startHarness({
    upstreamStateless: true,
    config: { policy: { bundle: dir }, authn: { jwt: { requiredScopes: ['mcp:tools'] } } },
  });
});
const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await h?.stop();
});

describe('step-up authorization', () => {
  it('answers a token lacking the scope 403 insufficient_scope, naming every scope the call needs', async () => {
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['user'], { scope: 'mcp:tools' }), CALL_ECHO);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", error_description="Forbidden: tool echo needs the OAuth scope mcp:echo; sign in again granting it", scope="mcp:tools mcp:echo", resource_metadata="https://mcp.test.example/.well-known/oauth-protected-resource/mcp"`,
    );
    const body = (await res.json()) as {
      id: number;
      error: { code: number; message: string; data: unknown };
    };
    expect(body).toMatchObject({
      id: 7,
      error: {
        code: -32003,
        message: `Forbidden: ${REASON}`,
        data: { code: 'ERR_AUTHN_INSUFFICIENT_SCOPE', scope: 'mcp:tools mcp:echo', reasons: [REASON] },
      },
    });
    expect((body.error.data as { decision_id: unknown }).decision_id).toEqual(expect.any(String));
    expect(echoCalls()).toBe(0);
  });

  it('serves the same caller once its token carries the scope', async () => {
    const res = await postJsonRpc(
      h.mcpUrl,
      await h.bearer(['user'], { scope: 'mcp:tools mcp:echo' }),
      CALL_ECHO,
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hi');
  });

  it('answers an API key lacking the scope with the policy denial, not a challenge it cannot follow', async () => {
    const { key } = await createApiKey(h.sidecar.store, Buffer.from(PEPPER), {
      subject: 'svc-echo',
      tenant: 'acme',
      roles: ['user'],
      scopes: ['mcp:tools'],
    });
    const before = echoCalls();
    const res = await postJsonRpc(h.mcpUrl, { authorization: `Bearer ${key}` }, CALL_ECHO);
    expect(res.status).toBe(200);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(await res.json()).toMatchObject({
      id: 7,
      error: { code: -32003, message: `Forbidden: ${REASON}`, data: { reasons: [REASON] } },
    });
    expect(echoCalls()).toBe(before);
  });

  it('answers a legacy HTTP+SSE client on its stream, with the scopes in data (it cannot follow a 403)', async () => {
    const c = await connectSse(h.sseUrl, await h.bearer(['user'], { scope: 'mcp:tools' }));
    clients.push(c);
    const before = echoCalls();
    const err = await c.callTool({ name: 'echo', arguments: { text: 'hi' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32003);
    expect((err as McpError).message).toContain(REASON);
    expect((err as McpError).data).toMatchObject({
      code: 'ERR_AUTHN_INSUFFICIENT_SCOPE',
      scope: 'mcp:tools mcp:echo',
      reasons: [REASON],
    });
    expect(echoCalls()).toBe(before);
  });
});
