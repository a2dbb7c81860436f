/**
 * A call the policy allowed and something after it refused — its legacy HTTP+SSE session ended while its
 * stages ran, its rate limit, its client leaving while it waited for an upstream connection — through a real sidecar exporting to a real OTLP receiver: the two are
 * recorded the one way. The audit record says deny, with the refusal's `deny_reason`; the decision span the
 * record names keeps the policy's verdict (`mcp_authz.decision: allow`) and carries the refusal (deny reason,
 * error code, reason, `error.type`, status ERROR); `mcp_authz_decisions_total` counts the policy's verdict
 * (allow), and the request metric the refusal. A call refused before it left for the upstream records no
 * upstream duration sample, and its upstream CLIENT span says it was not sent.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SESSION_ENDED_REASON } from '../../src/pipeline/stages/session.js';
import { Upstream, type UpstreamRequest } from '../../src/proxy/upstream.js';
import { CLIENT_GONE_REASON } from '../../src/server/pipelined.js';
import { openSession, postAfterContinue, postJsonRpc } from '../helpers/http.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let receiver: OtlpReceiver;
let h: Harness;
/** One upstream connection: a call waits for it while another holds it. Same upstream, issuer and receiver. */
let one: Harness;
const clients: Client[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' };
  h = await startHarness({ env });
  one = await startHarness({
    env,
    upstream: h.upstream,
    issuer: h.issuer,
    config: { upstream: { connections: 1, headersTimeoutMs: 30_000 } },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await one?.stop();
  await h?.stop();
  await receiver?.stop();
});

interface AuditLine {
  decision: string;
  deny_reason: string | null;
  reasons: string[];
  span_id: string | null;
  action: { tool: string | null };
}

/** The audit records of `subject`'s `tool` calls (at `target`). */
const audited = (subject: string, tool: string, target: Harness = h): AuditLine[] =>
  target.logs
    .filter((l) => l.includes('"log_type":"audit"') && l.includes(`"subject":{"id":"${subject}"`))
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((r) => r.action.tool === tool);

/** The sum of the counters at the admin port's /metrics whose series starts with `prefix`. */
async function counter(prefix: string): Promise<number> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(prefix));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** `target`'s upstream duration samples of calls that got no reply (`status_class="error"`). */
async function noReplySamples(target: Harness): Promise<number> {
  const text = await (await fetch(`${target.sidecar.adminUrl}/metrics`)).text();
  const lines = text
    .split('\n')
    .filter(
      (l) => l.startsWith('mcp_authz_upstream_duration_seconds_count{') && l.includes('status_class="error"'),
    );
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const ALLOWED_ECHO = 'mcp_authz_decisions_total{result="allow",method="tools/call",tool="echo"}';

/** The span the audit record names, once exported. */
async function spanOf(record: AuditLine | undefined): Promise<ReceivedSpan | undefined> {
  const find = () => receiver.spans().find((s) => s.spanId === record?.span_id);
  await receiver.waitFor(() => find() !== undefined, 10_000);
  return find();
}

describe('a call refused after its decision', () => {
  it('its legacy session ended while its stages ran: the decision span keeps allow and says request', async () => {
    const posted: string[] = [];
    const recording: FetchLike = (url, init) => {
      if (init?.method === 'POST') posted.push(String(url));
      return fetch(url, init);
    };
    const subject = 'session-gone';
    const auth = await h.bearer(['guest'], { sub: subject });
    const c = await connectSse(h.sseUrl, auth, { fetch: recording });
    clients.push(c);
    // The stream's GET as the upstream got it: its x-request-id names its log lines.
    const opened = h.upstream
      .httpRequests()
      .find((r) => r.method === 'GET' && r.headers['x-mcp-authz-subject'] === subject);
    const streamLine = `"request_id":"${opened?.headers['x-request-id']}"`;
    const [allowedBefore, notFoundBefore] = [
      await counter(ALLOWED_ECHO),
      await counter('mcp_authz_requests_total{route="legacy_messages",status="404",reason="request"}'),
    ];
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'too late' } },
    });
    const res = await postAfterContinue(posted[0] ?? '', auth, body, async () => {
      // Past the session stage; now the stream ends (its end logged in the turn its session is dropped).
      await c.close();
      await until(5_000, async () =>
        h.logs.some((l) => l.includes(streamLine) && l.includes('"msg":"request forwarded"')),
      );
    });
    expect(res.status).toBe(404);
    await until(5_000, async () => audited(subject, 'echo').length > 0);
    const [record] = audited(subject, 'echo');
    expect(record).toMatchObject({ decision: 'deny', deny_reason: 'request' });
    expect(await spanOf(record)).toMatchObject({
      name: 'tools/call echo',
      status: { code: 2 },
      attributes: {
        'mcp_authz.decision': 'allow',
        'mcp_authz.deny.reason': 'request',
        'mcp_authz.error.code': 'ERR_REQUEST_SESSION',
        'mcp_authz.reason': SESSION_ENDED_REASON,
        'error.type': '-32600',
      },
    });
    // The policy allowed it: the decisions metric says so; the request metric counts the refusal.
    expect(await counter(ALLOWED_ECHO)).toBe(allowedBefore + 1);
    expect(
      await counter('mcp_authz_requests_total{route="legacy_messages",status="404",reason="request"}'),
    ).toBe(notFoundBefore + 1);
  });

  it('its rate limit refused its batch: the decision span keeps allow and says ratelimit, as the audit record', async () => {
    const subject = 'batch-too-big';
    const auth = await h.bearer(['guest'], { sub: subject }); // guest tier: 50 tokens
    const [allowedBefore, limitedBefore] = [
      await counter(ALLOWED_ECHO),
      await counter('mcp_authz_requests_total{route="mcp",status="429",reason="ratelimit"}'),
    ];
    // No MCP-Protocol-Version header: a batch, as clients of older revisions send them.
    const batch = Array.from({ length: 51 }, (_, i) => ({
      jsonrpc: '2.0',
      id: i + 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x' } },
    }));
    const res = await postJsonRpc(h.mcpUrl, auth, batch);
    expect(res.status).toBe(429);
    await res.arrayBuffer();
    await until(5_000, async () => audited(subject, 'echo').length === 51);
    const [record] = audited(subject, 'echo');
    expect(record).toMatchObject({ decision: 'deny', deny_reason: 'ratelimit' });
    expect(await spanOf(record)).toMatchObject({
      name: 'tools/call echo',
      status: { code: 2 },
      attributes: {
        'mcp_authz.decision': 'allow',
        'mcp_authz.deny.reason': 'ratelimit',
        'mcp_authz.error.code': 'ERR_RATELIMIT_BATCH',
        'mcp_authz.reason': record?.reasons.at(-1),
        'error.type': '-32029',
      },
    });
    expect(await counter(ALLOWED_ECHO)).toBe(allowedBefore + 51);
    expect(await counter('mcp_authz_requests_total{route="mcp",status="429",reason="ratelimit"}')).toBe(
      limitedBefore + 1,
    );
  });

  it('its client left while it waited for an upstream connection: the decision span keeps allow and says request', async () => {
    const subject = 'gone-waiting';
    const token = await one.token({ roles: ['user'], sub: subject });
    const headers = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': await openSession(one.mcpUrl, token),
    };
    const call = (id: string, name: string, args: Record<string, unknown>) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: args },
    });
    // A slow call holds the one upstream connection until its client leaves.
    const holder = new AbortController();
    const holding = postJsonRpc(one.mcpUrl, headers, call('hold', 'slow', { ms: 20_000 }), holder.signal);
    holding.catch(() => undefined);
    await until(5_000, async () => one.upstream.calls().some((c) => c.id === 'hold'));
    // The call behind it is handed to the upstream client (decided, charged, its forward span started) and
    // waits there for the connection; its client leaves then.
    const request = Upstream.prototype.request;
    const waiting = new Promise<void>((resolve) => {
      const spy = vi.spyOn(Upstream.prototype, 'request').mockImplementation(function (
        this: Upstream,
        r: UpstreamRequest,
      ) {
        const sent = request.call(this, r);
        if (r.body?.includes('"waits"')) {
          spy.mockRestore();
          resolve();
        }
        return sent;
      });
    });
    const unanswered = await noReplySamples(one);
    const leaver = new AbortController();
    const left = postJsonRpc(one.mcpUrl, headers, call('gone', 'echo', { text: 'waits' }), leaver.signal);
    left.catch(() => undefined);
    await waiting;
    leaver.abort();
    await until(5_000, async () => audited(subject, 'echo', one).length > 0);
    // It never left the sidecar: no upstream duration sample (the held call, still at the upstream, has none
    // without a reply either).
    expect(await noReplySamples(one)).toBe(unanswered);
    holder.abort();
    const [record] = audited(subject, 'echo', one);
    expect(record).toMatchObject({ decision: 'deny', deny_reason: 'request', reasons: [CLIENT_GONE_REASON] });
    expect(await spanOf(record)).toMatchObject({
      name: 'tools/call echo',
      status: { code: 2 },
      attributes: {
        'mcp_authz.decision': 'allow',
        'mcp_authz.deny.reason': 'request',
        'mcp_authz.error.code': 'ERR_CLIENT_CLOSED',
        'mcp_authz.reason': CLIENT_GONE_REASON,
        'error.type': '-32600',
      },
    });
    expect(one.upstream.calls().some((c) => c.id === 'gone')).toBe(false);
    // Its upstream call's CLIENT span (beside the decision span, under the request's) says it was not sent.
    const decision = await spanOf(record);
    const upstreamSpan = () =>
      receiver.spans().find((s) => s.kind === 3 && s.parentSpanId === decision?.parentSpanId);
    await receiver.waitFor(() => upstreamSpan() !== undefined, 10_000);
    expect(upstreamSpan()).toMatchObject({
      name: 'POST',
      status: {
        code: 2,
        message: 'not sent: the client went away while it waited for an upstream connection',
      },
      attributes: { 'error.type': 'client_closed' },
    });
    expect(upstreamSpan()?.attributes).not.toHaveProperty('http.response.status_code');
  });

  it('a call forwarded keeps a decision span without a refusal, ended before the upstream answered', async () => {
    const subject = 'forwarded';
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['user'], { sub: subject }));
    clients.push(c);
    await c.callTool({ name: 'slow', arguments: { ms: 200 } });
    await until(5_000, async () => audited(subject, 'slow').length === 1);
    const [record] = audited(subject, 'slow');
    const span = await spanOf(record);
    expect(span?.attributes).toMatchObject({ 'mcp_authz.decision': 'allow' });
    expect(span?.attributes).not.toHaveProperty('mcp_authz.deny.reason');
    expect(span?.status.code).not.toBe(2);
    // Its end is the decision's, not the request's: the slow call took 200 ms after it.
    const serverSpan = () => receiver.spans().find((s) => s.spanId === span?.parentSpanId);
    await receiver.waitFor(() => serverSpan() !== undefined, 10_000);
    const server = serverSpan();
    const gapMs = Number(BigInt(server?.endTimeUnixNano ?? '0') - BigInt(span?.endTimeUnixNano ?? '0')) / 1e6;
    expect(gapMs).toBeGreaterThan(150);
  });
});
