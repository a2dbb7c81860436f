/**
 * Integration tests for the example MCP server (the sidecar's upstream in later tests) with the SDK's
 * real client over both transports.
 *
 * @module
 */

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExampleServer,
  PROMPT_NAMES,
  type ReceivedCall,
  startExampleServer,
  TOOL_ANNOTATIONS,
  TOOL_NAMES,
} from '../../examples/mcp-server/server.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';

const HEADERS = {
  authorization: 'Bearer client-token',
  'x-api-key': 'mcpk_test_secret',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  'x-mcp-authz-tenant': 'acme',
  'x-forwarded-for': '10.0.0.7',
  'x-unrelated': 'not recorded',
};

const TRANSPORTS = [
  { transport: 'streamable-http', connect: (s: ExampleServer) => connectStreamable(s.mcpUrl, HEADERS) },
  { transport: 'sse', connect: (s: ExampleServer) => connectSse(s.sseUrl, HEADERS) },
] as const;

function textOf(result: unknown): string {
  const content = (result as { content: { type: string; text?: string }[] }).content;
  const first = content[0];
  if (first?.type !== 'text' || first.text === undefined) throw new Error('expected a text block');
  return first.text;
}

function toolCalls(server: ExampleServer, name?: string): ReceivedCall[] {
  return server.calls().filter((c) => c.method === 'tools/call' && (name === undefined || c.name === name));
}

describe.each(TRANSPORTS)('example server over $transport', ({ transport, connect }) => {
  let server: ExampleServer;
  let client: Client;

  beforeAll(async () => {
    server = await startExampleServer();
    client = await connect(server);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('initializes and advertises tools, prompts and resources', () => {
    expect(client.getServerVersion()).toMatchObject({ name: 'mcp-authz-example' });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, resources: {} });
  });

  it('lists exactly the 12 tools with explicit annotations and input schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    expect(tools).toHaveLength(12);
    for (const tool of tools) {
      expect(tool.annotations).toEqual(TOOL_ANNOTATIONS[tool.name as keyof typeof TOOL_ANNOTATIONS]);
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('delete_customer')?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    expect(byName.get('update_customer')?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
    });
    expect(byName.get('run_sql')?.annotations).toMatchObject({ destructiveHint: true, openWorldHint: false });
    expect(byName.get('read_customer')?.inputSchema.required).toEqual(['tenant', 'id']);
    expect(byName.get('create_ticket')?.inputSchema.required).toEqual(['tenant', 'title', 'body']);
    expect(byName.get('export_customers')?.inputSchema.properties?.format).toMatchObject({
      enum: ['csv', 'json'],
    });
  });

  it('calls echo and read_customer, keeping tenants apart', async () => {
    const echo = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(JSON.parse(textOf(echo))).toEqual({ text: 'hi' });

    const read = await client.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
    expect(read.isError).toBeFalsy();
    expect(read.structuredContent).toMatchObject({
      customer: { id: 'c-1', tenant: 'acme', ssn: '900-00-0001' },
    });

    const other = await client.callTool({
      name: 'read_customer',
      arguments: { tenant: 'globex', id: 'c-1' },
    });
    expect(other.isError).toBe(true);
  });

  it('streams progress notifications before the result', async () => {
    const seen: { progress: number; total?: number }[] = [];
    const result = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => seen.push({ progress: p.progress, total: p.total }),
    });
    expect(seen).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
    expect(result.structuredContent).toEqual({ steps: 3, notified: true });
  });

  it('lists and gets prompts', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual([...PROMPT_NAMES].sort());
    const greeting = await client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } });
    expect(greeting.messages[0]?.content).toEqual({ type: 'text', text: 'Say hello to Ada.' });
    const summary = await client.getPrompt({
      name: 'summarize_customer',
      arguments: { tenant: 'globex', id: 'c-4' },
    });
    expect(JSON.stringify(summary.messages)).toContain('Hank Scorpio');
  });

  it('lists and reads the static resource and the customer template', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(
      expect.arrayContaining(['docs://handbook', 'crm://acme/customers/c-1', 'crm://globex/customers/c-4']),
    );
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['crm://{tenant}/customers/{id}']);

    const handbook = await client.readResource({ uri: 'docs://handbook' });
    expect(handbook.contents[0]).toMatchObject({ uri: 'docs://handbook', mimeType: 'text/markdown' });
    const customer = await client.readResource({ uri: 'crm://globex/customers/c-4' });
    const [first] = customer.contents;
    expect(first && 'text' in first ? JSON.parse(first.text) : undefined).toMatchObject({
      id: 'c-4',
      tenant: 'globex',
    });
    // A customer is found only under its own tenant.
    await expect(client.readResource({ uri: 'crm://acme/customers/c-4' })).rejects.toThrow(
      'customer c-4 not found in tenant acme',
    );
  });

  it('answers an unknown prompt with a JSON-RPC error, surfaced as McpError', async () => {
    const err = await client.getPrompt({ name: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect(err).toMatchObject({ code: -32602 });
  });

  it('records the GET that opens the stream, with the same headers', async () => {
    const path = transport === 'sse' ? '/sse' : '/mcp';
    await expect
      .poll(() => server.httpRequests().find((r) => r.method === 'GET' && r.path === path))
      .toBeDefined();
    const open = server.httpRequests().find((r) => r.method === 'GET' && r.path === path);
    expect(open?.headers).toMatchObject({
      authorization: 'Bearer client-token',
      'x-api-key': 'mcpk_test_secret',
    });
  });

  it('records each JSON-RPC message with the headers of interest, also at /_calls', async () => {
    server.resetCalls();
    await client.callTool({ name: 'echo', arguments: { text: 'logged' } });
    await client.listPrompts();

    const calls = server.calls();
    expect(calls.map((c) => c.method)).toEqual(['tools/call', 'prompts/list']);
    const [call] = calls;
    expect(call).toMatchObject({
      transport,
      kind: 'request',
      method: 'tools/call',
      name: 'echo',
      arguments: { text: 'logged' },
    });
    expect(call?.sessionId).toEqual(expect.any(String));
    expect(call?.headers).toMatchObject({
      authorization: 'Bearer client-token',
      'x-api-key': 'mcpk_test_secret',
      traceparent: HEADERS.traceparent,
      'x-mcp-authz-tenant': 'acme',
      'x-forwarded-for': '10.0.0.7',
    });
    expect(call?.headers).not.toHaveProperty('x-unrelated');
    if (transport === 'streamable-http') expect(call?.headers['mcp-session-id']).toBe(call?.sessionId);

    const overHttp = (await (await fetch(`${server.url}/_calls`)).json()) as ReceivedCall[];
    expect(overHttp).toEqual(calls);
    expect((await fetch(`${server.url}/_calls`, { method: 'DELETE' })).status).toBe(204);
    expect(server.calls()).toEqual([]);
  });
});

describe('example server: tool behaviour and session handling', () => {
  let server: ExampleServer;
  let client: Client;

  beforeAll(async () => {
    server = await startExampleServer();
    client = await connectStreamable(server.mcpUrl, HEADERS);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    return { isError: result.isError === true, data: result.structuredContent, text: textOf(result) };
  };

  it('serves deterministic fake data from every tool', async () => {
    expect((await call('list_products', {})).data).toMatchObject({ products: expect.any(Array) });
    expect((await call('search_docs', { query: 'refund' })).data).toMatchObject({
      results: [{ id: 'd-2' }],
    });
    expect((await call('query_customer_data', { tenant: 'acme', query: 'a', limit: 2 })).data).toMatchObject({
      customers: [{ id: 'c-1' }, { id: 'c-2' }],
    });
    const csv = await call('export_customers', { tenant: 'globex', limit: 10, format: 'csv' });
    expect(csv.text.split('\n')).toEqual([
      'id,tenant,name,email,plan,ssn,notes',
      'c-4,globex,Hank Scorpio,hank@globex.example,enterprise,900-00-0004,VIP.',
      'c-5,globex,Homer Simpson,homer@globex.example,free,900-00-0005,Safety inspector.',
    ]);
    expect((await call('export_customers', { tenant: 'acme', limit: 1, format: 'json' })).data).toMatchObject(
      {
        count: 1,
      },
    );
    expect((await call('run_sql', { query: 'DROP TABLE customers' })).data).toMatchObject({
      executed: false,
    });
    expect((await call('slow', { ms: 30 })).data).toEqual({ waitedMs: 30 });
  });

  it('writes through update, delete and create_ticket, idempotently where annotated', async () => {
    const updated = await call('update_customer', {
      tenant: 'acme',
      id: 'c-3',
      fields: { plan: 'pro', ssn: 'x' },
    });
    expect(updated.data).toMatchObject({ customer: { plan: 'pro', ssn: '900-00-0003' } });
    expect((await call('delete_customer', { tenant: 'acme', id: 'c-3' })).data).toEqual({
      id: 'c-3',
      deleted: true,
    });
    expect((await call('delete_customer', { tenant: 'acme', id: 'c-3' })).data).toEqual({
      id: 'c-3',
      deleted: false,
    });
    expect((await call('read_customer', { tenant: 'acme', id: 'c-3' })).isError).toBe(true);
    const ticket = await call('create_ticket', {
      tenant: 'acme',
      title: 't',
      body: 'b',
      customer_ssn: '900-00-0001',
    });
    expect(ticket.data).toMatchObject({ ticket: { id: 'T-1001', customerSsn: '900-00-0001' } });
  });

  it('rejects invalid arguments with a tool error, not a JSON-RPC error', async () => {
    const result = await call('export_customers', { tenant: 'acme', limit: 1, format: 'xml' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('Input validation error');
  });

  it('rejects a POST without a session (400) and an unknown session (404)', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const noSession = await fetch(server.mcpUrl, { method: 'POST', headers, body });
    expect(noSession.status).toBe(400);
    const unknown = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': 'nope' },
      body,
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: -32001 } });
  });

  it('terminates a session on DELETE and records stream opens and deletes', async () => {
    const other = await connectStreamable(server.mcpUrl, { authorization: 'Bearer other' });
    const transport = other.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId;
    expect(sessionId).toEqual(expect.any(String));
    await expect
      .poll(() => server.httpRequests().some((r) => r.method === 'GET' && r.path === '/mcp'))
      .toBe(true);
    await transport.terminateSession();
    const deletes = server.httpRequests().filter((r) => r.method === 'DELETE');
    expect(deletes.at(-1)?.headers).toMatchObject({
      'mcp-session-id': sessionId,
      authorization: 'Bearer other',
    });
    const after = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': String(sessionId),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
    await other.close();
  });

  it('answers a malformed body with a JSON-RPC parse error', async () => {
    const res = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32700 } });
  });
});

describe('example server: stateless and JSON-response modes', () => {
  it('works without sessions when stateless', async () => {
    const server = await startExampleServer({ stateless: true });
    const client = await connectStreamable(server.mcpUrl, HEADERS);
    try {
      expect((await client.listTools()).tools).toHaveLength(12);
      const result = await client.callTool({ name: 'progress', arguments: { steps: 2 } }, undefined, {
        onprogress: () => undefined,
      });
      expect(result.structuredContent).toEqual({ steps: 2, notified: true });
      expect((client.transport as StreamableHTTPClientTransport).sessionId).toBeUndefined();
      expect(toolCalls(server).every((c) => c.sessionId === undefined)).toBe(true);
      expect((await fetch(server.mcpUrl)).status).toBe(405);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('answers with application/json when jsonResponse is set', async () => {
    const server = await startExampleServer({ jsonResponse: true });
    const seen: string[] = [];
    const spy: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      if (init?.method === 'POST') seen.push(res.headers.get('content-type') ?? '');
      return res;
    };
    const client = await connectStreamable(server.mcpUrl, HEADERS, { fetch: spy });
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'json' } });
      expect(result.structuredContent).toEqual({ text: 'json' });
      expect(seen.at(-1)).toMatch(/^application\/json/);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

const noReconnect = {
  initialReconnectionDelay: 10,
  maxReconnectionDelay: 10,
  reconnectionDelayGrowFactor: 1,
  maxRetries: 0,
};

describe('example server: close()', () => {
  it('ends open SSE streams and sessions so close resolves promptly', async () => {
    const server = await startExampleServer();
    const sse = await connectSse(server.sseUrl, {});
    const streamable = await connectStreamable(server.mcpUrl, {}, { reconnection: noReconnect });
    await expect.poll(() => server.httpRequests().filter((r) => r.method === 'GET').length).toBe(2);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await sse.close();
    await streamable.close();
  });
});
