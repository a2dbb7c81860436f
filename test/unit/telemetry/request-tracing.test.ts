/**
 * Request tracing (src/telemetry/request-tracing.ts): a server span names an unknown HTTP method `_OTHER`
 * as the HTTP conventions ask; decision spans are named by bounded values, as the
 * metric labels are, with the caller's names in attributes, and carry a digest of the session id, not the
 * id; and the `error.type` of
 * `mcp.server.operation.duration`, the JSON-RPC code each decided request was answered with.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestError } from '../../../src/errors/errors.js';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision } from '../../../src/pipeline/context.js';
import type { RequestFacts } from '../../../src/policy/input.js';
import { errorType } from '../../../src/telemetry/decision-span.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { SidecarMetrics } from '../../../src/telemetry/metrics.js';
import { createTelemetry } from '../../../src/telemetry/otel.js';
import { RequestTracing } from '../../../src/telemetry/request-tracing.js';
import { decided, stopTracing, tracingFixture } from '../../helpers/request-tracing.js';

afterEach(stopTracing);

describe('server spans', () => {
  it('name an HTTP method the conventions do not know _OTHER, with the method as sent beside it', async () => {
    const spanOf = async (method: string) => {
      const { exporter, tel, tracing, ctx } = tracingFixture({ req: { method } });
      tracing.start(ctx, '/mcp');
      tracing.end(ctx, 405, undefined);
      await tel.flush();
      const [span] = exporter.getFinishedSpans();
      return { name: span?.name, attributes: span?.attributes };
    };
    expect(await spanOf('PROPFIND')).toMatchObject({
      name: 'HTTP /mcp',
      attributes: { 'http.request.method': '_OTHER', 'http.request.method_original': 'PROPFIND' },
    });
    const post = await spanOf('POST');
    expect(post).toMatchObject({ name: 'POST /mcp', attributes: { 'http.request.method': 'POST' } });
    expect(post.attributes).not.toHaveProperty('http.request.method_original');
    // Every method RFC 9110 defines (and PATCH) is known, TRACE and CONNECT included: the conventions' default list.
    expect(await spanOf('TRACE')).toMatchObject({
      name: 'TRACE /mcp',
      attributes: { 'http.request.method': 'TRACE' },
    });
  });
});

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
/** A caller's traceparent whose sampled flag is off: under the parentbased sampler, nothing is recorded. */
const UNSAMPLED = `00-${CALLER_TRACE}-${CALLER_SPAN}-00`;

describe("a caller's trace context", () => {
  it('is the parent by default: the caller picks the trace id and, unsampled, silences the spans', async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture({ req: { headers: { traceparent: UNSAMPLED } } });
    tracing.start(ctx, '/mcp');
    const d = decided('tools/call', { name: 'echo', arguments: {} });
    tracing.decision(ctx, d, {});
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(d.traceIds).toMatchObject({ traceId: CALLER_TRACE, sampled: false });
  });

  it('with traceContext link, is a span link: the request starts its own trace, sampled by the sidecar', async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture({
      req: { headers: { traceparent: UNSAMPLED } },
      options: { traceContext: 'link' },
    });
    tracing.start(ctx, '/mcp');
    const d = decided('tools/call', { name: 'echo', arguments: {} });
    const metaTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    tracing.decision(ctx, d, { _meta: { traceparent: `00-${metaTrace}-00f067aa0ba902b7-01` } });
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === 'POST /mcp');
    const decision = spans.find((s) => s.name === 'tools/call other');
    expect(server?.spanContext().traceId).not.toBe(CALLER_TRACE);
    expect(server?.parentSpanContext).toBeUndefined();
    expect(server?.links.map((l) => l.context)).toMatchObject([
      { traceId: CALLER_TRACE, spanId: CALLER_SPAN },
    ]);
    // The message's _meta context is a link too; the decision span stays in the sidecar's trace.
    expect(decision?.spanContext().traceId).toBe(server?.spanContext().traceId);
    expect(decision?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(decision?.links.map((l) => l.context.traceId)).toEqual([metaTrace]);
    expect(d.traceIds).toEqual({
      traceId: server?.spanContext().traceId,
      spanId: decision?.spanContext().spanId,
      sampled: true,
    });
  });

  it('with traceContext link and no traces exported, gives the audit record no trace id of the caller', async () => {
    const tel = createTelemetry({ env: {}, serviceVersion: '0', logger: silentLogger() });
    const tracing = new RequestTracing(tel, new SidecarMetrics(tel), {
      subject: 'none',
      subjectKey: Buffer.alloc(32),
      stageMetrics: false,
      traceContext: 'link',
    });
    const { ctx } = tracingFixture({ req: { headers: { traceparent: UNSAMPLED } } });
    tracing.start(ctx, '/mcp');
    const d = decided('ping', {});
    tracing.decision(ctx, d, { _meta: { traceparent: UNSAMPLED } });
    tracing.end(ctx, 200, undefined);
    expect(ctx.trace).toBeUndefined();
    expect(d.traceIds).toBeUndefined();
    await tel.stop();
  });
});

describe('decision spans', () => {
  it('are named by the metrics’ labels: a tool outside the catalog is other, a prompt name left out', async () => {
    const { exporter, tel, metrics, tracing, ctx } = tracingFixture();
    metrics.setToolNames(['read_customer']);
    tracing.start(ctx, '/mcp');
    const invented = 'drop table <b>customers</b>';
    const calls = [
      decided('tools/call', { name: 'read_customer', arguments: {} }),
      decided('tools/call', { name: invented, arguments: {} }, false),
      decided('prompts/get', { name: invented }),
      decided('x/anything-at-all', {}),
      decided('resources/read', { uri: 'file:///etc/passwd' }),
    ];
    for (const d of calls) tracing.decision(ctx, d, {});
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    const spans = exporter.getFinishedSpans().filter((s) => s.name !== 'POST /mcp');
    expect(spans.map((s) => s.name)).toEqual([
      'tools/call read_customer',
      'tools/call other',
      'prompts/get',
      'other',
      'resources/read',
    ]);
    // What the caller sent stays in the attributes the conventions ask for.
    expect(spans.map((s) => s.attributes['mcp.method.name'])).toEqual(calls.map((d) => d.action.method));
    expect(spans[1]?.attributes['gen_ai.tool.name']).toBe(invented);
    expect(spans[2]?.attributes['gen_ai.prompt.name']).toBe(invented);
  });

  it('carry a digest of the session id, the same for every span of the session, never the id', async () => {
    const session = 'a4f1c7e2-9b3d-4e8a-b6c5-d2e1f0a9b8c7';
    const facts = { sessionId: session } as RequestFacts;
    const { exporter, tel, tracing, ctx } = tracingFixture({ ctx: { facts } });
    tracing.start(ctx, '/mcp');
    tracing.decision(ctx, decided('ping', {}), {});
    tracing.decision(ctx, decided('tools/list', {}), {});
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    const spans = exporter.getFinishedSpans();
    // `printf %s "$id" | sha256sum | cut -c1-16` finds the spans of a session an audit record names.
    const digest = `sha256:${createHash('sha256').update(session).digest('hex').slice(0, 16)}`;
    const decisions = spans.filter((s) => s.name !== 'POST /mcp');
    expect(decisions.map((s) => s.attributes['mcp.session.id'])).toEqual([digest, digest]);
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes]))).not.toContain(session);
  });
});

describe('decision spans of calls refused after their decision', () => {
  it('are ended when the request ends, with the time of the decision, and carry the refusal', async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture();
    tracing.start(ctx, '/mcp');
    const d = decided('tools/call', { name: 'echo', arguments: {} });
    tracing.decision(ctx, d, {});
    const decidedBy = Date.now();
    // Not ended yet: something after the decision may still refuse the call.
    await tel.flush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    d.lateRefusal = {
      code: 'ERR_REQUEST_SESSION',
      reason: 'the session ended before the request was forwarded',
    };
    tracing.end(ctx, 404, new RequestError('ERR_REQUEST_SESSION', 'Not Found: unknown session'));
    await tel.flush();
    const span = exporter.getFinishedSpans().find((s) => s.name.startsWith('tools/call'));
    expect(span?.attributes).toMatchObject({
      'mcp_authz.decision': 'allow',
      'mcp_authz.deny.reason': 'request',
      'mcp_authz.error.code': 'ERR_REQUEST_SESSION',
      'mcp_authz.reason': 'the session ended before the request was forwarded',
      'error.type': '-32600',
    });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    const endedMs = (span?.endTime[0] ?? 0) * 1e3 + (span?.endTime[1] ?? 0) / 1e6;
    expect(endedMs).toBeLessThanOrEqual(decidedBy + 1);
  });

  it('are ended as their call is forwarded, unmarked', async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture();
    tracing.start(ctx, '/mcp');
    tracing.decision(ctx, decided('tools/call', { name: 'echo', arguments: {} }), {});
    const answered = tracing.forward(
      ctx,
      {},
      { method: 'POST', origin: new URL('http://127.0.0.1:1'), path: '/mcp' },
    );
    await tel.flush();
    const [span] = exporter.getFinishedSpans().filter((s) => s.name.startsWith('tools/call'));
    expect(span?.attributes['mcp_authz.decision']).toBe('allow');
    expect(span?.attributes).not.toHaveProperty('mcp_authz.deny.reason');
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    answered(200);
    tracing.end(ctx, 200, undefined);
  });
});

describe('operation error.type', () => {
  const decided = (allow: boolean, refusal?: MessageDecision['lateRefusal']): MessageDecision => ({
    index: 0,
    action: classify('tools/call', 1, { name: 'echo', arguments: {} }),
    decision: { allow, reasons: [], obligations: {}, sensitivity: undefined, revision: 'r', evalNs: 1 },
    decisionId: 'd',
    ...(refusal ? { lateRefusal: refusal } : {}),
  });

  it('is the code each request was answered with', () => {
    expect(errorType(decided(true))).toBeNull();
    expect(errorType(decided(false))).toBe('-32003');
    expect(errorType(decided(true, { code: 'ERR_RATELIMIT_EXCEEDED', reason: 'r' }))).toBe('-32029');
    expect(errorType(decided(true, { code: 'ERR_RATELIMIT_BACKEND', reason: 'r' }))).toBe('-32004');
    // Refused after its decision by what the policy does not see (its legacy session ended): that answer's.
    expect(errorType(decided(true, { code: 'ERR_REQUEST_SESSION', reason: 'r' }))).toBe('-32600');
    // Allowed, but its batch held a denied request: answered "not forwarded" with the denial's code.
    expect(errorType(decided(true), true)).toBe('-32003');
    // Denied but let through by policy.dryRun: forwarded and answered by the upstream.
    expect(errorType({ ...decided(false), dryRun: true })).toBeNull();
  });

  it('is the code of an error that answered the whole body instead', () => {
    // An anonymous caller the policy denied is asked to sign in: every request got -32001, not -32003.
    expect(errorType(decided(false), true, -32001)).toBe('-32001');
    expect(errorType(decided(true), true, -32001)).toBe('-32001');
    // Allowed and forwarded, but the upstream failed: the upstream error's code.
    expect(errorType(decided(true), false, -32005)).toBe('-32005');
  });
});
