/**
 * What `telemetry-floor.ts` replays: one request's spans (a whole trace: the server span and its
 * children) and one audit log record, read out of the export bodies the benchmark's receiver got.
 *
 * @module
 */
import type { Attributes, SpanKind } from '@opentelemetry/api';
import type { ReceivedLog, ReceivedSpan } from '../test/helpers/otlp-receiver.js';

export interface PlannedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  /** Index of the parent in the plan; -1 for the server span. */
  readonly parent: number;
}

export interface Plan {
  readonly spans: readonly PlannedSpan[];
  /** Span indexes in the order the sidecar ended them. */
  readonly endOrder: readonly number[];
  readonly log: ReceivedLog | undefined;
  /** The plan index of the span the log record names (the server span when it names none of them). */
  readonly logSpan: number;
}

/** One request's trace out of an export body: the trace whose spans all came, with the most of them. */
export function planOf(spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[]): Plan {
  const byTrace = new Map<string, ReceivedSpan[]>();
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  let best: ReceivedSpan[] = [];
  for (const group of byTrace.values()) {
    const ids = new Set(group.map((s) => s.spanId));
    const roots = group.filter((s) => !ids.has(s.parentSpanId));
    const whole = roots.length === 1 && roots[0]?.kind === 2; // SPAN_KIND_SERVER
    if (whole && group.length > best.length) best = group;
  }
  if (best.length === 0)
    throw new Error('the trace sample holds no whole request (a server span and its children)');
  const ordered = [...best].sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
  const index = new Map(ordered.map((s, i) => [s.spanId, i]));
  const plan = ordered.map((s) => ({
    name: s.name,
    // OTLP numbers kinds from 1 (INTERNAL); the API from 0.
    kind: Math.max(0, s.kind - 1) as SpanKind,
    attributes: s.attributes as Attributes,
    parent: index.get(s.parentSpanId) ?? -1,
  }));
  const endOrder = ordered
    .map((s, i) => ({ i, end: BigInt(s.endTimeUnixNano) }))
    .sort((a, b) => (a.end < b.end ? -1 : a.end > b.end ? 1 : 0))
    .map((e) => e.i);
  const log = logs.find((l) => l.traceId === ordered[0]?.traceId) ?? logs[0];
  return { spans: plan, endOrder, log, logSpan: index.get(log?.spanId ?? '') ?? 0 };
}
