/**
 * Test helper: a stateful MCP SDK Streamable HTTP upstream (express, one SDK server per session) that a test
 * builds itself — for behaviour the example server does not have, such as a tool that asks its client
 * (`elicitation/create`) before it answers, or a list that waits for the test.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';

export interface SdkUpstream {
  /** The server's origin; its MCP endpoint is `/mcp`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the upstream on loopback; `open` connects a new server of the test's to each new session's transport.
 * `eventStore`, when given, makes each session's store (resumable streams).
 */
export async function startSdkUpstream(
  open: (transport: StreamableHTTPServerTransport) => Promise<void>,
  eventStore?: () => EventStore,
): Promise<SdkUpstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async (req, res) => {
    const sid = req.header('mcp-session-id');
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        ...(eventStore ? { eventStore: eventStore() } : {}),
        onsessioninitialized: (id) => void sessions.set(id, t),
      });
      await open(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
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
