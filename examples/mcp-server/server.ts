/**
 * The example MCP server: the SDK's `McpServer` (see `catalog.ts`) behind an express app that serves
 * Streamable HTTP at `/mcp` (stateful sessions keyed by `Mcp-Session-Id`, or stateless) and the legacy
 * HTTP+SSE transport (GET `/sse` + POST `/messages?sessionId=…`) on one port. Every JSON-RPC message that
 * arrives is recorded (`call-log.ts`) and exposed to tests through {@link ExampleServer.calls} and over
 * HTTP at `GET /_calls` / `DELETE /_calls`, as are the Streamable HTTP sessions open and those a DELETE
 * ended ({@link ExampleServer.closedSessions}). It is the upstream that the sidecar protects in integration
 * tests and in the demo.
 *
 * There is deliberately no Host/Origin (DNS rebinding) check: behind the sidecar the Host header is the
 * sidecar's public name, and this server only ever listens on loopback.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryTaskStore, type TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CallLog, type HttpRequestRecord, type ReceivedCall } from './call-log.js';
import { createExampleMcpServer } from './catalog.js';
import { CrmStore } from './data.js';

export type { HttpRequestRecord, ReceivedCall, TransportKind } from './call-log.js';
export { PROMPT_NAMES, TOOL_ANNOTATIONS, TOOL_NAMES } from './catalog.js';

export interface ExampleServerOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Streamable HTTP without sessions: a fresh server per POST, no `Mcp-Session-Id`, GET/DELETE give 405. */
  stateless?: boolean;
  /** Answer Streamable HTTP POSTs with `application/json` instead of an SSE stream (no progress then). */
  jsonResponse?: boolean;
}

export interface ExampleServer {
  /** Base URL without a path, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** `${url}/mcp`, the Streamable HTTP endpoint. */
  readonly mcpUrl: string;
  /** `${url}/sse`, the legacy SSE stream endpoint. */
  readonly sseUrl: string;
  /** Every JSON-RPC message received since start or the last reset, in arrival order. */
  calls(): ReceivedCall[];
  /** Stream opens (GET /mcp, GET /sse) and session deletes since start or the last reset. */
  httpRequests(): HttpRequestRecord[];
  resetCalls(): void;
  /** Streamable HTTP sessions open now (the transport map), in the order they were initialized. */
  openSessions(): string[];
  /** Streamable HTTP sessions ended by a DELETE (the SDK's `onsessionclosed`), in order. */
  closedSessions(): string[];
  /** Resolves once the Streamable HTTP session `id` has been ended by a DELETE. */
  sessionClosed(id: string): Promise<void>;
  /** Ends open SSE streams and sessions, then stops listening. */
  close(): Promise<void>;
}

interface Session<T> {
  readonly server: McpServer;
  readonly transport: T;
}

/** JSON body limit, the same as the SDK's own SSE transport. */
const MAX_BODY = '4mb';

/** Starts the example server and resolves once it listens. */
export async function startExampleServer(opts: ExampleServerOptions = {}): Promise<ExampleServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = new CallLog();
  const store = new CrmStore();
  const tasks = new InMemoryTaskStore();
  const streamable = new Map<string, Session<StreamableHTTPServerTransport>>();
  const legacy = new Map<string, Session<SSEServerTransport>>();
  const closed: string[] = [];
  const closings = new EventEmitter();
  const onClosed = (id: string): void => {
    closed.push(id);
    closings.emit('closed', id);
  };
  const enableJsonResponse = opts.jsonResponse ?? false;

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: MAX_BODY }));

  app.get('/_calls', (_req, res) => void res.json(log.calls()));
  app.get('/_requests', (_req, res) => void res.json(log.httpRequests()));
  app.delete('/_calls', (_req, res) => {
    log.reset();
    res.status(204).end();
  });

  app.post('/mcp', async (req, res) => {
    const sessionId = req.header('mcp-session-id');
    log.recordBody(req.body, {
      transport: 'streamable-http',
      headers: req.headers,
      ...(sessionId && { sessionId }),
    });
    if (opts.stateless) {
      const server = createExampleMcpServer(store, tasks);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse,
      });
      res.on('close', () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
      return;
    }
    let session = sessionId ? streamable.get(sessionId) : undefined;
    if (!session) {
      if (sessionId) return jsonRpcError(res, 404, -32001, 'Session not found');
      if (!isInitializeRequest(req.body)) {
        return jsonRpcError(
          res,
          400,
          -32000,
          'Bad Request: no valid session id and not an initialize request',
        );
      }
      session = await openStreamableSession(store, tasks, enableJsonResponse, streamable, onClosed);
    }
    await session.transport.handleRequest(req, res, req.body);
  });

  const streamOrDelete = async (req: Request, res: Response): Promise<void> => {
    log.recordHttp(req.method, req.path, req.headers);
    if (opts.stateless) {
      res.setHeader('Allow', 'POST');
      return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless');
    }
    const sessionId = req.header('mcp-session-id');
    const session = sessionId ? streamable.get(sessionId) : undefined;
    if (!sessionId) return jsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    if (!session) return jsonRpcError(res, 404, -32001, 'Session not found');
    await session.transport.handleRequest(req, res);
  };
  app.get('/mcp', streamOrDelete);
  app.delete('/mcp', streamOrDelete);

  app.get('/sse', async (req, res) => {
    log.recordHttp('GET', req.path, req.headers);
    const transport = new SSEServerTransport('/messages', res);
    const server = createExampleMcpServer(store, tasks);
    legacy.set(transport.sessionId, { server, transport });
    transport.onclose = () => legacy.delete(transport.sessionId);
    await server.connect(transport);
  });

  app.post('/messages', async (req, res) => {
    const sessionId = typeof req.query.sessionId === 'string' ? req.query.sessionId : undefined;
    log.recordBody(req.body, { transport: 'sse', headers: req.headers, ...(sessionId && { sessionId }) });
    const session = sessionId ? legacy.get(sessionId) : undefined;
    if (!session) {
      res.status(404).type('text/plain').send('Unknown SSE session');
      return;
    }
    await session.transport.handlePostMessage(req, res, req.body);
  });

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = httpStatusOf(err);
    if (status === 400) return jsonRpcError(res, 400, -32700, 'Parse error');
    if (status === 413) return jsonRpcError(res, 413, -32600, 'Request body too large');
    return jsonRpcError(res, 500, -32603, 'Internal error');
  });

  const http = createServer(app);
  await listen(http, opts.port ?? 0, host);
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    mcpUrl: `${url}/mcp`,
    sseUrl: `${url}/sse`,
    calls: () => log.calls(),
    httpRequests: () => log.httpRequests(),
    resetCalls: () => log.reset(),
    openSessions: () => [...streamable.keys()],
    closedSessions: () => [...closed],
    sessionClosed: (id) =>
      new Promise<void>((resolve) => {
        const check = (c: string): void => {
          if (c !== id) return;
          closings.off('closed', check);
          resolve();
        };
        closings.on('closed', check);
        if (closed.includes(id)) check(id);
      }),
    close: async () => {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      const sessions = [...streamable.values(), ...legacy.values()];
      streamable.clear();
      legacy.clear();
      await Promise.allSettled(sessions.map((s) => s.server.close()));
      tasks.cleanup();
      http.closeAllConnections();
      await closed;
    },
  };
}

async function openStreamableSession(
  store: CrmStore,
  tasks: TaskStore,
  enableJsonResponse: boolean,
  sessions: Map<string, Session<StreamableHTTPServerTransport>>,
  onClosed: (id: string) => void,
): Promise<Session<StreamableHTTPServerTransport>> {
  const server = createExampleMcpServer(store, tasks);
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse,
    onsessioninitialized: (id) => void sessions.set(id, session),
    onsessionclosed: onClosed,
  });
  const session = { server, transport };
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  await server.connect(transport);
  return session;
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

function httpStatusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number') {
    return err.status;
  }
  return 500;
}

function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
}
