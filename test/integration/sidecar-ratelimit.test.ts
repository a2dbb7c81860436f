/**
 * Rate limiting through the sidecar on a real `redis-server`: a burst of exactly the bucket's capacity
 * passes and the next request gets 429 with the right headers (injected clock); two sidecar processes
 * share one budget; killing Redis keeps requests flowing (failure mode `local`), counts the failed store
 * calls in `mcp_authz_store_errors_total`, and Redis is used again once it is back.
 *
 * @module
 */
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { defaultPolicyBundle } from '../helpers/policy.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Harness, PEPPER, RESOURCE, startHarness } from '../helpers/sidecar.js';
import { type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.js';
import { until } from '../helpers/wait.js';

let redis: RedisServer;
const harnesses: Harness[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const h of harnesses.splice(0)) await h.stop().catch(() => undefined);
  await redis?.stop();
});

async function harness(opts: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness({ redisUrl: redis.url, upstreamStateless: true, ...opts });
  harnesses.push(h);
  return h;
}

const call = (url: string, token: string, tool = 'echo') =>
  postJsonRpc(
    url,
    { authorization: `Bearer ${token}` },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { text: 'x' } } },
  );

describe('token buckets through the sidecar', () => {
  it('passes a burst of exactly the capacity, then answers 429 until a token is due', async () => {
    const start = Date.now();
    let offset = 0;
    const h = await harness({ now: () => start + offset });
    const token = await h.token({ sub: 'burst-guest', roles: ['guest'] }); // guest tier: 50 burst, 1/s
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await call(h.mcpUrl, token);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const last = await call(h.mcpUrl, token);
    expect(last.status).toBe(429);
    expect(last.headers.get('retry-after')).toBe('1');
    expect(last.headers.get('ratelimit-policy')).toMatch(/;q=50;w=50$/);
    expect(last.headers.get('ratelimit')).toMatch(/;r=0;t=\d+$/);
    const body = (await last.json()) as {
      id: number;
      error: { code: number; message: string; data: Record<string, unknown> };
    };
    expect(body).toMatchObject({
      id: 1,
      error: { code: -32029, data: { code: 'ERR_RATELIMIT_EXCEEDED', retry_after_seconds: 1 } },
    });
    // The SDK client surfaces it as a transport error carrying 429 and the message.
    const c = await connectStreamable(h.mcpUrl, { authorization: `Bearer ${token}` });
    const err = await c.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(429);
    expect((err as Error).message).toMatch(/Too Many Requests: rate limit for echo exceeded; retry in 1 s/);
    await c.close();
    // One second later exactly one more token is due.
    offset += 1_000;
    expect((await call(h.mcpUrl, token)).status).toBe(200);
    expect((await call(h.mcpUrl, token)).status).toBe(429);
    expect(h.upstream.calls().filter((x) => x.name === 'echo').length).toBe(51);
  });
});

describe('a batch refused by its rate limit', () => {
  it('audits and counts every message of it as refused, those whose own bucket had room too', async () => {
    const h = await harness({});
    const token = await h.token({ sub: 'batch-guest', roles: ['guest'] }); // guest tier: 50 burst
    const message = (id: number, tool: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: tool, arguments: tool === 'echo' ? { text: 'x' } : {} },
    });
    // No MCP-Protocol-Version header: batches are decided for clients of older revisions.
    const batch = [
      message(1, 'list_products'),
      ...Array.from({ length: 60 }, (_, i) => message(i + 2, 'echo')),
    ];
    const res = await postJsonRpc(h.mcpUrl, { authorization: `Bearer ${token}` }, batch);
    expect(res.status).toBe(429);
    expect(await res.text()).toContain('ERR_RATELIMIT_BATCH');
    const audit = (id: number) =>
      h.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"subject":{"id":"batch-guest"'))
        .map(
          (l) =>
            JSON.parse(l) as {
              decision: string;
              deny_reason: string;
              reasons: string[];
              action: { tool: string };
            },
        )
        .filter((r) => r.action.tool === (id === 1 ? 'list_products' : 'echo'));
    await until(2_000, async () => audit(2).length === 60 && audit(1).length === 1);
    for (const r of [...audit(1), ...audit(2)]) {
      expect(r).toMatchObject({ decision: 'deny', deny_reason: 'ratelimit' });
      expect(r.reasons.at(-1)).toBe('the batch makes more calls to echo than its rate limit allows');
    }
    const metrics = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/mcp_authz_ratelimit_rejections_total\{[^}]*\} 61\b/);
    expect(h.upstream.calls().filter((c) => c.name === 'list_products')).toHaveLength(0);
  });
});

describe('two sidecar processes sharing one Redis', () => {
  let a: Harness;
  let b: SidecarProcess;

  beforeAll(async () => {
    a = await harness({});
    b = await startSidecarProcess(
      {
        server: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        upstream: { url: `${a.upstream.url}/mcp` },
        policy: { bundle: await defaultPolicyBundle(), watch: false },
        authn: { resource: RESOURCE, jwt: { issuers: [a.issuer.issuer], jwksUri: a.issuer.jwksUri } },
        store: { redisUrl: redis.url },
        log: { level: 'info' },
      },
      { AUTHZ_API_KEY_PEPPER: PEPPER },
    );
  });

  afterAll(async () => {
    if (b) expect(await b.stop()).toBe(0);
  });

  it('enforces one shared budget', async () => {
    const token = await a.token({ sub: 'shared-guest', roles: ['guest'] });
    const started = Date.now();
    let allowed = 0;
    for (let i = 0; i < 80; i++) {
      const res = await call(i % 2 === 0 ? a.mcpUrl : `${b.publicUrl}/mcp`, token);
      if (res.status === 200) allowed++;
      else expect(res.status).toBe(429);
      await res.arrayBuffer();
    }
    const refilled = Math.ceil((Date.now() - started) / 1000); // 1 token per second while the loop ran
    expect(allowed).toBeGreaterThanOrEqual(50);
    expect(allowed).toBeLessThanOrEqual(50 + refilled);
  });

  it('keeps serving while Redis is down, without 5xx, and uses Redis again once it is back', async () => {
    const token = await a.token({ sub: 'outage-user', roles: ['user'] });
    await redis.kill();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const res = await call(a.mcpUrl, token);
      statuses.push(res.status);
      await res.arrayBuffer();
      expect(Date.now() - t0).toBeLessThan(1_000);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const outageLines = a.logs.filter(
      (l) => /rate-limit store (is )?unavailable|outage/i.test(l) && l.includes('ratelimit'),
    );
    expect(outageLines.length).toBeLessThanOrEqual(2);
    // The failed store calls are counted for the "store errors" alert and dashboard panel.
    const metrics = await (await fetch(`${a.sidecar.adminUrl}/metrics`)).text();
    const failedTakes = metrics.match(/^mcp_authz_store_errors_total\{op="takeToken"[^}]*\} (\d+)/m);
    expect(Number(failedTakes?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    await redis.restart();
    const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await probe.connect();
    try {
      // Each poll is a request, which writes its bucket to Redis once the limiter uses it again.
      await until(
        8_000,
        async () => {
          (await call(a.mcpUrl, token)).arrayBuffer();
          return (await probe.keys('*rl:*')).some((k) => k.includes('outage-user'));
        },
        100,
      );
      expect(a.logs.filter((l) => l.includes('rate limit store available again')).length).toBe(1);
    } finally {
      probe.disconnect();
    }
  });
});

describe('notifications through the sidecar', () => {
  it('take tokens from the caller’s notifications bucket: a flood gets 429 and never reaches the upstream', async () => {
    const start = Date.now();
    const h = await harness({ now: () => start });
    const token = await h.token({ sub: 'chatty-guest', roles: ['guest'] }); // guest tier: 50 burst, 1/s
    const note = { jsonrpc: '2.0', method: 'notifications/roots/list_changed' };
    const notify = (n: number) =>
      postJsonRpc(h.mcpUrl, { authorization: `Bearer ${token}` }, n === 1 ? note : Array(n).fill(note));
    const seen = () =>
      h.upstream.calls().filter((c) => c.method === 'notifications/roots/list_changed').length;
    const first = await notify(50);
    expect(first.status).toBe(202);
    await first.arrayBuffer();
    expect(seen()).toBe(50);
    const refused = await notify(1);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({
      id: null,
      error: {
        code: -32029,
        message: 'Too Many Requests: rate limit for notifications exceeded; retry in 1 s',
      },
    });
    // Its own bucket: the caller's tool calls still pass.
    expect((await call(h.mcpUrl, token)).status).toBe(200);
    expect(seen()).toBe(50);
    const metrics = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^mcp_authz_ratelimit_rejections_total\{scope="subject_tool"[^}]*\} 1$/m);
  });

  it('charge client responses to that bucket too: responses to requests the server never made cannot flood it', async () => {
    const start = Date.now();
    const h = await harness({ now: () => start });
    const token = await h.token({ sub: 'answering-guest', roles: ['guest'] }); // guest tier: 50 burst, 1/s
    const answer = (i: number) => ({
      jsonrpc: '2.0',
      id: `srv-${i}`,
      result: { content: 'x'.repeat(1_000) },
    });
    const respond = (from: number, n: number) =>
      postJsonRpc(
        h.mcpUrl,
        { authorization: `Bearer ${token}` },
        Array.from({ length: n }, (_, i) => answer(from + i)),
      );
    const received = () => h.upstream.httpRequests().length + h.upstream.calls().length;
    const first = await respond(0, 50);
    expect(first.status).toBe(202);
    await first.arrayBuffer();
    const before = received();
    // More than the bucket ever holds, in one batch; then one when it is empty.
    const refused = await respond(50, 100);
    expect(refused.status).toBe(429);
    expect(JSON.stringify(await refused.json())).toContain(
      'more than its rate limit ever allows at once (50)',
    );
    const again = await respond(150, 1);
    expect(again.status).toBe(429);
    expect(await again.json()).toMatchObject([
      {
        id: null,
        error: {
          code: -32029,
          message: 'Too Many Requests: rate limit for notifications exceeded; retry in 1 s',
        },
      },
    ]);
    expect(received()).toBe(before);
  });
});
