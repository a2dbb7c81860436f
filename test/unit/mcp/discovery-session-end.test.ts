/**
 * Annotation discovery against a real local server, through the real upstream client: the DELETE that ends
 * its session is waited for only to its headers, so an upstream that never finishes that answer's body
 * cannot hold discovery (and every request naming a tool not seen listed) open.
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
import { settlesWithin } from '../../helpers/wait.js';

/** Failure guard only: discovery finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

it('settles although the DELETE ending its session keeps its body open', async () => {
  const server: Server = createServer((req, res) => {
    if (req.method === 'DELETE') {
      // Headers, then a body that never ends (chunked, no length: a streamed reply).
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('bye');
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const msg = JSON.parse(body) as { id?: number; method: string };
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'x', version: '1' } }
          : {
              tools: [{ name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } }],
            };
      const out = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(out),
        'mcp-session-id': 's1',
      });
      res.end(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const upstream = new Upstream({
    url: `http://127.0.0.1:${port}/mcp`,
    connectTimeoutMs: GUARD_MS,
    headersTimeoutMs: GUARD_MS,
    bodyTimeoutMs: 30_000,
    connections: 4,
  });
  cleanups.push(async () => {
    await upstream.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const cache = new AnnotationCache();
  const discovery = new AnnotationDiscovery({ upstream, path: '/mcp', cache, logger: silentLogger() });
  await settlesWithin(GUARD_MS, discovery.discover(), 'discovery');
  expect(cache.has('echo')).toBe(true);
});
