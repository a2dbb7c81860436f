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
  for (const x of spans) byTrace.set(x.traceId, [...(byTrace.get(x.traceId) ?? []), x]);
  let best: ReceivedSpan[] = [];
  for (const group of byTrace.values()) {
    const inGroup = new Set(group.map((x) => x.spanId));
    const roots = group.filter((x) => !inGroup.has(x.parentSpanId));
    const whole = roots.length === 1 && roots[0]?.kind === 2; // SPAN_KIND_SERVER
    if (whole && group.length > best.length) best = group;
  }
  if (best.length === 0)
    throw new Error('the trace sample holds no whole request (a server span and its children)');
  // Parents before children, siblings in start order. Start times can tie (the SDK stamps them with
  // Date.now(), to the millisecond), so the order comes from the tree, not from the clock.
  const startOf = (x: ReceivedSpan) => BigInt(x.startTimeUnixNano);
  const byStart = (x: ReceivedSpan, y: ReceivedSpan) =>
    startOf(x) < startOf(y) ? -1 : startOf(x) > startOf(y) ? 1 : 0;
  const ids = new Set(best.map((x) => x.spanId));
  const ordered: ReceivedSpan[] = best.filter((x) => !ids.has(x.parentSpanId));
  const depth = new Map<string, number>(ordered.map((x) => [x.spanId, 0]));
  for (let i = 0; i < ordered.length; i++) {
    const parent = ordered[i] as ReceivedSpan;
    const children = best.filter((x) => x.parentSpanId === parent.spanId).sort(byStart);
    for (const c of children) depth.set(c.spanId, (depth.get(parent.spanId) ?? 0) + 1);
    ordered.push(...children);
  }
  const index = new Map(ordered.map((x, i) => [x.spanId, i]));
  const plan = ordered.map((x) => ({
    name: x.name,
    // OTLP numbers kinds from 1 (INTERNAL); the API from 0.
    kind: Math.max(0, x.kind - 1) as SpanKind,
    attributes: x.attributes as Attributes,
    parent: index.get(x.parentSpanId) ?? -1,
  }));
  // In the order they ended; on a tie, the deeper first (a child ends before its parent).
  const endOrder = ordered
    .map((x, i) => ({ i, end: BigInt(x.endTimeUnixNano), depth: depth.get(x.spanId) ?? 0 }))
    .sort((x, y) => (x.end < y.end ? -1 : x.end > y.end ? 1 : y.depth - x.depth))
    .map((e) => e.i);
  const log = logs.find((l) => l.traceId === ordered[0]?.traceId) ?? logs[0];
  return { spans: plan, endOrder, log, logSpan: index.get(log?.spanId ?? '') ?? 0 };
}
