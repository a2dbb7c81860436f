/**
 * What a spec-conformant client sends passes the boundary's parser-differential checks (a key with U+0000, a
 * `params` member the sidecar reads spelt otherwise, an argument spelt as a declared one in another case): the
 * MCP SDK's real `Client` against a real SDK server whose tools declare argument names those checks look at —
 * `id` and `ID` both, and `Arguments`, `meta`, `task_id`, `Name`, `_meta` inside `arguments`, where only the
 * tool reads them — with the client answering the server's sampling, elicitation and roots requests, sending
 * progress tokens, a cancellation, prompt arguments and a resource subscription.
 *
 * @module
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  SubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let close: () => Promise<void>;
const subscribed: string[] = [];
let cancelled = 0;
let slowStarted: () => void;
const started = new Promise<void>((r) => {
  slowStarted = r;
});

const echo = (a: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(a) }] });

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new McpServer(
      { name: 'shapes', version: '1' },
      { capabilities: { resources: { subscribe: true } } },
    );
    server.registerTool(
      'ids',
      { inputSchema: { id: z.string().optional(), ID: z.string().optional() } },
      async (a) => echo(a),
    );
    const odd = {
      Arguments: z.string(),
      meta: z.string(),
      task_id: z.string(),
      Name: z.string(),
      _meta: z.string(),
    };
    server.registerTool('odd', { inputSchema: odd }, async (a) => echo(a));
    server.registerTool('asks', {}, async (extra) => {
      const sampled = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }],
        maxTokens: 5,
      });
      const elicited = await server.server.elicitInput({
        message: 'who?',
        requestedSchema: { type: 'object', properties: { Name: { type: 'string' } } },
      });
      const roots = await server.server.listRoots();
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress: 1 },
        });
      }
      return echo({ model: sampled.model, elicited: elicited.content, roots: roots.roots.length });
    });
    server.registerTool('slow', {}, async (extra) => {
      slowStarted();
      await new Promise<void>((r) => extra.signal.addEventListener('abort', () => r(), { once: true }));
      cancelled++;
      return echo('cancelled');
    });
    server.registerPrompt('greet', { argsSchema: { name: z.string() } }, async ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `hi ${name}` } }],
    }));
    server.server.setRequestHandler(SubscribeRequestSchema, async (r) => {
      subscribed.push(r.params.uri);
      return {};
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

it("passes a conformant client's messages on, argument names the checks look at included", async () => {
  const auth = await h.bearer(['admin']);
  const transport = new StreamableHTTPClientTransport(new URL(h.mcpUrl), { requestInit: { headers: auth } });
  const client = new Client(
    { name: 't', version: '1' },
    { capabilities: { elicitation: {}, sampling: {}, roots: { listChanged: true } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { Name: 'ann' } }));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'ok' },
    model: 'm-1',
  }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///w', name: 'W' }],
  }));
  await client.connect(transport);
  try {
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name)).toEqual(['ids', 'odd', 'asks', 'slow']);
    // The tool declares both: each is its own argument, spelt as declared.
    expect(await client.callTool({ name: 'ids', arguments: { id: 'a' } })).toEqual(echo({ id: 'a' }));
    expect(await client.callTool({ name: 'ids', arguments: { ID: 'b' } })).toEqual(echo({ ID: 'b' }));
    // Inside `arguments` these are the tool's own names, not params members.
    const args = { Arguments: 'a', meta: 'm', task_id: 't', Name: 'n', _meta: 'x' };
    expect(await client.callTool({ name: 'odd', arguments: args })).toEqual(echo(args));

    const progress: number[] = [];
    const asked = await client.callTool({ name: 'asks', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(asked).toEqual(echo({ model: 'm-1', elicited: { Name: 'ann' }, roots: 1 }));
    expect(progress).toEqual([1]);

    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'bob' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'hi bob' });
    await client.subscribeResource({ uri: 'crm://acme/customers' });
    expect(subscribed).toEqual(['crm://acme/customers']);
    await client.sendRootsListChanged();

    // notifications/cancelled ({requestId, reason}) reaches the server, which stops the call.
    const abort = new AbortController();
    const slow = client.callTool({ name: 'slow', arguments: {} }, undefined, { signal: abort.signal });
    await started;
    abort.abort('enough');
    await expect(slow).rejects.toThrow('enough');
    await expect.poll(() => cancelled).toBe(1);
  } finally {
    await client.close();
  }
});
