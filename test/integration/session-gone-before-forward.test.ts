/**
 * A Streamable HTTP session that ends, its id then issued anew to another caller, while a call of its owner
 * is being decided (after the session and recheck stages let it use the session, before it is forwarded):
 * the call must not reach the other caller's session. The window here is a tool discovery (the call names a
 * tool the sidecar has not seen listed: the decide stage asks the upstream first), held by the test while the
 * owner DELETEs the session and another caller is issued its id. Real parts: an MCP SDK upstream issuing the
 * same session id again, the sidecar, the dev issuer.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { initializedSession, postJsonRpc } from '../helpers/http.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { startHarness } from '../helpers/sidecar.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

const VERSION = '2025-06-18';
const REISSUED = 'session-issued-twice';

describe('a session ending and its id going to another caller while a call of it is decided', () => {
  it('refuses the call after its decision (404), and it never reaches the other caller’s session', async () => {
    // The ids the upstream issues, in order: the owner's, then (queued by the test) the same again.
    const ids = [REISSUED];
    const calledIn: string[] = [];
    let listHeld: Promise<void> | undefined;
    let listReached: (() => void) | undefined;
    const up = await startSdkUpstream(
      async (t: Transport) => {
        const server = new Server({ name: 'reissue', version: '1' }, { capabilities: { tools: {} } });
        server.setRequestHandler(ListToolsRequestSchema, async () => {
          listReached?.();
          await listHeld;
          const annotations = { readOnlyHint: true, destructiveHint: false };
          return { tools: [{ name: 'echo_json', inputSchema: { type: 'object' as const }, annotations }] };
        });
        server.setRequestHandler(CallToolRequestSchema, async (_req, extra) => {
          calledIn.push(extra.sessionId ?? '');
          return { content: [{ type: 'text' as const, text: 'done' }] };
        });
        await server.connect(t);
      },
      undefined,
      { jsonResponse: true, sessionId: () => ids.shift() ?? randomUUID() },
    );
    stops.push(() => up.close());
    const h = await startHarness({ upstream: { url: up.url } as unknown as ExampleServer });
    stops.push(() => h.stop());

    const owner = await initializedSession(h.mcpUrl, await h.bearer(['user']), VERSION);
    expect(owner['mcp-session-id']).toBe(REISSUED);
    // The discovery's tools/list waits until the session changed hands.
    let release!: () => void;
    listHeld = new Promise<void>((r) => {
      release = r;
    });
    const reached = new Promise<void>((r) => {
      listReached = r;
    });
    const call = postJsonRpc(h.mcpUrl, owner, {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo_json', arguments: {} },
    });
    await reached;
    const ended = await fetch(h.mcpUrl, { method: 'DELETE', headers: owner });
    expect(ended.status).toBe(200);
    await ended.text();
    ids.push(REISSUED);
    const other = await initializedSession(
      h.mcpUrl,
      await h.bearer(['user'], { sub: 'someone-else' }),
      VERSION,
    );
    expect(other['mcp-session-id']).toBe(REISSUED);
    release();

    const res = await call;
    expect(res.status).toBe(404);
    const body = (await res.json()) as { id: number; error: { message: string } };
    expect(body).toMatchObject({ id: 2, error: { message: 'Not Found: unknown session' } });
    expect(calledIn).toEqual([]);
    // The other caller's session is untouched, and theirs to use.
    const theirs = await postJsonRpc(h.mcpUrl, other, {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo_json', arguments: {} },
    });
    expect(theirs.status).toBe(200);
    await theirs.text();
    expect(calledIn).toEqual([REISSUED]);
  });
});
