/**
 * The server's own requests through a real sidecar: an MCP SDK server whose tool asks its client for input
 * (`elicitation/create`) in a Streamable HTTP session, and the SDK's real `Client` answering. The client's
 * answers are responses, which the sidecar lets pass free of its rate limit when they answer a request the
 * server was seen to make in the session — with a notifications bucket of 2, four calls still all get their
 * answers — while a made-up response in the same session takes a token.
 *
 * @module
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let close: () => Promise<void>;

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new McpServer({ name: 'asks', version: '1' });
    // `echo`, as the default policy lets role user call it, asking the client before it answers.
    server.registerTool('echo', { annotations: { readOnlyHint: true } }, async () => {
      const answer = await server.server.elicitInput(
        {
          message: 'go on?',
          requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } },
        },
        { timeout: 3_000 },
      );
      return { content: [{ type: 'text', text: `answered ${answer.action}` }] };
    });
    await server.connect(t);
  });
  close = upstream.close;
  const url = upstream.url;
  h = await startHarness({
    upstream: { url } as unknown as ExampleServer,
    // Role user's notifications bucket holds 2 tokens, and takes minutes to refill one.
    config: { ratelimit: { tiers: { user: { capacity: 2, refillPerSecond: 0.01 } } } },
  });
});

afterAll(async () => {
  await h?.stop();
  await close?.();
});

it("passes the client's answers to the server's own requests free, and charges a made-up response", async () => {
  const auth = await h.bearer(['user']);
  const transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl), { requestInit: { headers: auth } });
  const client = new Client({ name: 't', version: '1' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
  await client.connect(transport);
  try {
    for (let i = 0; i < 4; i++) {
      const result = await client.callTool({ name: 'echo', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'answered accept' }]);
    }
    // A response to nothing the server asked, in the same session: it takes a token (the two are gone:
    // initialized, and this one's first try is refused once they are).
    const session = {
      ...auth,
      'mcp-session-id': transport.sessionId as string,
      'mcp-protocol-version': '2025-06-18',
    };
    const made = (id: string) => postJsonRpc(h.mcpUrl, session, { jsonrpc: '2.0', id, result: {} });
    const statuses: number[] = [];
    for (const id of ['x-1', 'x-2', 'x-3']) {
      const res = await made(id);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toContain(429);
  } finally {
    await client.close();
  }
});
