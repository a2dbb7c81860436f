/**
 * MCP 2026-07-28 plumbing through the sidecar: `server/discover` is let through for any authenticated
 * caller; a `subscriptions/listen` (a POST whose reply is the long-lived notification stream that replaces
 * the GET stream) counts against the caller's open streams and is cut when the caller's token is revoked,
 * as a GET stream is; and each resource it subscribes to is decided as a `resources/subscribe` of that URI,
 * so a caller cannot listen to changes of a resource the policy keeps from them.
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import {
  ACK,
  type ListenUpstream,
  listenHarness,
  post2026,
  readUntil,
  startListenUpstream,
} from '../helpers/listen-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
let upstream: ListenUpstream;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ h, upstream, stop } = await listenHarness({
    server: { maxStreamsPerCaller: 1, streamRecheckMs: 50 },
    store: { revocationPollIntervalMs: 50 },
  }));
});

afterAll(async () => {
  await stop?.();
});

const post = (token: string, id: number, method: string, params?: Record<string, unknown>) =>
  post2026(h.mcpUrl, token, id, method, params);
const listens = () => upstream.received.filter((m) => m === 'subscriptions/listen').length;

describe('MCP 2026-07-28 plumbing through the sidecar', () => {
  it('lets server/discover through for an authenticated caller', async () => {
    const res = await post(await h.token({ sub: 'discoverer', roles: ['guest'] }), 1, 'server/discover');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, result: { supportedVersions: ['2026-07-28'] } });
    expect(upstream.received).toContain('server/discover');
  });

  it('counts a subscriptions/listen stream against the caller’s open streams, and cuts it on revocation', async () => {
    const token = await h.token({ sub: 'listener', roles: ['user'] });
    const first = await post(token, 2, 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    expect(first.status).toBe(200);
    // An nginx ingress in front must pass the stream's events on as they come.
    expect(first.headers.get('x-accel-buffering')).toBe('no');
    const stream = await readUntil(first, ACK);
    expect(stream.text).toContain(ACK);

    const before = listens();
    const second = await post(token, 3, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(second.status).toBe(429);
    expect(await second.text()).toContain('ERR_RATELIMIT_STREAMS');
    expect(listens()).toBe(before);
    // Its audit record (the first stream's comes when it ends) says it was refused by a limit, not allowed.
    // Audit lines are written after the reply, a turn of the event loop at a time: wait for it to be out.
    const records = () =>
      h.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"listener"'))
        .map((l) => JSON.parse(l) as { decision: string; deny_reason: string | null; reasons: string[] });
    await until(5_000, async () => records().length > 0);
    expect(records().map((r) => [r.decision, r.deny_reason])).toEqual([['deny', 'ratelimit']]);
    expect(records()[0]?.reasons).toContain('too many event streams open');

    const other = await post(await h.token({ sub: 'another', roles: ['user'] }), 4, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(other.status).toBe(200);
    const otherStream = await readUntil(other, ACK);

    const { jti, exp } = decodeJwt(token);
    await h.sidecar.store.revokeToken(jti as string, exp as number);
    await stream.ended();
    expect(h.logs.some((l) => l.includes('event stream ended') && l.includes('ERR_AUTHN_REVOKED'))).toBe(
      true,
    );
    otherStream.close();
  });

  it('decides each subscribed resource as its resources/subscribe', async () => {
    const token = await h.token({ sub: 'curious', roles: ['user'] });
    const before = upstream.received.length;
    const refused = await post(token, 5, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['docs://handbook', 'crm://acme/customers/c-1'] },
    });
    expect(refused.status).toBe(200);
    expect(await refused.json()).toMatchObject({
      id: 5,
      error: {
        code: -32003,
        message:
          'Forbidden: resource crm://acme/customers/c-1 needs clearance confidential, you have internal',
      },
    });
    expect(upstream.received.length).toBe(before);

    const allowed = await post(token, 6, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['docs://handbook'] },
    });
    expect(allowed.status).toBe(200);
    const stream = await readUntil(allowed, ACK);
    expect(stream.text).toContain('docs://handbook');
    stream.close();
  });
});

describe('a subscriptions/listen refused by the open-stream cap', () => {
  it('gives back the rate-limit token it took, so refusals do not drain the caller’s bucket', async () => {
    const up = await startListenUpstream();
    // The buckets' clock stands still: only a refund can put a token back.
    const frozen = Date.now();
    const own = await startHarness({
      upstream: up as unknown as ExampleServer,
      config: { server: { maxStreamsPerCaller: 1 } },
      now: () => frozen,
    });
    try {
      const token = await own.token({ sub: 'hoarder', roles: ['user'] });
      const listen = (id: number) =>
        post2026(own.mcpUrl, token, id, 'subscriptions/listen', {
          notifications: { toolsListChanged: true },
        });
      const open = await listen(1);
      expect(open.status).toBe(200);
      const stream = await readUntil(open, ACK);
      const left: (string | null)[] = [];
      for (let id = 2; id <= 4; id++) {
        const refused = await listen(id);
        expect(refused.status).toBe(429);
        expect(await refused.text()).toContain('ERR_RATELIMIT_STREAMS');
        left.push(refused.headers.get('ratelimit'));
      }
      // Each refusal found the bucket as the open stream left it: one token down, not one more each time;
      // its answer, as its audit record, says what the bucket holds once its token went back.
      expect(open.headers.get('ratelimit')).toMatch(/;r=199;/);
      expect(left).toEqual([left[0], left[0], left[0]]);
      expect(left[0]).toMatch(/;r=199;/);
      const refusedRecords = () =>
        own.logs
          .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"hoarder"'))
          .map((l) => JSON.parse(l) as { decision: string; rate_limit: { remaining: number } | null })
          .filter((r) => r.decision === 'deny');
      await until(5_000, async () => refusedRecords().length === 3);
      expect(refusedRecords().map((r) => r.rate_limit?.remaining)).toEqual([199, 199, 199]);
      stream.close();
    } finally {
      await own.stop();
      await up.close();
    }
  });
});
