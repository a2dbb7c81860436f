/**
 * Pins of how the MCP SDK's client surfaces errors to `callTool` (status codes, content types, transports):
 * the sidecar's choice of HTTP status for a denied call depends on them.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleServer, startExampleServer } from '../../examples/mcp-server/server.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';

describe('SDK client: how errors reach callTool', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await startExampleServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const rpcError = { code: -32003, message: 'Denied by policy', data: { reason: 'policy' } };

  /** Fakes the reply to `tools/call` of `echo` with the given status; everything else goes to the server. */
  function fakeToolsCall(
    status: number,
    contentType: string,
    headers: Record<string, string> = {},
  ): FetchLike {
    return async (url, init) => {
      const body =
        typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
      const params = body?.params as { name?: unknown } | undefined;
      if (body?.method !== 'tools/call' || params?.name !== 'echo') return fetch(url, init);
      const payload = JSON.stringify({ jsonrpc: '2.0', id: body.id, error: rpcError });
      const text = contentType === 'text/event-stream' ? `event: message\ndata: ${payload}\n\n` : payload;
      return new Response(text, { status, headers: { 'content-type': contentType, ...headers } });
    };
  }

  async function callEcho(client: Client, timeout?: number): Promise<unknown> {
    return client
      .callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, timeout ? { timeout } : undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
  }

  it('Streamable HTTP, 200 application/json carrying a JSON-RPC error: McpError with code, prefixed message, data', async () => {
    const client = await connectStreamable(
      server.mcpUrl,
      {},
      { fetch: fakeToolsCall(200, 'application/json') },
    );
    const err = await callEcho(client);
    expect(err).toBeInstanceOf(McpError);
    expect(err).toMatchObject({
      code: -32003,
      message: 'MCP error -32003: Denied by policy',
      data: rpcError.data,
    });
    await client.close();
  });

  it('Streamable HTTP, 200 text/event-stream carrying a JSON-RPC error: the same McpError', async () => {
    const client = await connectStreamable(
      server.mcpUrl,
      {},
      { fetch: fakeToolsCall(200, 'text/event-stream') },
    );
    const err = await callEcho(client);
    expect(err).toBeInstanceOf(McpError);
    expect(err).toMatchObject({ code: -32003, data: rpcError.data });
    await client.close();
  });

  it.each([403, 429, 401])(
    'Streamable HTTP, %i with a JSON-RPC error body: StreamableHTTPError, code = HTTP status, body only in the message',
    async (status) => {
      const client = await connectStreamable(
        server.mcpUrl,
        {},
        {
          fetch: fakeToolsCall(status, 'application/json', { 'retry-after': '7' }),
        },
      );
      const err = await callEcho(client);
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect(err).not.toBeInstanceOf(McpError);
      expect(err).toMatchObject({ code: status });
      expect((err as Error).message).toMatch(
        /^Streamable HTTP error: Error POSTing to endpoint: \{"jsonrpc":"2.0","id":\d+,/,
      );
      expect((err as Error).message).toContain(JSON.stringify(rpcError));
      expect(err).not.toHaveProperty('data');
      // The client stays usable: the next call goes through.
      const ok = await client.callTool({ name: 'list_products', arguments: {} });
      expect(ok.isError).toBeFalsy();
      await client.close();
    },
  );

  it('SSE, 403 on the POST: a plain Error without code; the JSON-RPC body is only text in the message', async () => {
    const client = await connectSse(server.sseUrl, {}, { fetch: fakeToolsCall(403, 'application/json') });
    const err = await callEcho(client);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(McpError);
    expect((err as { code?: unknown }).code).toBeUndefined();
    expect((err as Error).message).toMatch(/^Error POSTing to endpoint \(HTTP 403\): \{"jsonrpc"/);
    await client.close();
  });

  it('SSE, 200 on the POST carrying a JSON-RPC error: the body is ignored and the call times out', async () => {
    const client = await connectSse(server.sseUrl, {}, { fetch: fakeToolsCall(200, 'application/json') });
    const err = await callEcho(client, 300);
    expect(err).toBeInstanceOf(McpError);
    expect(err).toMatchObject({ code: -32001, data: { timeout: 300 } });
    await client.close();
  });
});
