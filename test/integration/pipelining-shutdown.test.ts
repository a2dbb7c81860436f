/**
 * HTTP/1.1 pipelining while the sidecar shuts down, through a real sidecar in front of the example MCP server
 * (stateless, JSON replies): once the stop has begun, every reply closes its connection, so a request pipelined on a
 * kept-alive connection behind it is never answered, and must not run (RFC 9112 §9.6): a tools/call the
 * client never hears of would be sent again elsewhere, and run twice. Nor may a call pipelined behind an event
 * stream (stateful upstream), whose turn would come only as the stop ends the stream, right before the cut.
 *
 * @module
 */
import { afterEach, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { openSession } from '../helpers/http.js';
import { rawConnection, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.upstream.close();
  await h?.issuer.close();
  h = undefined;
});

/** A harness in front of the example server answering JSON (stateless), and a token of role user. */
async function harnessWithToken(): Promise<{ harness: Harness; token: string }> {
  // JSON replies: the slow call's reply has not started when the stop begins (an event stream's would have).
  const upstream = await startExampleServer({ stateless: true, jsonResponse: true });
  const harness = await startHarness({ upstream });
  h = harness;
  return { harness, token: await harness.token({ sub: 'piper', roles: ['user'] }) };
}

/**
 * Opens a connection, sends a slow call, begins the stop while it is answered, then pipelines two echo calls
 * behind it; resolves with the statuses written back and the echo texts that reached the upstream.
 */
async function pipelineIntoShutdown(): Promise<{ statuses: number[]; echoed: string[] }> {
  const { harness, token } = await harnessWithToken();
  const c = rawConnection(harness.sidecar.publicUrl);
  c.write(rawToolCall(token, 0, 'slow', { ms: 600 }));
  await until(5_000, async () => harness.upstream.calls().some((call) => call.name === 'slow'));
  // The stop begins while the slow call is answered: it will close the connection once that reply is out.
  const stopped = harness.sidecar.stop();
  c.write(rawToolCall(token, 1, 'echo', { text: 'p-1' }) + rawToolCall(token, 2, 'echo', { text: 'p-2' }));
  const got = await c.closed;
  await stopped;
  return {
    statuses: statuses(got),
    echoed: harness.upstream
      .calls()
      .filter((c) => c.name === 'echo')
      .map((c) => String(c.arguments?.text)),
  };
}

it('runs nothing pipelined behind a request arriving during the shutdown (its reply closes the connection)', async () => {
  const { statuses, echoed } = await pipelineIntoShutdown();
  // Only the slow call is answered; the echo calls never are.
  expect(statuses).toEqual([200]);
  // p-2 waits behind p-1, whose reply (the shutdown's) closes the connection: it must never run.
  expect(echoed).not.toContain('p-2');
});

// The reply in flight when the stop begins is marked `Connection: close`: the first request pipelined
// behind it (p-1) must not run either.
it('runs nothing pipelined behind the reply in flight when the shutdown begins', async () => {
  const { echoed } = await pipelineIntoShutdown();
  expect(echoed).toEqual([]);
});

it('answers a request pipelined and started behind the reply in flight when the shutdown begins', async () => {
  const { harness, token } = await harnessWithToken();
  const c = rawConnection(harness.sidecar.publicUrl);
  // Both calls are sent, and started, before the stop begins: the connection must close after the second.
  c.write(rawToolCall(token, 0, 'slow', { ms: 600 }) + rawToolCall(token, 1, 'echo', { text: 'p-1' }));
  await until(5_000, async () => harness.upstream.calls().some((call) => call.name === 'echo'));
  const stopped = harness.sidecar.stop();
  const got = await c.closed;
  await stopped;
  // p-1 ran at the upstream: its reply reaches the client.
  expect(statuses(got)).toEqual([200, 200]);
  expect(got).toContain('p-1');
});

// An event stream ends only once the grace is over, right before the connections are cut: a call pipelined
// behind it would get its turn then, and run at the upstream with an answer that could never be sent.
it('runs nothing pipelined behind an event stream that the shutdown ends', async () => {
  const upstream = await startExampleServer();
  const harness = await startHarness({ upstream, config: { server: { shutdownGraceMs: 300 } } });
  h = harness;
  const token = await harness.token({ sub: 'piper', roles: ['user'] });
  const sid = `mcp-session-id: ${await openSession(harness.mcpUrl, token)}\r\n`;
  const c = rawConnection(harness.sidecar.publicUrl);
  c.write(
    `GET /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n${sid}` +
      'mcp-protocol-version: 2025-06-18\r\naccept: text/event-stream\r\n\r\n' +
      rawToolCall(token, 2, 'echo', { text: 'p-1' }, sid),
  );
  await until(5_000, async () => harness.upstream.httpRequests().some((r) => r.method === 'GET'));
  await harness.sidecar.stop();
  const got = await c.closed;
  // The stream was ended cleanly; the call behind it was never answered, so it must never have run.
  expect(statuses(got)).toEqual([200]);
  expect(got).toMatch(/\r\n0\r\n\r\n$/);
  expect(harness.upstream.calls().filter((call) => call.name === 'echo')).toEqual([]);
});
