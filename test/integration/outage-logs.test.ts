/**
 * What an SRE's log shows during a Redis outage that refuses calls (`ratelimit.failureMode: closed`, API
 * keys): the outage is logged once when it starts, at `warn`, by the store and the rate limiter; each
 * refused call is an `info` line like any other denial, not an `error` line per request (an error-level
 * flood pages on-call for every call a client retries, and buries the one line that says why). An MCP
 * server that is down likewise: one `warn` when its calls start failing, one `info` when it answers again.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/authn/api-key-format.js';
import { postJsonRpc } from '../helpers/http.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let redis: RedisServer;
let h: Harness | undefined;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await h?.stop();
  await redis?.stop();
});

const LOUD = new Set(['warn', 'error', 'fatal']);

describe('a Redis outage refusing calls', () => {
  it('is logged once at warn, and each refused call at info, not error', async () => {
    h = await startHarness({
      redisUrl: redis.url,
      upstreamStateless: true,
      config: { ratelimit: { failureMode: 'closed' }, abuse: { rules: [] } },
    });
    const token = await h.bearer(['user']);
    const apiKey = { 'x-api-key': generateApiKey('mcpk').key };
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const before = h.logs.length;
    await redis.kill();
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const headers of [token, apiKey]) {
        const res = await postJsonRpc(h.mcpUrl, headers, ping);
        expect(res.status).toBe(503);
        codes.push(((await res.json()) as { error: { data: { code: string } } }).error.data.code);
      }
    }
    expect(new Set(codes)).toEqual(new Set(['ERR_RATELIMIT_BACKEND', 'ERR_AUTHN_UNAVAILABLE']));
    const lines = h.logs.slice(before).map((l) => JSON.parse(l) as { level: string; msg: string });
    const denied = lines.filter((l) => l.msg === 'request denied');
    expect(denied).toHaveLength(20);
    expect(denied.filter((l) => LOUD.has(l.level))).toEqual([]);
    // The outage itself: a handful of lines (store, rate limiter, pollers), not one per call.
    const loud = lines.filter((l) => LOUD.has(l.level));
    expect(loud.length).toBeGreaterThan(0);
    expect(loud.length).toBeLessThanOrEqual(5);
    expect(loud.filter((l) => l.level !== 'warn')).toEqual([]);
  }, 30_000);
});

describe('an MCP server that is down', () => {
  it('is logged once at warn, each refused call at debug, and its return once at info', async () => {
    // The test's own port (another test could take a freed one): it cuts every connection while "down".
    let up = false;
    const upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    upstream.on('connection', (socket) => {
      if (!up) socket.destroy();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const down = await startHarness({
      upstreamStateless: true,
      config: { upstream: { url: `http://127.0.0.1:${port}/mcp` }, abuse: { rules: [] } },
    });
    try {
      const token = await down.bearer(['user']);
      const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
      const before = down.logs.length;
      for (let i = 0; i < 10; i++) expect((await postJsonRpc(down.mcpUrl, token, ping)).status).toBe(502);
      up = true;
      expect((await postJsonRpc(down.mcpUrl, token, ping)).status).toBe(200);
      const lines = down.logs.slice(before).map((l) => JSON.parse(l) as { level: string; msg: string });
      const failed = lines.filter((l) => l.msg.startsWith('upstream request failed'));
      expect(failed.map((l) => l.level)).toEqual(['warn', ...Array(9).fill('debug')]);
      expect(
        lines.filter((l) => l.msg === 'upstream MCP server answering again').map((l) => l.level),
      ).toEqual(['info']);
    } finally {
      await down.stop();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  }, 30_000);
});
