/**
 * Test helper: a small MCP 2026-07-28 upstream on `node:http` (the MCP SDK in use speaks 2025-11-25). A
 * `subscriptions/listen` is answered with an event stream held open: the acknowledgement, then for each
 * subscribed resource an update of it and of a sub-resource (`<uri>/c-1`), then a tools list change. A GET
 * opens a 2025-11-25 stream with an update of `crm://acme/customers` and of `CRM://acme/customers/c-1` (on
 * `/sse`, a legacy HTTP+SSE stream: its `endpoint` event first).
 * `tools/list` lists `read_customer`, whose `tenant` argument is mirrored into `Mcp-Param-Tenant` (SEP-2243),
 * and `tools/call` answers with a text result. Any other POST gets a `server/discover`-like result. Every
 * JSON-RPC method received is recorded.
 *
 * @module
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ExampleServer, type Harness, startHarness } from './sidecar.js';

export const ACK = 'notifications/subscriptions/acknowledged';

export interface ListenUpstream {
  readonly url: string;
  /** The methods of the POSTs received, in order. */
  readonly received: string[];
  /** The headers of each `tools/call` POST received, in order. */
  readonly callHeaders: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** SSE `message` event carrying one JSON-RPC message. */
const event = (msg: unknown) => `event: message\ndata: ${JSON.stringify(msg)}\n\n`;
const updated = (uri: string, meta?: unknown) => ({
  jsonrpc: '2.0',
  method: 'notifications/resources/updated',
  params: { ...(meta ? { _meta: meta } : {}), uri },
});
const listChanged = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };

/** The one tool listed: its `tenant` argument is mirrored into the `Mcp-Param-Tenant` header. */
export const MIRRORING_TOOL = {
  name: 'read_customer',
  inputSchema: {
    type: 'object',
    properties: { tenant: { type: 'string', 'x-mcp-header': 'Tenant' }, id: { type: 'string' } },
    required: ['tenant', 'id'],
  },
  annotations: { readOnlyHint: true, destructiveHint: false },
};

/** `mark`: the header name `read_customer`'s `tenant` is mirrored into (`Mcp-Param-<mark>`). */
export async function startListenUpstream(mark = 'Tenant'): Promise<ListenUpstream> {
  const received: string[] = [];
  const callHeaders: IncomingHttpHeaders[] = [];
  const tool =
    mark === 'Tenant'
      ? MIRRORING_TOOL
      : {
          ...MIRRORING_TOOL,
          inputSchema: {
            ...MIRRORING_TOOL.inputSchema,
            properties: { tenant: { type: 'string', 'x-mcp-header': mark }, id: { type: 'string' } },
          },
        };
  const streams = new Set<ServerResponse>();
  const hold = (res: ServerResponse) => {
    streams.add(res);
    res.on('close', () => streams.delete(res));
  };
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // The legacy HTTP+SSE transport's stream names its messages endpoint first.
      if (req.url?.startsWith('/sse')) res.write('event: endpoint\ndata: /messages?sessionId=s-1\n\n');
      for (const uri of ['crm://acme/customers', 'CRM://acme/customers/c-1']) res.write(event(updated(uri)));
      res.write(event(listChanged));
      hold(res);
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const msg = JSON.parse(body) as {
        id: number;
        method: string;
        params?: { notifications?: { resourceSubscriptions?: string[] } };
      };
      received.push(msg.method);
      if (msg.method === 'tools/call') callHeaders.push(req.headers);
      if (msg.method === 'subscriptions/listen') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const meta = { 'io.modelcontextprotocol/subscriptionId': msg.id };
        const notifications = msg.params?.notifications ?? {};
        res.write(event({ jsonrpc: '2.0', method: ACK, params: { _meta: meta, notifications } }));
        for (const uri of notifications.resourceSubscriptions ?? []) {
          for (const u of [uri, `${uri}/c-1`]) res.write(event(updated(u, meta)));
        }
        res.write(event(listChanged));
        hold(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      const result =
        msg.method === 'tools/list'
          ? { tools: [tool] }
          : msg.method === 'tools/call'
            ? { resultType: 'complete', content: [{ type: 'text', text: 'ok' }] }
            : { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: {} };
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    callHeaders,
    async close() {
      for (const s of streams) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * The headers of a 2026-07-28 POST with `token`: its standard request headers (`MCP-Protocol-Version`,
 * `Mcp-Method`, and `Mcp-Name` from `params.name` or `params.uri` where the method names something).
 */
export function headers2026(token: string, method: string, params: Record<string, unknown> = {}) {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(typeof params.name === 'string' || typeof params.uri === 'string'
      ? { 'mcp-name': String(params.name ?? params.uri) }
      : {}),
  };
}

/** POSTs one 2026-07-28 JSON-RPC request to the sidecar's MCP endpoint ({@link headers2026}, then `headers`). */
export function post2026(
  mcpUrl: string,
  token: string,
  id: number,
  method: string,
  params: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(mcpUrl, {
    method: 'POST',
    headers: { ...headers2026(token, method, params), ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
}

export interface StreamRead {
  readonly text: string;
  /** Reads on until the stream ends or breaks. */
  ended(): Promise<void>;
  /** Cancels the stream. */
  close(): void;
}

/** Reads an event stream until its text holds `until` (or it ends). */
export async function readUntil(res: Response, until: string): Promise<StreamRead> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const ended = (): Promise<void> =>
    reader.read().then(
      ({ done }) => (done ? undefined : ended()),
      () => undefined,
    );
  return { text, ended, close: () => void reader.cancel().catch(() => undefined) };
}

/**
 * A sidecar (with `config` laid over the harness defaults) in front of a new {@link startListenUpstream}
 * (mirroring into `Mcp-Param-<mark>`).
 */
export async function listenHarness(
  config: Record<string, unknown>,
  mark?: string,
): Promise<{ h: Harness; upstream: ListenUpstream; stop(): Promise<void> }> {
  const upstream = await startListenUpstream(mark);
  const h = await startHarness({ upstream: upstream as unknown as ExampleServer, config });
  return {
    h,
    upstream,
    async stop() {
      await h.stop();
      await upstream.close();
    },
  };
}
