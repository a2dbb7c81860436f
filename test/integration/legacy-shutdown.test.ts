/**
 * Shutdown and the legacy HTTP+SSE transport, through a real sidecar in front of a raw legacy upstream that
 * holds each message until the test answers it on the session's stream. A message the upstream got whole is
 * answered on the stream, which the client reads on another connection, whatever became of its POST: here
 * Node's HTTP server closed the POST's connection with its own 400, refusing a malformed request pipelined
 * behind it; or its client left once the upstream had accepted it (the head of its 202 in, not its body). The
 * shutdown waits for that answer within its grace, as for any message sent.
 *
 * @module
 */
import { connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { type LegacyStream, legacyUpstream, openLegacyStream } from '../helpers/legacy-upstream.js';
import { rawConnection, rawPost, statuses } from '../helpers/raw-pipeline.js';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';
import { stopUnderWay } from '../helpers/stop.js';
import { until } from '../helpers/wait.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

const GRACE_OVER = 'shutdown grace period over; cutting requests';
const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

interface Session {
  readonly h: Harness;
  readonly up: Awaited<ReturnType<typeof legacyUpstream>>;
  readonly stream: LegacyStream;
  readonly token: string;
}

/** A sidecar in front of a legacy upstream (`options` its), and a session open through it. */
async function legacySession(options?: Parameters<typeof legacyUpstream>[0]): Promise<Session> {
  const up = await legacyUpstream(options);
  stops.push(() => up.close());
  const upstream = { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer;
  const h = await startHarness({ upstream });
  stops.push(() => h.stop());
  const token = await h.token({ sub: 'legacy', roles: ['user'] });
  const stream = await openLegacyStream(h.sseUrl, token);
  stops.push(() => stream.close());
  return { h, up, stream, token };
}

/**
 * A sidecar in front of a legacy upstream, a session open through it, and its message `ping` (id 1) POSTed
 * on a raw connection: once the upstream has it, a malformed request line follows on that connection, which
 * Node's HTTP server answers with a bare 400 before closing it.
 */
async function messageClosedByNode(): Promise<Session> {
  const session = await legacySession();
  const { h, up, stream, token } = session;
  const c = rawConnection(h.sidecar.publicUrl);
  c.write(rawPost(token, stream.endpoint, PING));
  await until(5_000, async () => up.posted().length === 1);
  c.write('B@D / HTTP/1.1\r\nhost: x\r\n\r\n');
  expect(statuses(await c.closed)).toEqual([400]);
  return session;
}

it('waits at shutdown for the answer to a message whose POST Node closed with its own 400', async () => {
  const { h, up, stream } = await messageClosedByNode();
  const stopped = await stopUnderWay(h);
  up.send({ jsonrpc: '2.0', id: 1, result: {} });
  // Not counted as sent, the stream was ended at once, its answer lost.
  expect(await stream.read((t) => t.includes('"id":1'))).toContain('"result":{}');
  await stopped.done;
  expect(h.logs.some((l) => l.includes(GRACE_OVER))).toBe(false);
});

it('waits for it no longer than the grace when the answer does not come', async () => {
  const { h } = await messageClosedByNode();
  await h.sidecar.stop();
  const over = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === GRACE_OVER);
  // Not waited for at all before: the stop found no reply owed.
  expect(over).toMatchObject({ inFlight: 0, legacyReplies: 1 });
});

it('waits at shutdown for the answer to a message the upstream accepted (202) whose client left before that reply', async () => {
  const { h, up, stream, token } = await legacySession({ acceptHead: true });
  /** Upstream replies whose head the sidecar has, 2xx: one more once it has the message's 202. */
  const heads = async () => {
    const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('mcp_authz_upstream_duration_seconds_count{') && l.includes('"2xx"'));
    return Number(line?.split(' ').pop() ?? 0);
  };
  const before = await heads();
  const { port } = new URL(h.sidecar.publicUrl);
  const c = connect(Number(port), '127.0.0.1');
  c.on('error', () => undefined);
  c.write(rawPost(token, stream.endpoint, PING));
  await until(5_000, async () => (await heads()) > before);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.destroy();
  await closed;
  const stopped = await stopUnderWay(h);
  up.send({ jsonrpc: '2.0', id: 1, result: {} });
  // Not counted as owed (its upstream had answered its POST, 202), the stream was ended at once, its answer lost.
  expect(await stream.read((t) => t.includes('"id":1'))).toContain('"result":{}');
  await stopped.done;
  expect(h.logs.some((l) => l.includes(GRACE_OVER))).toBe(false);
});
