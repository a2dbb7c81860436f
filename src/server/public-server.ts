/**
 * The public listener. MCP paths are dispatched straight from `node:http` (no framework on the hot
 * path); everything else — the RFC 9728 metadata documents and 404s — goes to a small express app.
 * With `server.tls` it is a `node:https` server with the same handler (see `tls.ts`).
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  type ServerOptions,
} from 'node:https';
import express from 'express';
import type { RequestError } from '../errors/errors.js';
import { toErrorResponse } from '../errors/http.js';
import { LinkedList } from '../linked-list.js';
import type { RequestContext } from '../pipeline/context.js';
import { awaitContinue } from '../pipeline/expect-continue.js';
import type { Logger } from '../telemetry/logger.js';
import { answerClientErrors, serverTimeouts } from './client-errors.js';
import { type Cors, PUBLIC_DOCUMENT_HEADERS } from './cors.js';
import { failSafe } from './fail-safe.js';
import {
  boundHeaderFields,
  connectionProblem,
  headerFieldsProblem,
  missingHost,
  toOriginForm,
} from './header-fields.js';
import type { LegacySseRoutes } from './legacy-sse.js';
import { handleMcp } from './mcp-route.js';
import {
  behindClosingReply,
  closeAfterThis,
  closeWithConnection,
  lastReplyOn,
  MAX_PIPELINED_REQUESTS,
  pipelineTooDeep,
} from './pipelined.js';
import { metadataDocument, WELL_KNOWN_PREFIX } from './resource-metadata.js';
import { sendJson } from './respond.js';
import type { SidecarRuntime } from './runtime.js';

export interface PublicServer {
  readonly server: Server;
  /** The same server when it speaks TLS (`server.tls`), for certificate reloads. */
  readonly tls: HttpsServer | undefined;
  /**
   * Requests with a body still being answered (streams opened by GET, and by a `subscriptions/listen` POST,
   * are not counted).
   */
  inFlight(): number;
  /** Resolves when no request is in flight. */
  drained(): Promise<void>;
  /**
   * The shutdown has begun: every reply whose headers have not gone out, and every request still to come on
   * a kept-alive connection, is answered with `Connection: close`, so clients open their next connection
   * elsewhere instead of sending more requests here until the connections are cut.
   */
  closing(): void;
}

export function createPublicServer(
  rt: SidecarRuntime,
  legacy: LegacySseRoutes,
  logger: Logger,
  cors: Cors,
  tls?: ServerOptions,
): PublicServer {
  const { mcpPath, legacySsePath, legacyMessagesPath } = rt.config.server;
  const app = wellKnownApp(rt);
  let inFlight = 0;
  let closing = false;
  const waiters: Array<() => void> = [];
  /** Replies to requests with a body, until they close (their headers may still be to write). */
  const replies = new LinkedList<ServerResponse>();
  const maxHeaders = rt.config.server.maxRequestHeaders;
  /** Refuses a request before routing, and closes its connection once the reply is out. */
  const refuseEarly = (req: IncomingMessage, res: ServerResponse, err: RequestError): void => {
    closeAfterThis(req.socket);
    rt.countPlain(res, 'bad_request');
    const out = toErrorResponse(err, { ids: null, batch: false, resourceMetadataUrl: '' });
    // Logged as `deny` logs a refusal: with the peer address, as there is no request id or subject yet.
    const { code, reason } = err;
    logger.info(
      { code, reason, status: out.status, peer_ip: req.socket.remoteAddress ?? null },
      'request denied',
    );
    sendJson(res, out.status, out.body, { ...out.headers, connection: 'close' });
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (closing) res.shouldKeepAlive = false;
    // Pipelined behind another request: its reply has no socket yet, and Node neither closes it nor tells
    // it when the connection goes, so everything waiting on its `close` would wait for ever. Node also
    // starts every request of a pipeline at once, however deep: past a bound they are refused unstarted.
    const waiting = res.socket ? 0 : closeWithConnection(req, res);
    // Behind a reply that closes the connection (a refusal below, the last reply of a shutdown): it is never
    // answered, so it must not run (RFC 9112 §9.6), though Node hands it over all the same — queued, or
    // with the connection itself when that reply went out at once. It ends with the connection, unlogged:
    // one pipeline of thousands costs one line, not thousands.
    if (behindClosingReply(req.socket)) return;
    if (waiting > MAX_PIPELINED_REQUESTS) {
      refuseEarly(req, res, pipelineTooDeep());
      return;
    }
    if (!res.shouldKeepAlive) closeAfterThis(req.socket);
    const badHeaders =
      headerFieldsProblem(req.rawHeaders, maxHeaders) ??
      missingHost(req) ??
      toOriginForm(req) ??
      connectionProblem(req.headers.connection);
    if (badHeaders) {
      refuseEarly(req, res, badHeaders);
      return;
    }
    let done: (() => void) | undefined;
    if (req.method === 'POST') {
      inFlight++;
      const open = replies.add(res);
      let counted = true;
      done = () => {
        if (!counted) return;
        counted = false;
        inFlight--;
        if (inFlight === 0) for (const w of waiters.splice(0)) w();
      };
      res.once('close', () => {
        replies.remove(open);
        done?.();
      });
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let handled: Promise<void> | undefined;
    // A CORS preflight names the origin and the method to come; any other OPTIONS is an ordinary request
    // (answered 405 on the MCP endpoint, as before CORS was served).
    if (
      req.method === 'OPTIONS' &&
      (path === mcpPath || path === legacyMessagesPath || path === legacySsePath) &&
      req.headers.origin !== undefined &&
      req.headers['access-control-request-method'] !== undefined
    ) {
      rt.countPlain(res, 'preflight');
      cors.preflight(
        req,
        res,
        path === mcpPath ? 'GET, POST, DELETE' : path === legacySsePath ? 'GET' : 'POST',
      );
      return;
    }
    // The route's context is made here, so that the fail-safe can end its request should the route throw.
    let ctx: RequestContext | undefined;
    try {
      if (path === mcpPath) {
        ctx = rt.context(req, 'streamable-http');
        handled = handleMcp(rt, ctx, res, path, done);
      } else if (path === legacySsePath && req.method === 'GET') {
        ctx = rt.context(req, 'sse', 'legacy_sse');
        handled = legacy.openStream(ctx, res);
      } else if (path === legacyMessagesPath && req.method === 'POST') {
        ctx = rt.context(req, 'sse', 'legacy_messages');
        handled = legacy.postMessage(ctx, res);
      }
    } catch (err) {
      failSafe(rt, err, res, ctx);
      return;
    }
    if (!handled) {
      rt.countPlain(res, path.startsWith(WELL_KNOWN_PREFIX) ? 'metadata' : 'not_found');
      app(req, res);
      return;
    }
    handled.catch((err: unknown) => failSafe(rt, err, res, ctx));
  };
  // Heads and bodies must arrive promptly; long-lived SSE responses are not affected by these limits.
  const options = { ...serverTimeouts(rt.config.server.headersTimeoutMs), requireHostHeader: false };
  const secure = tls ? createHttpsServer({ ...tls, ...options }, handler) : undefined;
  const server: Server = secure ?? createServer(options, handler);
  boundHeaderFields(server, maxHeaders);
  answerClientErrors(server, {
    logger,
    count: (status, seconds) => rt.countUnrouted(status, 'request', seconds),
  });
  // Node would answer `Expect: 100-continue` at once, inviting the body of a request about to be refused.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitContinue(req, res);
    handler(req, res);
  });
  server.keepAliveTimeout = 65_000;
  return {
    server,
    tls: secure,
    inFlight: () => inFlight,
    drained: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    closing() {
      closing = true;
      // Each connection closes after its last reply, not before: a request pipelined behind the one in
      // flight has started, and must be answered. Nothing pipelined after that last one may run (RFC 9112 §9.6).
      for (const res of replies) {
        const socket = res.req.socket;
        if (res.headersSent || lastReplyOn(socket, res) !== res) continue;
        res.shouldKeepAlive = false;
        closeAfterThis(socket);
      }
    },
  };
}

function wellKnownApp(rt: SidecarRuntime): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const documents = [WELL_KNOWN_PREFIX, `${WELL_KNOWN_PREFIX}/{*rest}`];
  // Public documents: a browser-based client on any origin may read them (and preflight them).
  app.options(documents, (_req, res) => {
    res.set({ ...PUBLIC_DOCUMENT_HEADERS, 'access-control-allow-methods': 'GET' });
    res.status(204).end();
  });
  app.get(documents, (req, res) => {
    res.set(PUBLIC_DOCUMENT_HEADERS);
    const resource = rt.resourceIdentifier(req);
    const expected = new URL(resource).pathname.replace(/\/$/, '');
    const suffix = req.path.slice(WELL_KNOWN_PREFIX.length).replace(/\/$/, '');
    if (suffix !== '' && suffix !== expected) {
      res.status(404).json({ error: 'not_found', message: 'no protected resource at this path' });
      return;
    }
    res.set('cache-control', 'public, max-age=300');
    // A derived resource names the scheme a trusted proxy forwarded: caches must keep the two apart.
    if (!rt.config.authn.resource && rt.config.server.trustProxyHops > 0)
      res.set('vary', 'X-Forwarded-Proto');
    res.json(metadataDocument(rt.config, resource));
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: `MCP endpoint is ${rt.config.server.mcpPath}` });
  });
  return app;
}
