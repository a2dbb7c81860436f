/**
 * How a stop drains, through a real sidecar: a connection left open on the admin port (a probe's or a
 * scraper's) does not hold the stop; a reply being answered when the stop begins says `Connection: close`,
 * so its client sends its next request elsewhere; and an open `subscriptions/listen` stream is ended like a
 * GET stream, not waited for as a request until the grace runs out.
 *
 * @module
 */
import { Agent, createServer, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TOOL_ANNOTATIONS } from '../../examples/mcp-server/catalog.js';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { ACK, listenHarness, post2026, readUntil } from '../helpers/listen-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop().catch(() => undefined);
});

const SHUTTING_DOWN_LATE = 'shutdown grace period over; cutting requests';

/** Whether a new connection to `port` is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

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
    // An upstream that answers the call only once the stop is under way (the public port no longer takes
    // connections): the reply's headers are written after the stop began, whatever the machine's speed.
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let called = false;
    const upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
      });
      req.on('end', () => {
        const msg = JSON.parse(text) as { id: number; method: string };
        const reply = (result: unknown) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
        };
        if (msg.method === 'tools/list') {
          reply({
            tools: [{ name: 'echo', inputSchema: { type: 'object' }, annotations: TOOL_ANNOTATIONS.echo }],
          });
        } else if (msg.method === 'tools/call') {
          called = true;
          void gate.then(() => reply({ content: [{ type: 'text', text: 'ok' }] }));
        } else reply({});
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    stops.push(async () => {
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    });
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const h = await startHarness({ upstream: { url } as unknown as ExampleServer });
    stops.push(() => h.stop());
    const agent = new Agent({ keepAlive: true });
    stops.push(async () => agent.destroy());
    const token = await h.token({ roles: ['user'] });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } });
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
    await until(10_000, async () => called, 10);
    const stopped = h.sidecar.stop();
    const port = Number(new URL(h.sidecar.publicUrl).port);
    await until(10_000, () => refused(port), 10);
    release();
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
