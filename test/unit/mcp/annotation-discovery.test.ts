/**
 * Annotation discovery against a real local server, through the real upstream client: a listing it asked for
 * before the upstream said its tools changed (`notifications/tools/list_changed`, seen on some client's
 * stream while discovery ran) may predate the change, and teaches nothing; one asked for after it does.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { AnnotationDiscovery } from '../../../src/mcp/annotation-discovery.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

/** Failure guard only: discovery finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** An MCP server listing `echo` read-only, calling `listing` as each `tools/list` comes (before answering). */
async function server(listing: () => void): Promise<Upstream> {
  const s: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const msg = (body ? JSON.parse(body) : {}) as { id?: number; method?: string };
      if (msg.id === undefined) {
        res.writeHead(req.method === 'DELETE' ? 200 : 202).end();
        return;
      }
      if (msg.method === 'tools/list') listing();
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'x', version: '1' } }
          : {
              tools: [{ name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } }],
            };
      const out = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(out);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  const upstream = new Upstream({
    url: `http://127.0.0.1:${port}/mcp`,
    connectTimeoutMs: GUARD_MS,
    headersTimeoutMs: GUARD_MS,
    bodyTimeoutMs: GUARD_MS,
    connections: 4,
  });
  cleanups.push(async () => {
    await upstream.destroy();
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  });
  return upstream;
}

/** Discovery through `upstream` into `cache`, on the clock `now`. */
function discoveryOf(upstream: Upstream, cache: AnnotationCache, now: () => number): AnnotationDiscovery {
  return new AnnotationDiscovery({ upstream, path: '/mcp', cache, logger: silentLogger(), now });
}

it('learns nothing from a listing the upstream said its tools changed during, and learns the next', async () => {
  const cache = new AnnotationCache();
  let changes = 1;
  const upstream = await server(() => {
    if (changes-- > 0) cache.toolsChanged();
  });
  let now = 0;
  const discovery = discoveryOf(upstream, cache, () => now);
  await discovery.discover();
  expect(cache.has('echo')).toBe(false);
  now += 60_000; // past the cooldown
  await discovery.discover();
  expect(cache.get('echo')).toMatchObject({ readOnlyHint: true, seen: true });
});

it('discovers again a second after the upstream changed its tools, not only after the 10 s cooldown', async () => {
  const cache = new AnnotationCache();
  let listings = 0;
  const upstream = await server(() => {
    listings++;
  });
  let now = 0;
  const discovery = discoveryOf(upstream, cache, () => now);
  await discovery.discover();
  expect(cache.has('echo')).toBe(true);
  now = 5_000;
  await discovery.discover(); // no change: cooling down
  expect(listings).toBe(1);
  now = 9_000;
  cache.toolsChanged();
  expect(cache.has('echo')).toBe(false);
  await discovery.discover(); // a change since the last run (9 s ago): at once
  expect(listings).toBe(2);
  expect(cache.get('echo')).toMatchObject({ readOnlyHint: true, seen: true });
  now = 9_999;
  cache.toolsChanged();
  await discovery.discover(); // changed again, but within a second of the last run
  expect(listings).toBe(2);
  now = 10_000;
  await discovery.discover();
  expect(listings).toBe(3);
  now = 15_000;
  await discovery.discover(); // nothing changed since that run began: the 10 s cooldown again
  expect(listings).toBe(3);
});
