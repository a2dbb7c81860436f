/**
 * W3C trace context at the sidecar's edges: reading it from HTTP headers and from an MCP message's
 * `params._meta` (SEP-414), writing it into `_meta`, the ids an audit record carries, and how a span
 * names the caller (`telemetry.subject`) and the session (a digest).
 *
 * @module
 */
import {
  type Context,
  isSpanContextValid,
  type Span,
  type TextMapGetter,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { hmacTag } from '../audit/mask.js';

/** HTTP headers as Node gives them, or a `_meta` object reduced to its trace fields. */
export type Headers = Record<string, string | string[] | undefined>;

export const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key] ?? carrier[key.toLowerCase()];
    return Array.isArray(v) ? v.join(',') : v;
  },
};

export function metaCarrier(meta: unknown): Headers | undefined {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.traceparent !== 'string') return undefined;
  const out: Headers = { traceparent: m.traceparent };
  if (typeof m.tracestate === 'string') out.tracestate = m.tracestate;
  if (typeof m.baggage === 'string') out.baggage = m.baggage;
  return out;
}

/** The trace a decision belongs to, for its audit record: nulls when there is none. */
export interface TraceIds {
  readonly traceId: string | null;
  readonly spanId: string | null;
  /** The W3C `sampled` flag: whether the trace's spans are recorded (and exported) anywhere. */
  readonly sampled: boolean | null;
}

/** Trace and span id (and sampled flag) of a context or span; nulls when there is no valid one. */
export function traceIds(from: Context | Span): TraceIds {
  const s = 'spanContext' in from ? from.spanContext() : trace.getSpanContext(from);
  return s && isSpanContextValid(s)
    ? { traceId: s.traceId, spanId: s.spanId, sampled: (s.traceFlags & TraceFlags.SAMPLED) !== 0 }
    : { traceId: null, spanId: null, sampled: null };
}

/** The `mcp_authz.subject` attribute value per config: the id, its keyed hash, or nothing. */
export function telemetrySubject(
  id: string | null,
  mode: 'id' | 'hash' | 'none',
  key: Buffer,
): string | undefined {
  if (id === null || mode === 'none') return undefined;
  return mode === 'id' ? id : hmacTag(id, key);
}

/** Writes `traceparent` / `tracestate` for `ctx` into an MCP `params._meta` object (SEP-414). */
export function injectMeta(ctx: Context, meta: Record<string, unknown>): void {
  new W3CTraceContextPropagator().inject(ctx, meta, {
    set(carrier, key, value) {
      carrier[key] = value;
    },
  });
}
