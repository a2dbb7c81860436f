/**
 * Observability end to end: a `tools/call` through the sidecar produces a trace (server span, stage
 * spans, a decision span with MCP and authorization attributes, an upstream span whose context reaches the
 * upstream), an audit record over OTLP with the same trace id, Prometheus metrics that parse and move, and
 * no token, key or masked argument value anywhere in what is exported or logged.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/authn/api-keys.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type Harness, PEPPER, startHarness } from '../helpers/sidecar.js';

let receiver: OtlpReceiver;
let redis: RedisServer;
let h: Harness;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  redis = await startRedis();
  h = await startHarness({
    redisUrl: redis.url,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      POD_NAME: 'mcp-0',
      POD_NAMESPACE: 'tools',
    },
  });
});

afterAll(async () => {
  await h?.stop();
  await redis?.stop();
  await receiver?.stop();
});

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

describe('traces and audit over OTLP', () => {
  it('exports the spans of a tools/call with the caller’s trace id, and the audit record in the same trace', async () => {
    const c = await connectStreamable(h.mcpUrl, {
      ...(await h.bearer(['analyst'])),
      traceparent: PARENT,
      tracestate: 'vendor=client',
      baggage: 'user.id=admin',
    });
    h.upstream.resetCalls();
    await c.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
    const listed = await c.listTools();
    const session = (c.transport as StreamableHTTPClientTransport | undefined)?.sessionId;
    await c.close();
    const upstreamCall = h.upstream.calls().find((x) => x.name === 'read_customer');
    expect(upstreamCall?.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    // The sidecar's own trace context only: not the client's tracestate or baggage.
    expect(upstreamCall?.headers.tracestate).toBeUndefined();
    expect(upstreamCall?.headers.baggage).toBeUndefined();

    await receiver.waitFor(() => receiver.spans().some((s) => s.name === 'tools/call read_customer'), 10_000);
    await receiver.waitFor(
      () => receiver.spans().some((s) => s.name === 'mcp_authz.filter' && s.traceId === TRACE_ID),
      10_000,
    );
    const spans = receiver.spans().filter((s) => s.traceId === TRACE_ID);
    const names = spans.map((s) => s.name);
    expect(names).toContain('POST /mcp');
    for (const stage of ['authenticate', 'ratelimit', 'filter']) {
      expect(names).toContain(`mcp_authz.${stage}`);
    }
    // The cheap checks get no span of their own; the decision span stands for the decide stage.
    for (const cheap of ['origin', 'read-body', 'parse', 'decide']) {
      expect(names).not.toContain(`mcp_authz.${cheap}`);
    }
    const filter = spans.find((s) => s.name === 'mcp_authz.filter');
    expect(filter?.attributes['mcp_authz.items.kept']).toBe(listed.tools.length);
    expect(Number(filter?.attributes['mcp_authz.items.removed'])).toBeGreaterThan(0);
    const decision = spans.find((s) => s.name === 'tools/call read_customer');
    expect(decision?.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'read_customer',
      'mcp_authz.decision': 'allow',
      'mcp_authz.auth.method': 'jwt',
    });
    expect(String(decision?.attributes['mcp_authz.subject'])).toMatch(/^hmac-sha256:/);
    // The session id is a bearer-like handle: spans carry a digest of it (what the audit record's id hashes to).
    expect(session).toBeTruthy();
    const digest = createHash('sha256').update(String(session)).digest('hex').slice(0, 16);
    expect(decision?.attributes['mcp.session.id']).toBe(`sha256:${digest}`);
    expect(JSON.stringify(receiver.spans())).not.toContain(String(session));
    expect(decision?.resource['k8s.pod.name']).toBe('mcp-0');
    expect(decision?.resource['k8s.namespace.name']).toBe('tools');
    // The upstream was called with the context of our forward span (a child of the caller's trace).
    const injected = upstreamCall?.headers.traceparent?.split('-')[2];
    await receiver.waitFor(() => receiver.spans().some((s) => s.spanId === injected), 10_000);
    // An HTTP client span: named by the method, with the upstream's address and URL (no query).
    const upstreamUrl = new URL(h.upstream.mcpUrl);
    expect(receiver.spans().find((s) => s.spanId === injected)).toMatchObject({
      name: 'POST',
      kind: 3,
      traceId: TRACE_ID,
      attributes: {
        'http.request.method': 'POST',
        'server.address': upstreamUrl.hostname,
        'server.port': Number(upstreamUrl.port),
        'url.full': upstreamUrl.href,
        'http.response.status_code': 200,
        'mcp_authz.stage': 'forward',
      },
    });
    expect(spans.find((s) => s.name === 'POST /mcp')?.attributes['url.scheme']).toBe('http');

    await receiver.waitFor(
      () => receiver.logs().some((l) => JSON.stringify(l.body).includes('read_customer')),
      10_000,
    );
    const audit = receiver.logs().find((l) => String(l.body).includes('"read_customer"'));
    expect(audit?.traceId).toBe(TRACE_ID);
    expect(audit?.spanId).toBe(decision?.spanId);
  });
});

describe('a resource read by a signed URL', () => {
  it('keeps the signature out of the decision span, the audit record and the logs', async () => {
    const signature = 'c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw';
    const uri = `docs://handbook?version=3&sig=${signature}`;
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['analyst']));
    // The example server has no such version: an error reply, after the decision the test is about.
    const read = await c.readResource({ uri }).then(
      () => 'read',
      (err: Error) => err.message,
    );
    await c.close();
    expect(read).not.toMatch(/Forbidden/);
    const redacted = 'docs://handbook?version=3&sig=REDACTED';
    await receiver.waitFor(
      () => receiver.spans().some((s) => s.attributes['mcp.resource.uri'] === redacted),
      10_000,
    );
    await receiver.waitFor(() => receiver.logs().some((l) => String(l.body).includes(redacted)), 10_000);
    expect(JSON.stringify(receiver.spans())).not.toContain(signature);
    expect(JSON.stringify(receiver.logs())).not.toContain(signature);
    expect(h.logs.some((l) => l.includes('"log_type":"audit"') && l.includes(redacted))).toBe(true);
    expect(h.logs.join('\n')).not.toContain(signature);
  });
});

describe('semantic-convention metrics over OTLP', () => {
  it('exports http.server.request.duration and mcp.server.operation.duration, not in /metrics', async () => {
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['analyst']));
    await c.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
    await c
      .callTool({ name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-1' } })
      .catch(() => undefined);
    await c.close();
    const points = (name: string) =>
      receiver
        .metrics()
        .filter((m) => m.name === name)
        .flatMap((m) => m.dataPoints.map((p) => ({ unit: m.unit, type: m.type, attributes: p.attributes })));
    const has = (name: string, attributes: Record<string, unknown>) =>
      points(name).some((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
    await receiver.waitFor(
      () =>
        has('mcp.server.operation.duration', {
          'gen_ai.tool.name': 'delete_customer',
          'error.type': '-32003',
        }),
      10_000,
    );
    expect(points('http.server.request.duration')[0]).toMatchObject({ unit: 's', type: 'histogram' });
    expect(
      has('http.server.request.duration', {
        'http.request.method': 'POST',
        'http.route': '/mcp',
        'http.response.status_code': 200,
        'url.scheme': 'http',
      }),
    ).toBe(true);
    const allowed = points('mcp.server.operation.duration').find(
      (p) => p.attributes['gen_ai.tool.name'] === 'read_customer',
    );
    expect(allowed?.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'read_customer',
    });
    // /metrics keeps the sidecar's own families, which say the same.
    const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(text).not.toMatch(/http_server_request_duration|mcp_server_operation_duration/);
  });
});

describe('nothing secret is exported or logged', () => {
  it('keeps tokens, API keys and masked argument values out of logs and spans', async () => {
    const token = await h.token({ sub: 'sam', roles: ['user'] });
    const pepper = Buffer.from(PEPPER);
    const { key } = await createApiKey(h.sidecar.store, pepper, {
      subject: 'svc',
      roles: ['guest'],
      tenant: 'acme',
    });
    const SSN = '900-12-3456';
    const post = (auth: Record<string, string>, body: unknown) =>
      postJsonRpc(h.mcpUrl, auth, body).then((r) => r.text());
    const user = await connectStreamable(h.mcpUrl, { authorization: `Bearer ${token}` });
    await user.callTool({
      name: 'create_ticket',
      arguments: { tenant: 'acme', title: 't', body: 'b', customer_ssn: SSN },
    });
    await user
      .callTool({ name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-1' } })
      .catch(() => undefined);
    await user.close();
    const analyst = await connectStreamable(h.mcpUrl, await h.bearer(['analyst']));
    await analyst.callTool({
      name: 'query_customer_data',
      arguments: { tenant: 'acme', query: 'churn', limit: 5, ssn: SSN },
    });
    await analyst.close();
    const guest = await connectStreamable(h.mcpUrl, { 'x-api-key': key });
    // The guest's bucket holds 50 and refills 1/s: call until it refuses (a loaded machine refills it while a
    // fixed 52 calls run, and then none was refused), for the rate-limit count /metrics is checked for below.
    let limited = false;
    for (let i = 0; i < 500 && !limited; i++) {
      await guest.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((err: unknown) => {
        limited = String(err).includes('429');
      });
    }
    expect(limited).toBe(true);
    await guest.close();
    // Credentials a caller puts in what it names: a fragment token, a long password in user information, a
    // token in a tool name.
    const FRAGMENT = 'SEKRET-FRAGMENT-TOKEN';
    const PASSWORD = `PW${'x'.repeat(1_100)}END`;
    const IN_NAME = 'SEKRET-TOOL-TOKEN';
    const admin = await h.bearer(['admin']);
    const read = (uri: string) =>
      post(admin, { jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri } });
    await read(`https://app.example/cb#access_token=${FRAGMENT}&x=1`);
    await read(`https://alice:${PASSWORD}@files.example/report.pdf`);
    await post(admin, {
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/call',
      params: { name: `lookup?access_token=${IN_NAME}`, arguments: {} },
    });
    await post({ authorization: `Bearer ${token}x` }, { jsonrpc: '2.0', id: 1, method: 'ping' });
    await post({ authorization: `Bearer ${key.slice(0, -2)}` }, { jsonrpc: '2.0', id: 1, method: 'ping' });

    await receiver.waitFor(
      () => receiver.logs().some((l) => JSON.stringify(l.body).includes('query_customer_data')),
      10_000,
    );
    await receiver.waitFor(
      () => receiver.spans().some((s) => s.name === 'tools/call delete_customer'),
      10_000,
    );
    await receiver.waitFor(
      () => receiver.logs().some((l) => JSON.stringify(l.body).includes('lookup?access_token=REDACTED')),
      10_000,
    );
    const secrets = [token, key, key.split('_').slice(2).join('_'), SSN, PEPPER, FRAGMENT, 'PWxxxx', IN_NAME];
    const exported = JSON.stringify([receiver.spans(), receiver.logs()]);
    const logged = h.logs.join('\n');
    for (const s of secrets) {
      expect(exported.includes(s), `exported telemetry contains ${s.slice(0, 8)}…`).toBe(false);
      expect(logged.includes(s), `logs contain ${s.slice(0, 8)}…`).toBe(false);
    }
    // With full audit (confidential tool) the masked argument is recorded as a keyed hash.
    const query = h.logs.find((l) => l.includes('"query_customer_data"') && l.includes('"log_type":"audit"'));
    expect(query).toMatch(/"ssn":"hmac-sha256:[0-9a-f]{16}"/);
  });
});

describe('/metrics', () => {
  it('parses as Prometheus text and counts what happened', async () => {
    // Requests outside the MCP routes are counted under their own routes.
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/nothing-here']) {
      await (await fetch(`${h.sidecar.publicUrl}${path}`)).arrayBuffer();
    }
    const res = await fetch(`${h.sidecar.adminUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const families = parsePrometheusTextFormat(text) as unknown as {
      name: string;
      metrics: { labels?: Record<string, string>; value?: string }[];
    }[];
    const byName = new Map(families.map((f) => [f.name, f]));
    const sum = (name: string, labels: Record<string, string>) =>
      (byName.get(name)?.metrics ?? [])
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((acc, m) => acc + Number(m.value ?? 0), 0);
    expect(
      sum('mcp_authz_decisions_total', { result: 'allow', tool: 'read_customer' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sum('mcp_authz_decisions_total', { result: 'deny', tool: 'delete_customer' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sum('mcp_authz_authn_failures_total', {})).toBeGreaterThanOrEqual(2);
    expect(sum('mcp_authz_ratelimit_rejections_total', {})).toBeGreaterThanOrEqual(1);
    expect(sum('mcp_authz_requests_total', { route: 'mcp', status: '200' })).toBeGreaterThan(10);
    expect(sum('mcp_authz_requests_total', { route: 'metadata', status: '200' })).toBe(1);
    expect(sum('mcp_authz_requests_total', { route: 'not_found', status: '404' })).toBe(1);
    expect(sum('mcp_authz_policy_reloads_total', { result: 'success' })).toBe(1);
    expect(text).toMatch(/mcp_authz_policy_revision_info\{[^}]*revision="[0-9a-f]{12}"[^}]*\} 1/);
    expect(text).not.toMatch(/subject="/);
  });
});
