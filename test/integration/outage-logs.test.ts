/**
 * What an SRE's log shows during a Redis outage that refuses calls (`ratelimit.failureMode: closed`, API
 * keys): the outage is logged once when it starts, at `warn`, by the store and the rate limiter; each
 * refused call is an `info` line like any other denial, not an `error` line per request (an error-level
 * flood pages on-call for every call a client retries, and buries the one line that says why).
 *
 * @module
 */
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
