/**
 * The admin listener, on its own port: `/healthz` (the process is alive), `/readyz` (no component is
 * `not_ready` or `error`; `warn` — e.g. serving the last good policy, or local rate-limit buckets during a
 * Redis outage — still serves; the body lists each component's state), `/metrics` and the security report
 * `/report` (bearer token). Probes and metrics live here so they are never exposed through the public port.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { HEADERS_TIMEOUT_MS } from '../config/defaults.js';
import type { SecretSource } from '../config/secrets.js';
import type { Component } from '../lifecycle.js';
import { serverTimeouts } from './client-errors.js';
import { sendJson } from './respond.js';

export interface AdminResponse {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

export interface AdminRoutes {
  readonly components: readonly Pick<Component, 'name' | 'status'>[];
  /** `/metrics` in the Prometheus text format. */
  readonly metrics?: () => Promise<{ type: string; body: string }>;
  /** `/report`, only for callers presenting the report token. */
  readonly report?: { readonly route: (url: URL) => Promise<AdminResponse>; readonly token: SecretSource };
}

export function createAdminServer(routes: AdminRoutes): Server {
  // As on the public listener (its default head timeout): a slow client cannot hold a connection open for
  // Node's defaults (60 s / 300 s), nor 30 s past them, Node's own check interval.
  const server = createServer(serverTimeouts(HEADERS_TIMEOUT_MS), (req, res) => {
    // A request target such as `//[` is no valid URL: answer 400 (a throw here would end the process).
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      sendJson(res, 400, { error: 'bad_request', message: 'the request target is not a valid URL path' });
      return;
    }
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz' || path === '/healthz/live') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz' || path === '/healthz/ready') {
      const components: Record<string, unknown> = {};
      let ready = true;
      for (const c of routes.components) {
        const s = c.status();
        components[c.name] = s;
        if (s.state === 'not_ready' || s.state === 'error') ready = false;
      }
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', components });
      return;
    }
    let answer: Promise<AdminResponse> | undefined;
    if (path === '/metrics' && routes.metrics) {
      answer = routes.metrics().then((m) => ({ status: 200, ...m }));
    } else if (path === '/report' && routes.report) {
      const expected = routes.report.token.get();
      if (!expected) {
        sendJson(res, 404, { error: 'not_found', message: 'set admin.reportTokenFile to enable /report' });
        return;
      }
      if (!bearerMatches(req, expected)) {
        sendJson(
          res,
          401,
          { error: 'unauthorized' },
          { 'www-authenticate': 'Bearer realm="mcp-authz-admin"' },
        );
        return;
      }
      answer = routes.report.route(url);
    }
    if (!answer) {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    answer.then(
      (out) => {
        res.writeHead(out.status, { 'content-type': out.type, 'cache-control': 'no-store' });
        res.end(out.body);
      },
      () => sendJson(res, 500, { error: 'internal_error' }),
    );
  });
  return server;
}

function bearerMatches(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1].trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
