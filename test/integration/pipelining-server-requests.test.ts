/**
 * HTTP/1.1 pipelining and the server's own requests: a client's answer to an `elicitation/create` is free of
 * the rate limit once. An answer pipelined behind a reply that closes the connection late (a body over
 * `server.maxBodyBytes`: 413) is checked but never forwarded, so the upstream still waits for it, and the
 * client sends it again on a new connection (RFC 9112 §9.6). That retry must still pass free: the answer that
 * never went upstream must not have used the request up. Real sidecar in front of an MCP SDK server whose
 * `echo` asks its client before it answers.
 *
 * @module
 */

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { exchange, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const MAX_BODY = 2_048;
let h: Harness;
let close: () => Promise<void>;

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new McpServer({ name: 'asks', version: '1' });
    // Asked on the call's own reply stream (its related request), where the test reads it.
    server.registerTool('echo', { annotations: { readOnlyHint: true } }, async (extra) => {
      const answer = await server.server.elicitInput(
        { message: 'go on?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } },
        { timeout: 5_000, relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: `answered ${answer.action}` }] };
    });
    server.registerTool('slow', { annotations: { readOnlyHint: true } }, async () => {
      await new Promise((r) => setTimeout(r, 300));
      return { content: [{ type: 'text', text: 'slow' }] };
    });
    await server.connect(t);
  });
  close = upstream.close;
  const url = upstream.url;
  h = await startHarness({
    upstream: { url } as unknown as ExampleServer,
    // Role user's notifications bucket holds 1 token, and takes minutes to refill it.
    config: {
      server: { maxBodyBytes: MAX_BODY },
      ratelimit: { tiers: { user: { capacity: 1, refillPerSecond: 0.01 } } },
    },
  });
});

afterAll(async () => {
  await h?.stop();
  await close?.();
});

it('passes free the answer sent again after its first try, pipelined behind a 413, was never forwarded', async () => {
  const token = await h.token({ sub: 'asked', roles: ['user'] });
  const auth = { authorization: `Bearer ${token}` };
  const init = await postJsonRpc(h.mcpUrl, auth, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'p', version: '1' },
    },
  });
  await init.text();
  const sid = init.headers.get('mcp-session-id') as string;
  const session = { ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  // `initialized` takes the bucket's one token.
  const note = await postJsonRpc(h.mcpUrl, session, { jsonrpc: '2.0', method: 'notifications/initialized' });
  expect(note.status).toBe(202);
  await note.arrayBuffer();
  // The call whose reply stream carries the server's request, which waits for the answer.
  const call = await postJsonRpc(h.mcpUrl, session, {
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'echo', arguments: {} },
  });
  const reader = (call.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let stream = '';
  while (!stream.includes('elicitation/create')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended without the server's request: ${stream}`);
    stream += decoder.decode(value, { stream: true });
  }
  const asked = JSON.parse(
    (/^data: (.*elicitation\/create.*)$/m.exec(stream) as RegExpExecArray)[1] as string,
  );
  const answer = JSON.stringify({
    jsonrpc: '2.0',
    id: asked.id,
    result: { action: 'accept', content: { ok: true } },
  });
  const sidLine = `mcp-session-id: ${sid}\r\n`;
  const rawAnswer =
    `POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n${sidLine}mcp-protocol-version: 2025-06-18\r\n` +
    `content-type: application/json\r\naccept: application/json, text/event-stream\r\n` +
    `content-length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`;
  // The answer waits behind a slow call and a body over the limit, whose 413 closes the connection.
  const raw = await exchange(
    h.sidecar.publicUrl,
    rawToolCall(token, 3, 'slow', {}, sidLine) +
      rawToolCall(token, 4, 'echo', { text: 'x'.repeat(MAX_BODY) }, sidLine) +
      rawAnswer,
  );
  expect(statuses(raw)).toEqual([200, 413]);
  // Sent again: it answers the server's request, which is still waiting, so it passes free.
  const again = await fetch(h.mcpUrl, {
    method: 'POST',
    headers: {
      ...session,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: answer,
  });
  await again.arrayBuffer();
  expect(again.status).toBe(202);
  while (!stream.includes('answered accept')) {
    const { value, done } = await reader.read();
    if (done) break;
    stream += decoder.decode(value, { stream: true });
  }
  expect(stream).toContain('answered accept');
});
