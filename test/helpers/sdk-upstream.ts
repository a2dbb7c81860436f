/**
 * Test helper: a stateful MCP SDK upstream (express, one SDK server per session) that a test builds itself —
 * for behaviour the example server does not have, such as a tool that asks its client
 * (`elicitation/create`) before it answers, or a list that waits for the test. It speaks Streamable HTTP at
 * `/mcp` and the legacy HTTP+SSE transport (GET `/sse`, POST `/messages?sessionId=…`), as the sidecar's
 * default paths expect.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import express from 'express';

export interface SdkUpstream {
  /** The server's origin; its MCP endpoint is `/mcp`. */
  readonly url: string;
  close(): Promise<void>;
}

export interface SdkUpstreamOptions {
  /** Streamable HTTP POSTs are answered with a JSON body rather than an event stream. */
  readonly jsonResponse?: boolean;
  /** The id each new Streamable HTTP session gets (default: a random UUID); one may be issued again. */
  readonly sessionId?: () => string;
}

/**
 * Starts the upstream on loopback; `open` connects a new server of the test's to each new session's transport
 * (Streamable HTTP, or legacy SSE). `eventStore`, when given, makes each Streamable HTTP session's store
 * (resumable streams).
 */
export async function startSdkUpstream(
  open: (transport: Transport) => Promise<void>,
  eventStore?: () => EventStore,
  options: SdkUpstreamOptions = {},
): Promise<SdkUpstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const legacy = new Map<string, SSEServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async (req, res) => {
    const sid = req.header('mcp-session-id');
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: options.sessionId ?? (() => randomUUID()),
        ...(eventStore ? { eventStore: eventStore() } : {}),
        ...(options.jsonResponse ? { enableJsonResponse: true } : {}),
        onsessioninitialized: (id) => void sessions.set(id, t),
      });
      await open(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  app.get('/sse', async (_req, res) => {
    const t = new SSEServerTransport('/messages', res);
    legacy.set(t.sessionId, t);
    t.onclose = () => legacy.delete(t.sessionId);
    await open(t);
  });
  app.post('/messages', async (req, res) => {
    const t = legacy.get(String(req.query.sessionId));
    if (!t) {
      res.status(404).type('text/plain').send('Unknown SSE session');
      return;
    }
    await t.handlePostMessage(req, res, req.body);
  });
  const http = createServer(app);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    async close() {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    },
  };
}
