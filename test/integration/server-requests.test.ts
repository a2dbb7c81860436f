/**
 * The server's own requests through a real sidecar: an MCP SDK server whose tool asks its client for input
 * (`elicitation/create`) in a Streamable HTTP session, and the SDK's real `Client` answering. The client's
 * answers are responses, which the sidecar lets pass free of its rate limit when they answer a request the
 * server was seen to make in the session — with a notifications bucket of 2, four calls still all get their
 * answers — while a made-up response in the same session takes a token.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let close: () => Promise<void>;

beforeAll(async () => {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async (req, res) => {
    const sid = req.header('mcp-session-id');
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, t),
      });
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
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const http = createServer(app);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  close = async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  };
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
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
