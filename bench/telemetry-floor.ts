/**
 * Child-process entry of the proxy benchmark: the floor of telemetry's cost, what the OpenTelemetry JS SDK
 * alone takes for what the OTLP sidecar exports per request, none of the sidecar's own code around it.
 *
 * The parent sends the last trace and log export bodies the receiver got from the OTLP sidecar
 * (`otlp-sink.ts`, protobuf). This process reads one request's spans out of them (one trace: the server
 * span and its children, with their names, kinds, attributes and parents) and one audit log record, and
 * replays them request after request through the same SDK set-up the sidecar makes (`createTelemetry` with
 * the same `OTEL_*` variables: batch processors, OTLP/HTTP protobuf exporters to the same receiver): every
 * span started with its attributes and ended in the order the sidecar ended them, then the log record
 * emitted in the span's context. That is the least any code could spend to export the same telemetry
 * through the SDK (attributes set later, as the sidecar sets some, or the trace context read from headers
 * and passed upstream, only add). Metric recording is left out: it is there with telemetry off too.
 *
 * Measured as CPU time of this process (`process.cpuUsage`, so the batch exports and their HTTP posts are
 * in it) per replayed request, 32 requests per event-loop turn as at c=32, each block ended by a flush;
 * each block follows an empty one (the same loop replaying nothing), whose CPU is subtracted.
 *
 * IPC: `setup` (the sample) → `set-up` once warm; then `block` → `block` (CPU µs per request) as often as
 * the parent asks, after each measured round of the telemetry-off sidecar at c=32 (`telemetry-floor-run.ts`);
 * `error` when something fails; `cpu` → its CPU time (µs); `stop` ends it.
 *
 * @module
 */
import { type Attributes, type Context, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';
import type { AnyValue, SeverityNumber } from '@opentelemetry/api-logs';
import { silentLogger } from '../src/telemetry/logger.js';
import { createTelemetry } from '../src/telemetry/otel.js';
import { decodeOtlpProtobuf } from '../test/helpers/otlp-protobuf.js';
import { decodeLogs, decodeTraces } from '../test/helpers/otlp-receiver.js';
import { type PlannedSpan, planOf } from './telemetry-plan.js';

/** Replays per event-loop turn, as requests arrive at c=32. */
const CHUNK = 32;

export interface FloorSetup {
  readonly type: 'setup';
  /** The receiver's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly endpoint: string;
  readonly env: Record<string, string>;
  /** base64 protobuf export bodies (`otlp-sink.ts`'s sample). */
  readonly traces: string;
  readonly logs: string;
  /** Replayed requests per block. */
  readonly requests: number;
}

/** The answer to `setup`, once the SDK is set up and warm. */
export interface FloorReady {
  readonly type: 'set-up';
  readonly node: string;
  readonly spans: number;
  readonly spanNames: readonly string[];
  readonly logs: number;
}

/** The answer to `block`: CPU µs per replayed request in one block (an empty loop's subtracted). */
export interface FloorBlock {
  readonly type: 'block';
  readonly us: number;
}

interface Replayer {
  readonly ready: FloorReady;
  /** One block of replayed requests, ended by a flush: CPU µs per request minus an empty loop's. */
  block(): Promise<number>;
}

async function setUp(run: FloorSetup): Promise<Replayer> {
  const spans = decodeTraces(decodeOtlpProtobuf('/v1/traces', Buffer.from(run.traces, 'base64')));
  const logs = decodeLogs(decodeOtlpProtobuf('/v1/logs', Buffer.from(run.logs, 'base64')));
  const plan = planOf(spans, logs);
  const tel = createTelemetry({
    env: { ...run.env, OTEL_EXPORTER_OTLP_ENDPOINT: run.endpoint },
    serviceVersion: 'bench',
    logger: silentLogger(),
  });
  await tel.start();
  const { tracer } = tel;
  const otelLog = tel.logs;
  const open: Span[] = new Array(plan.spans.length);
  const contexts: Context[] = new Array(plan.spans.length);
  const log = plan.log;
  const parents = new Set(plan.spans.map((x) => x.parent).filter((p) => p >= 0));
  const replay = (): void => {
    for (let i = 0; i < plan.spans.length; i++) {
      const s = plan.spans[i] as PlannedSpan;
      const span = tracer.startSpan(
        s.name,
        { kind: s.kind, attributes: s.attributes },
        s.parent < 0 ? ROOT_CONTEXT : (contexts[s.parent] as Context),
      );
      open[i] = span;
      // Only a parent's context is made, as the sidecar makes one only for the spans it starts children in.
      if (parents.has(i)) contexts[i] = trace.setSpan(ROOT_CONTEXT, span);
    }
    for (const i of plan.endOrder) (open[i] as Span).end();
    if (log) {
      otelLog.emit({
        ...(log.eventName ? { eventName: log.eventName } : {}),
        timestamp: new Date(),
        severityNumber: log.severityNumber as SeverityNumber,
        severityText: log.severityText,
        body: log.body as AnyValue,
        attributes: log.attributes as Attributes,
        context: trace.setSpanContext(ROOT_CONTEXT, (open[plan.logSpan] as Span).spanContext()),
      });
    }
  };
  const loop = async (work: boolean): Promise<number> => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < run.requests; i += CHUNK) {
      if (work) for (let j = 0; j < CHUNK; j++) replay();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await tel.flush();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / run.requests;
  };
  await loop(true); // warm-up: JIT, connections to the receiver
  return {
    ready: {
      type: 'set-up',
      node: process.version,
      spans: plan.spans.length,
      spanNames: plan.spans.map((s) => s.name),
      logs: log ? 1 : 0,
    },
    block: async () => {
      const idle = await loop(false);
      return (await loop(true)) - idle;
    },
  };
}

let replayer: Promise<Replayer> | undefined;
const fail = (err: unknown) =>
  process.send?.({ type: 'error', message: String((err as Error)?.message ?? err) });

process.on('message', (m: FloorSetup | { type: 'block' | 'stop' | 'cpu' }) => {
  if (m.type === 'stop') process.exit(0);
  if (m.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', us: u.user + u.system });
  } else if (m.type === 'setup') {
    replayer = setUp(m);
    replayer.then((r) => process.send?.(r.ready), fail);
  } else if (m.type === 'block') {
    if (!replayer) fail(new Error('block before setup'));
    else
      replayer
        .then((r) => r.block())
        .then((us) => process.send?.({ type: 'block', us } satisfies FloorBlock), fail);
  }
});
process.send?.({ type: 'ready' });
process.on('disconnect', () => process.exit(0));
