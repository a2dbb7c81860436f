/**
 * Tool names over 128 characters (MCP 2025-11-25: names SHOULD be 1 to 128) through a real sidecar in front of
 * an MCP SDK server: such a tool is never learnt, however it is listed, so it stays a tool the sidecar has not
 * seen listed — decided with the MCP defaults (destructive), its listing judged on them too, and not looked
 * up at the upstream (it could not be learnt there either). Its listed `readOnlyHint` counts for nothing:
 * role user, which may not call destructive tools, neither sees nor calls it; role admin calls it; a guest's
 * list has it removed. A tool named 128 characters is learnt as any other.
 *
 * @module
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { MAX_TOOL_NAME_CHARS } from '../../src/mcp/annotations.js';
import { initializedSession, postJsonRpc } from '../helpers/http.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

/** Listed read-only, named one character too long to be learnt. */
const LONG = `wipe_${'x'.repeat(MAX_TOOL_NAME_CHARS - 4)}`;
/** Listed read-only, named as long as is learnt. */
const KEPT = `read_${'y'.repeat(MAX_TOOL_NAME_CHARS - 5)}`;

let h: Harness;
let close: () => Promise<void>;
/** The names of the tools called at the upstream, and how many `tools/list` it answered. */
const called: string[] = [];
let lists = 0;

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new Server({ name: 'long', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      lists++;
      return {
        tools: [LONG, KEPT].map((name) => ({
          name,
          inputSchema: { type: 'object' as const },
          annotations: { readOnlyHint: true, destructiveHint: false },
        })),
      };
    });
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      called.push(req.params.name);
      return { content: [{ type: 'text' as const, text: 'ok' }] };
    });
    await server.connect(t);
  });
  close = upstream.close;
  h = await startHarness({ upstream: { url: upstream.url } as unknown as ExampleServer });
});

afterAll(async () => {
  await h?.stop();
  await close?.();
});

/** The one JSON-RPC message of a reply (the SDK server answers in an event stream). */
async function reply(
  res: Response,
): Promise<{ result?: { tools?: { name: string }[] }; error?: { code: number } }> {
  expect(res.status).toBe(200);
  const text = await res.text();
  return JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? text);
}

async function session(role: string): Promise<Record<string, string>> {
  return initializedSession(h.mcpUrl, await h.bearer([role]), '2025-06-18');
}

const call = (id: number, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
});

it('decides a tool named over 128 characters as one never listed, and learns one of 128', async () => {
  const user = await session('user');
  const listed = await reply(
    await postJsonRpc(h.mcpUrl, user, { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  );
  // Judged as its call is: destructive, which role user may not call.
  expect(listed.result?.tools?.map((t) => t.name)).toEqual([KEPT]);
  const listsBefore = lists;
  expect((await reply(await postJsonRpc(h.mcpUrl, user, call(2, KEPT)))).error).toBeUndefined();
  expect((await reply(await postJsonRpc(h.mcpUrl, user, call(3, LONG)))).error?.code).toBe(-32003);
  expect(called).toEqual([KEPT]);
  // Not looked up at the upstream: a discovery could not learn it either.
  expect(lists).toBe(listsBefore);
  // A role that may call destructive tools calls it.
  const admin = await session('admin');
  expect((await reply(await postJsonRpc(h.mcpUrl, admin, call(4, LONG)))).error).toBeUndefined();
  expect(called).toEqual([KEPT, LONG]);
});

it('still removes such a tool from the list of a caller who may not see it', async () => {
  const guest = await session('guest');
  const listed = await reply(
    await postJsonRpc(h.mcpUrl, guest, { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  );
  expect(listed.result?.tools).toEqual([]);
});
