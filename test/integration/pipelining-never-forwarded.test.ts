/**
 * HTTP/1.1 pipelining through a real sidecar: calls pipelined behind a body over `server.maxBodyBytes` were
 * decided and rate-limited while the request ahead of them ran, but the sidecar closes the connection after
 * its 413, so their turn never comes and they never run. It was the sidecar that closed the connection, not
 * their client: they are recorded as 444 (reason `request`), audited as refused after their decision, and
 * the rate-limit tokens they took go back (the sidecar's clock is frozen here, so no token refills).
 *
 * @module
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONNECTION_CLOSED_REASON } from '../../src/server/pipelined.js';
import { postJsonRpc } from '../helpers/http.js';
import { exchange, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const MAX_BODY = 2_048;
const SUBJECT = 'never-its-turn';

let h: Harness;
let token = '';

beforeAll(async () => {
  const frozen = Date.now();
  h = await startHarness({
    upstreamStateless: true,
    now: () => frozen,
    config: { server: { maxBodyBytes: MAX_BODY }, ratelimit: { scope: 'subject' } },
  });
  token = await h.token({ sub: SUBJECT, roles: ['user'] });
});

afterAll(async () => {
  await h?.stop();
});

/** Tokens left in the caller's one bucket (scope `subject`), from an echo call's `RateLimit` header. */
async function tokensLeft(): Promise<number> {
  const res = await postJsonRpc(
    h.mcpUrl,
    { authorization: `Bearer ${token}` },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
  );
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return Number(/;r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
}

/** The sum of the counters at the admin port's /metrics whose series starts with `prefix` (0 when none). */
async function counter(prefix: string): Promise<number> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(prefix));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const SIDECAR_CLOSED = 'mcp_authz_requests_total{route="mcp",status="444",reason="request"}';
const CLIENT_CLOSED = 'mcp_authz_requests_total{route="mcp",status="499",';

type Record = {
  decision: string;
  deny_reason: string | null;
  enforced: boolean;
  reasons: string[];
  upstream: unknown;
};

const refusedEchoes = (): Record[] =>
  h.logs
    .filter((l) => l.includes('"log_type":"audit"') && l.includes(`"subject":{"id":"${SUBJECT}"`))
    .map((l) => JSON.parse(l) as Record & { action: { tool: string } })
    .filter((r) => r.action.tool === 'echo' && r.decision === 'deny');

it('records the calls behind a 413 as closed by the sidecar (444), refused, and gives their tokens back', async () => {
  const before = await tokensLeft();
  const [closedBefore, goneBefore] = [await counter(SIDECAR_CLOSED), await counter(CLIENT_CLOSED)];
  h.upstream.resetCalls();
  // A slow call first, so that the calls behind it are decided and charged while it runs; then a body over
  // the limit, in the same write, so that the calls behind it are parsed at once too.
  let pipeline = rawToolCall(token, 0, 'slow', { ms: 300 });
  pipeline += rawToolCall(token, 99, 'echo', { text: 'x'.repeat(MAX_BODY) });
  for (let i = 1; i <= 3; i++) pipeline += rawToolCall(token, i, 'echo', { text: `p-${i}` });
  const raw = await exchange(h.sidecar.publicUrl, pipeline);
  expect(statuses(raw)).toEqual([200, 413]);
  expect(h.upstream.calls().map((c) => c.name)).toEqual(['slow']);
  // Each of the three is audited as refused after its decision: the policy allowed it, it never ran.
  await until(5_000, async () => refusedEchoes().length === 3);
  for (const r of refusedEchoes())
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'request',
      enforced: true,
      reasons: expect.arrayContaining([CONNECTION_CLOSED_REASON]),
      upstream: null,
    });
  // Counted as the sidecar's own closing, not as clients that went away.
  expect(await counter(SIDECAR_CLOSED)).toBe(closedBefore + 3);
  expect(await counter(CLIENT_CLOSED)).toBe(goneBefore);
  // Only the slow call and this one spent a token: the three never forwarded got theirs back.
  expect(await tokensLeft()).toBe(before - 2);
});

it('still records calls whose client closed the connection before their turn as 499, with a FIN or a reset', async () => {
  for (const close of ['end', 'reset'] as const) {
    const [closedBefore, goneBefore] = [await counter(SIDECAR_CLOSED), await counter(CLIENT_CLOSED)];
    h.upstream.resetCalls();
    const socket = connect(Number(new URL(h.sidecar.publicUrl).port), '127.0.0.1');
    // Read (and drop) what comes back: a socket nobody reads never sees the connection's end.
    socket.on('error', () => undefined).resume();
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(rawToolCall(token, 0, 'slow', { ms: 300 }) + rawToolCall(token, 1, 'echo', { text: close }));
    await until(5_000, async () => h.upstream.calls().some((c) => c.name === 'slow'));
    if (close === 'end') socket.end();
    else socket.resetAndDestroy();
    await closed;
    await until(5_000, async () => (await counter(CLIENT_CLOSED)) >= goneBefore + 1);
    expect(await counter(SIDECAR_CLOSED)).toBe(closedBefore);
    expect(h.upstream.calls().map((c) => c.name)).toEqual(['slow']);
  }
});
