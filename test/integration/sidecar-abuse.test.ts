/**
 * Abuse detection through the sidecar on a real `redis-server`: a rule on failed authentications per IP
 * trips exactly when the count exceeds its threshold and not before; the block it sets is enforced by a
 * second sidecar process too, expires, and shows in the security report.
 *
 * @module
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { defaultPolicyBundle } from '../helpers/policy.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Harness, PEPPER, RESOURCE, startHarness } from '../helpers/sidecar.js';
import { type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.js';
import { until } from '../helpers/wait.js';

const REPORT_TOKEN = 'report-token-0123456789abcdef0123456789';
const rules = [
  { name: 'bad-auth', kind: 'auth_failures_ip', threshold: 3, windowSec: 60, action: 'block', blockSec: 3 },
];

let redis: RedisServer;
let probe: Redis;
let a: Harness;
let b: SidecarProcess;

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url);
  a = await startHarness({
    redisUrl: redis.url,
    upstreamStateless: true,
    config: { abuse: { rules, pollIntervalMs: 200 } },
    env: { AUTHZ_ADMIN_REPORT_TOKEN: REPORT_TOKEN },
  });
  b = await startSidecarProcess(
    {
      server: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: `${a.upstream.url}/mcp` },
      policy: { bundle: await defaultPolicyBundle(), watch: false },
      authn: { resource: RESOURCE, jwt: { issuers: [a.issuer.issuer], jwksUri: a.issuer.jwksUri } },
      store: { redisUrl: redis.url },
      abuse: { rules, pollIntervalMs: 200 },
      log: { level: 'info' },
    },
    { AUTHZ_API_KEY_PEPPER: PEPPER },
  );
});

afterAll(async () => {
  if (b) await b.stop();
  await a?.stop();
  probe?.disconnect();
  await redis?.stop();
});

const ping = (base: string, authorization: string) =>
  postJsonRpc(`${base}/mcp`, { authorization }, { jsonrpc: '2.0', id: 1, method: 'ping' }).then(
    async (r) => ({ status: r.status, body: await r.text() }),
  );

/** This file polls every 50 ms, not the helper's 20 ms: most of its checks are requests through a sidecar. */
const POLL_MS = 50;

/** Failed authentications from 127.0.0.1 counted in Redis so far (the sums of the windows' counts). */
async function counted(): Promise<number> {
  let total = 0;
  for (const key of await probe.keys('*abuse:wc:*')) total += Number(await probe.hget(key, ':sum'));
  return total;
}

describe('abuse rule: failed authentications per IP', () => {
  it('trips at threshold + 1, blocks on every replica, expires, and is reported', async () => {
    const good = `Bearer ${await a.token({ sub: 'ana', roles: ['analyst'] })}`;
    for (let i = 0; i < 3; i++)
      expect((await ping(a.sidecar.publicUrl, 'Bearer bad.token.here')).status).toBe(401);
    await until(5_000, async () => (await counted()) === 3, POLL_MS);
    // At the threshold, not above it: nobody is blocked.
    expect(await probe.keys('*blocks*')).toEqual([]);
    expect((await ping(a.sidecar.publicUrl, good)).status).toBe(200);
    expect((await ping(b.publicUrl, good)).status).toBe(200);

    expect((await ping(a.sidecar.publicUrl, 'Bearer bad.token.again')).status).toBe(401);
    await until(5_000, async () => (await ping(a.sidecar.publicUrl, good)).status === 403, POLL_MS);
    const blockedOnB = await until(
      2_000,
      async () => (await ping(b.publicUrl, good)).status === 403,
      POLL_MS,
    );
    expect(blockedOnB).toBeLessThan(1_500);
    const refused = await ping(b.publicUrl, good);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { data: { code: 'ERR_ABUSE_BLOCKED' } } });

    // The block lasts blockSec (3 s) and then lifts by itself everywhere.
    await until(8_000, async () => (await ping(a.sidecar.publicUrl, good)).status === 200, POLL_MS);
    await until(2_000, async () => (await ping(b.publicUrl, good)).status === 200, POLL_MS);

    const unauth = await fetch(`${a.sidecar.adminUrl}/report?since=1h`);
    expect(unauth.status).toBe(401);
    await until(
      5_000,
      async () => {
        const res = await fetch(`${a.sidecar.adminUrl}/report?since=1h`, {
          headers: { authorization: `Bearer ${REPORT_TOKEN}` },
        });
        const report = (await res.json()) as {
          anomalies: { rule: string }[];
          authFailures: { reason: string; count: number }[];
        };
        const failures = report.authFailures.find((f) => f.reason === 'ERR_AUTHN_INVALID_TOKEN')?.count ?? 0;
        return report.anomalies.some((x) => x.rule === 'bad-auth') && failures === 4;
      },
      POLL_MS,
    );
  });
});
