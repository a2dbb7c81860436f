/**
 * How a stop drains, through a real sidecar: a connection left open on the admin port (a probe's or a
 * scraper's) does not hold the stop; a reply being answered when the stop begins says `Connection: close`,
 * so its client sends its next request elsewhere; and an open `subscriptions/listen` stream is ended like a
 * GET stream, not waited for as a request until the grace runs out.
 *
 * @module
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ACK, listenHarness, post2026, readUntil } from '../helpers/listen-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop().catch(() => undefined);
});

const SHUTTING_DOWN_LATE = 'shutdown grace period over; cutting requests';

describe('draining on stop', () => {
  it('does not wait for a connection left open on the admin port', async () => {
    const h: Harness = await startHarness();
    stops.push(() => h.stop());
    const admin = new URL(h.sidecar.adminUrl);
    const idle = connect(Number(admin.port), admin.hostname);
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    // Hung here before: Node's close() waits for every connection, and no longer times idle ones out.
    await h.sidecar.stop();
    await closed;
    expect(idle.destroyed).toBe(true);
  });

  it('answers a request in flight when the stop begins with Connection: close', async () => {
    const h = await startHarness({ upstreamStateless: true });
    stops.push(() => h.stop());
    const agent = new Agent({ keepAlive: true });
    stops.push(async () => agent.destroy());
    const token = await h.token({ roles: ['user'] });
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 300 } },
    });
    const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(
        h.mcpUrl,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    await until(10_000, async () => h.upstream.calls().some((c) => c.name === 'slow'), 10);
    const stopped = h.sidecar.stop();
    expect(await answered).toEqual({ status: 200, connection: 'close' });
    await stopped;
  });

  it('ends an open subscriptions/listen stream without waiting out the grace for it', async () => {
    const { h, stop } = await listenHarness({ server: { shutdownGraceMs: 3_000 } });
    stops.push(stop);
    const token = await h.token({ sub: 'listener', roles: ['user'] });
    const res = await post2026(h.mcpUrl, token, 1, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, ACK);
    await h.sidecar.stop();
    await stream.ended();
    // Counted as a request in flight, it held the stop for the whole grace, then was cut as one.
    expect(h.logs.some((l) => l.includes(SHUTTING_DOWN_LATE))).toBe(false);
  });
});
