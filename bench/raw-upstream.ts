/**
 * The cheapest possible MCP upstream for the proxy benchmark: `node:http`, reads the body and answers
 * every `tools/call` with one fixed ~73-byte JSON-RPC result, so what a proxy in front of it costs is not
 * hidden behind the MCP SDK's own cost. It also answers `initialize`, notifications and `tools/list`
 * (with the example server's real `echo` annotations) so the sidecar's annotation discovery learns that
 * `echo` is read-only: an unseen tool counts as destructive and the default policy would deny it.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TOOL_ANNOTATIONS } from '../examples/mcp-server/catalog.js';

/** The reply to every `tools/call` (the benchmark sends id 1). */
export const RAW_CALL_REPLY = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}';

export interface RawUpstream {
  /** Base URL without a path. */
  readonly url: string;
  close(): Promise<void>;
}

const TOOLS = [
  {
    name: 'echo',
    description: 'Echoes the text back.',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    annotations: TOOL_ANNOTATIONS.echo,
  },
];

export async function startRawUpstream(host = '127.0.0.1'): Promise<RawUpstream> {
  const reply = Buffer.from(RAW_CALL_REPLY);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(req.method === 'DELETE' ? 200 : 405, { 'content-length': 0 });
        res.end();
        return;
      }
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      // Hot path: no parsing, the fixed result.
      if (body.includes('"tools/call"')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
        res.end(reply);
        return;
      }
      let msg: { id?: unknown; method?: unknown };
      try {
        msg = JSON.parse(body.toString('utf8')) as { id?: unknown; method?: unknown };
      } catch {
        res.writeHead(400, { 'content-length': 0 });
        res.end();
        return;
      }
      if (msg.id === undefined) {
        res.writeHead(202, { 'content-length': 0 });
        res.end();
        return;
      }
      const result =
        msg.method === 'initialize'
          ? {
              protocolVersion: '2025-06-18',
              capabilities: { tools: {} },
              serverInfo: { name: 'raw-bench-upstream', version: '0' },
            }
          : msg.method === 'tools/list'
            ? { tools: TOOLS }
            : {};
      const text = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
