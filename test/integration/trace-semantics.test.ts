/**
 * What the sidecar's spans say when things go wrong, checked through a real OTLP receiver: a policy
 * denial's decision span has status ERROR with `error.type`; the upstream call's CLIENT span does too when
 * the upstream answers 500 (HTTP client conventions: 4xx and 5xx are errors); a request of a method the
 * HTTP conventions do not know has a server span named `HTTP /mcp`, its method `_OTHER`; and a client's
 * `tracestate` whose `traceparent` was refused never reaches the upstream beside the sidecar's own trace
 * context. With `telemetry.traceContext: link` a caller's `traceparent`, even an unsampled one, neither
 * silences the sidecar's spans nor names the trace of its audit record: it is a span link.
 *
 * @module
 */
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let receiver: OtlpReceiver;
let h: Harness;
const upstreamSaw: IncomingHttpHeaders[] = [];
const upstream = createServer((req, res) => {
  upstreamSaw.push(req.headers);
  req.resume();
  res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
});

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  h = await startHarness({
    upstream: { url } as unknown as ExampleServer,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
  });
});

afterAll(async () => {
  await h?.stop();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  await receiver?.stop();
});

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

describe('spans of failures', () => {
  it('marks a policy denial ERROR on its decision span', async () => {
    const traceId = '1'.repeat(32);
    await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['guest'])), traceparent: `00-${traceId}-${'2'.repeat(16)}-01` },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_customer', arguments: {} } },
    );
    const decision = () =>
      receiver.spans().find((s) => s.traceId === traceId && s.name === 'tools/call delete_customer');
    await receiver.waitFor(() => decision() !== undefined, 10_000);
    expect(decision()).toMatchObject({
      status: { code: 2 },
      attributes: { 'mcp_authz.decision': 'deny', 'error.type': '-32003' },
    });
  });

  it('marks the upstream CLIENT span ERROR when the upstream answers 500', async () => {
    const traceId = '3'.repeat(32);
    const res = await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['user'])), traceparent: `00-${traceId}-${'4'.repeat(16)}-01` },
      ping,
    );
    expect(res.status).toBe(500);
    const client = () => receiver.spans().find((s) => s.traceId === traceId && s.kind === 3);
    await receiver.waitFor(() => client() !== undefined, 10_000);
    expect(client()).toMatchObject({
      name: 'POST',
      status: { code: 2 },
      attributes: { 'http.response.status_code': 500, 'error.type': '500' },
    });
  });

  it('names a request of a method HTTP does not know `HTTP /mcp`, with http.request.method _OTHER', async () => {
    const traceId = '5'.repeat(32);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(h.mcpUrl, {
        method: 'PROPFIND',
        headers: { traceparent: `00-${traceId}-${'6'.repeat(16)}-01` },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(405);
    const server = () => receiver.spans().find((s) => s.traceId === traceId && s.kind === 2);
    await receiver.waitFor(() => server() !== undefined, 10_000);
    expect(server()).toMatchObject({
      name: 'HTTP /mcp',
      attributes: {
        'http.request.method': '_OTHER',
        'http.request.method_original': 'PROPFIND',
        'http.response.status_code': 405,
      },
    });
  });

  it("passes no client tracestate on when the sidecar replaced the client's refused traceparent", async () => {
    upstreamSaw.length = 0;
    await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['user'])), traceparent: '00-zzzz-1111-01', tracestate: 'evil=1' },
      ping,
    );
    const sent = upstreamSaw.at(-1);
    expect(sent?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(sent?.tracestate).toBeUndefined();
  });
});

describe('telemetry.traceContext: link', () => {
  it("starts the sidecar's own trace, sampled, linked to an unsampled caller's, in spans, audit and upstream", async () => {
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const linked = await startHarness({
      upstream: { url } as unknown as ExampleServer,
      config: { telemetry: { traceContext: 'link' } },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    try {
      const caller = '5d2a7c1e9f3b4a6d8c0e2f4a6b8d0c1e';
      upstreamSaw.length = 0;
      const res = await postJsonRpc(
        linked.mcpUrl,
        { ...(await linked.bearer(['user'])), traceparent: `00-${caller}-1111111111111111-00` },
        { jsonrpc: '2.0', id: 7, method: 'ping' },
      );
      await res.arrayBuffer();
      const sent = String(upstreamSaw.at(-1)?.traceparent ?? '');
      const own = sent.split('-')[1];
      expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(own).not.toBe(caller);
      await receiver.waitFor(
        () => receiver.spans().some((s) => s.traceId === own && s.name === 'ping'),
        10_000,
      );
      const server = receiver.spans().find((s) => s.traceId === own && s.name === 'POST /mcp');
      expect(server?.links.map((l) => l.traceId)).toEqual([caller]);
      expect(receiver.spans().some((s) => s.traceId === caller)).toBe(false);
      await until(5_000, async () => linked.logs.some((l) => l.includes('"msg":"audit"')));
      const record = JSON.parse(linked.logs.find((l) => l.includes('"msg":"audit"')) as string);
      expect(record).toMatchObject({ trace_id: own, trace_sampled: true });
    } finally {
      await linked.stop();
    }
  });
});
