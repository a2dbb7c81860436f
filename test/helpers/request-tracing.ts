/**
 * Test helper: a `RequestTracing` whose spans go to an in-memory exporter, with a request context for it
 * (a plain object as its request: no server), and a decided JSON-RPC request to trace. Call
 * `stopTracing()` after each test.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { classify } from '../../src/mcp/action.js';
import type { MessageDecision, RequestContext } from '../../src/pipeline/context.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { SidecarMetrics } from '../../src/telemetry/metrics.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/otel.js';
import { RequestTracing, type RequestTracingOptions } from '../../src/telemetry/request-tracing.js';

const started: Telemetry[] = [];

export async function stopTracing(): Promise<void> {
  await Promise.all(started.splice(0).map((t) => t.stop()));
}

export interface TracingFixture {
  readonly exporter: InMemorySpanExporter;
  readonly tel: Telemetry;
  readonly metrics: SidecarMetrics;
  readonly tracing: RequestTracing;
  readonly ctx: RequestContext;
}

/**
 * `req` overrides the request's fields (`method`, `url`, `headers`), `ctx` the context's (`facts`), `options`
 * the tracing options (`traceContext`).
 */
export function tracingFixture(
  over: {
    req?: Partial<IncomingMessage>;
    ctx?: Partial<RequestContext>;
    options?: Partial<RequestTracingOptions>;
  } = {},
): TracingFixture {
  const exporter = new InMemorySpanExporter();
  const tel = createTelemetry({
    env: {},
    serviceVersion: '0',
    logger: silentLogger(),
    shutdownTimeoutMs: 200,
    spanExporter: exporter,
  });
  started.push(tel);
  const metrics = new SidecarMetrics(tel);
  const tracing = new RequestTracing(tel, metrics, {
    subject: 'none',
    subjectKey: Buffer.alloc(32),
    stageMetrics: false,
    ...over.options,
  });
  const ctx = {
    req: {
      method: 'POST',
      url: '/mcp',
      headers: {},
      socket: {},
      httpVersion: '1.1',
      ...over.req,
    } as unknown as IncomingMessage,
    clientIp: '10.0.0.1',
    startedAt: process.hrtime.bigint(),
    decisions: [],
    requestId: 'r-1',
    transport: 'streamable-http',
    ...over.ctx,
  } as unknown as RequestContext;
  return { exporter, tel, metrics, tracing, ctx };
}

/** A decided JSON-RPC request: `method` with `params`, allowed unless `allow` is false. */
export function decided(method: string, params: unknown, allow = true): MessageDecision {
  return {
    index: 0,
    decisionId: 'd-1',
    action: classify(method, 1, params),
    decision: { allow, reasons: [], obligations: {}, sensitivity: undefined, revision: 'r', evalNs: 1 },
  };
}
