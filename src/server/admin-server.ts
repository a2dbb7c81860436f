/**
 * The admin listener, on its own port: `/healthz` (the process is alive) and `/readyz` (every component
 * reports `ok`; the body lists each component's state). Probes and metrics live here so they are never
 * exposed through the public port.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { Component } from '../lifecycle.js';
import { sendJson } from './respond.js';

export interface AdminRoutes {
  readonly components: readonly Pick<Component, 'name' | 'status'>[];
  /** Extra GET routes (e.g. `/metrics`) added by later parts. */
  readonly extra?: ReadonlyMap<string, () => Promise<{ type: string; body: string }>>;
}

export function createAdminServer(routes: AdminRoutes): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
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
        if (s.state !== 'ok') ready = false;
      }
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', components });
      return;
    }
    const extra = path ? routes.extra?.get(path) : undefined;
    if (extra) {
      extra().then(
        (out) => {
          res.writeHead(200, { 'content-type': out.type, 'cache-control': 'no-store' });
          res.end(out.body);
        },
        () => sendJson(res, 500, { error: 'internal_error' }),
      );
      return;
    }
    sendJson(res, 404, { error: 'not_found' });
  });
}
