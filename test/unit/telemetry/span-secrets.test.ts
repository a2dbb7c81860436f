/**
 * Secrets in the caller's request never reach a span (src/telemetry/request-tracing.ts): the query of the
 * request URL and of the upstream URL are cut, and a signed URL in a prompt name or a policy's reason is
 * redacted, as in the audit record.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision, RequestContext } from '../../../src/pipeline/context.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { SidecarMetrics } from '../../../src/telemetry/metrics.js';
import { createTelemetry, type Telemetry } from '../../../src/telemetry/otel.js';
import { RequestTracing } from '../../../src/telemetry/request-tracing.js';

const SECRET = 'S3CR3T-SIGNATURE-77';
const started: Telemetry[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

function setup() {
  const exporter = new InMemorySpanExporter();
  const tel = createTelemetry({
    env: {},
    serviceVersion: '0',
    logger: silentLogger(),
    shutdownTimeoutMs: 200,
    spanExporter: exporter,
  });
  started.push(tel);
  const tracing = new RequestTracing(tel, new SidecarMetrics(tel.meter), {
    subject: 'none',
    subjectKey: Buffer.alloc(32),
    stageMetrics: false,
  });
  const ctx = {
    req: {
      method: 'POST',
      url: `/mcp?access_token=${SECRET}`,
      headers: {},
      socket: {},
      httpVersion: '1.1',
    } as unknown as IncomingMessage,
    clientIp: '10.0.0.1',
    startedAt: process.hrtime.bigint(),
    decisions: [],
    requestId: 'r-1',
    transport: 'streamable-http',
  } as unknown as RequestContext;
  return { exporter, tel, tracing, ctx };
}

describe('span attributes', () => {
  it('carry no secret of the request URL, the upstream URL, a prompt name or a reason', async () => {
    const { exporter, tel, tracing, ctx } = setup();
    tracing.start(ctx, '/mcp');
    const uri = `https://b.example/r.pdf?X-Amz-Signature=${SECRET}&v=1`;
    const d: MessageDecision = {
      index: 0,
      decisionId: 'd-1',
      action: classify('prompts/get', 1, { name: `summarise ${uri}` }),
      decision: {
        allow: false,
        reasons: [`may not read ${uri}`],
        obligations: {},
        sensitivity: undefined,
        revision: 'r',
        evalNs: 1,
      },
    };
    tracing.decision(ctx, d, {});
    const done = tracing.forward(
      ctx,
      {},
      { method: 'POST', origin: new URL('http://upstream:8080'), path: `/mcp?key=${SECRET}` },
    );
    done(200);
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(
      ['POST', 'POST /mcp', `prompts/get summarise ${uri.replace(SECRET, 'REDACTED')}`].sort(),
    );
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes]))).not.toContain(SECRET);
    const decision = spans.find((s) => s.name.startsWith('prompts/get'));
    expect(decision?.attributes['mcp_authz.reason']).toBe(`may not read ${uri.replace(SECRET, 'REDACTED')}`);
    expect(spans.find((s) => s.name === 'POST')?.attributes['url.full']).toBe('http://upstream:8080/mcp');
    expect(spans.find((s) => s.name === 'POST /mcp')?.attributes['url.path']).toBe('/mcp');
  });
});
