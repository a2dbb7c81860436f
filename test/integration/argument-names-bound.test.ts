/**
 * A tool declaring more argument names than the sidecar keeps (1,024 of a tool) through a real sidecar in
 * front of an MCP SDK server: the names past the first 1,024 are not kept, so a call naming one of them — its
 * spelling cannot be checked — is denied before the policy and never reaches the upstream, while a call
 * naming kept ones is decided and forwarded, and one spelling a kept name in another case is denied as ever.
 *
 * @module
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { MAX_ARGUMENT_NAMES } from '../../src/mcp/argument-names.js';
import { initializedSession, postJsonRpc } from '../helpers/http.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

/** Declared argument names, `a0000` … `a1099`: 76 more than the sidecar keeps. */
const NAMES = Array.from({ length: MAX_ARGUMENT_NAMES + 76 }, (_, i) => `a${String(i).padStart(4, '0')}`);

let h: Harness;
/** A session's headers at the upstream (its tools are called in one). */
let headers: Record<string, string>;
let close: () => Promise<void>;
/** The arguments of every call that reached the tool. */
const ran: Record<string, unknown>[] = [];

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new McpServer({ name: 'wide', version: '1' });
    // `echo`, as the default policy lets role user call it.
    server.registerTool(
      'echo',
      {
        annotations: { readOnlyHint: true },
        inputSchema: Object.fromEntries(NAMES.map((n) => [n, z.string().optional()])),
      },
      async (args) => {
        ran.push(args);
        return { content: [{ type: 'text', text: 'ok' }] };
      },
    );
    await server.connect(t);
  });
  close = upstream.close;
  h = await startHarness({ upstream: { url: upstream.url } as unknown as ExampleServer });
  headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-06-18');
});

afterAll(async () => {
  await h?.stop();
  await close?.();
});

let nextId = 1;

/** Calls `echo` with `args`; the JSON-RPC reply. */
async function echo(
  args: Record<string, string>,
): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const res = await postJsonRpc(
    h.mcpUrl,
    { ...headers, accept: 'application/json, text/event-stream' },
    {
      jsonrpc: '2.0',
      id: nextId++,
      method: 'tools/call',
      params: { name: 'echo', arguments: args },
    },
  );
  expect(res.status).toBe(200);
  const text = await res.text();
  // The SDK server answers in an event stream: its one message.
  return JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? text);
}

it('denies an argument past the names kept of a tool declaring more than 1,024, and passes kept ones', async () => {
  // The first call has the sidecar look the tool up at the upstream (it was never listed): its names are learnt.
  const past = await echo({ a0001: 'x', a1050: 'y' });
  expect(past.error).toEqual({
    code: -32003,
    message: `Forbidden: argument "a1050" is not among the first ${MAX_ARGUMENT_NAMES} the tool declares, the only ones the sidecar keeps of a tool declaring more: its spelling cannot be checked`,
    data: expect.objectContaining({ code: 'ERR_POLICY_DENIED' }),
  });
  const misspelt = await echo({ A0001: 'x' });
  expect(misspelt.error?.message).toBe(
    'Forbidden: argument "A0001" is a0001 spelt in another case; spell it as the tool declares',
  );
  expect(ran).toEqual([]);
  // Kept names (the 1,024th included) are decided and forwarded.
  const kept = await echo({ a0001: 'x', a1023: 'y' });
  expect(kept.error).toBeUndefined();
  expect(kept.result).toMatchObject({ content: [{ type: 'text', text: 'ok' }] });
  expect(ran).toEqual([{ a0001: 'x', a1023: 'y' }]);
});

it('says so once in a warn line naming the tool and the cap, however often the tool is listed', async () => {
  // After the discovery above, the session's own listings teach the tool's names again.
  for (let i = 0; i < 2; i++) {
    const res = await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: nextId++, method: 'tools/list' });
    expect(res.status).toBe(200);
    await res.text();
  }
  const warned = h.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 'warn' && l.tool === 'echo');
  expect(warned).toEqual([
    expect.objectContaining({
      kept: MAX_ARGUMENT_NAMES,
      msg: expect.stringContaining(`more than ${MAX_ARGUMENT_NAMES} argument names`),
    }),
  ]);
});
