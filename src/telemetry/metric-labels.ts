/**
 * The label vocabularies of the sidecar's metrics (`metrics.ts`) and the {@link LabelSet} that keeps each
 * label bounded: a value outside its allow-list (known MCP methods, stage names, routes, deny reasons, …)
 * becomes `other`, a missing one `none`. A few labels without a fixed list keep the first
 * {@link MAX_DYNAMIC_LABELS} well-formed values seen.
 *
 * @module
 */
import type { DenyReason } from '../errors/codes.js';
import type { StageName } from '../pipeline/stage.js';

export const OTHER = 'other';
export const NONE = 'none';

/** Stage label values: the pipeline's stages plus the proxying steps after them. */
export const STAGES = [
  'origin',
  'blocklist',
  'authenticate',
  'session',
  'read-body',
  'recheck',
  'parse',
  'decide',
  'ratelimit',
  'forward',
  'filter',
] as const;
type Labelled<T extends (typeof STAGES)[number]> = T;
/** Compile-time check: a `StageName` missing from {@link STAGES} makes this fail to compile. */
export type LabelledStageName = Labelled<StageName>;

export const ROUTES = [
  'mcp',
  'legacy_sse',
  'legacy_messages',
  'metadata',
  'preflight',
  'not_found',
  'bad_request',
] as const;
/** `ratelimit.scope` values (config); pass others via `SidecarMetricsOptions.rateLimitScopes`. */
export const RATE_LIMIT_SCOPES = ['subject', 'subject_tool', 'tenant'] as const;
export const RELOAD_RESULTS = ['success', 'failure'] as const;
export const DENY_REASONS = [
  'request',
  'authn',
  'policy',
  'ratelimit',
  'upstream',
  'internal',
] as const satisfies readonly DenyReason[];

/**
 * What became of a session evicted from the session table (`SessionOwners`) at the upstream: `ended` (its
 * DELETE answered 2xx), `gone` (404: the upstream had already forgotten it), `refused` (any other status,
 * e.g. 405 from a server that lets no client end sessions), `failed` (no answer: connection, timeout, busy
 * pool), `dropped` (never sent: too many waiting, or shutting down), `kept` (not ended: with
 * `server.unknownSessions: forward` its caller may still use it through the upstream).
 */
export const SESSION_EVICTION_RESULTS = ['ended', 'gone', 'refused', 'failed', 'dropped', 'kept'] as const;
export type SessionEvictionResult = (typeof SESSION_EVICTION_RESULTS)[number];

/** At most this many catalog tool names become label values (the rest are `other`). */
export const MAX_TOOL_LABELS = 500;
/** Labels without a fixed list (anomaly rules, store operations) keep the first this-many values seen. */
export const MAX_DYNAMIC_LABELS = 32;
const LABEL_SHAPE = /^[A-Za-z0-9_.:/-]{1,64}$/;

/** An allow-list of label values, optionally grown with the first `dynamic` well-formed values seen. */
export class LabelSet {
  private readonly values: Set<string>;
  private dynamic: number;
  constructor(allowed: Iterable<string>, dynamic = 0) {
    this.values = new Set(allowed);
    this.dynamic = dynamic;
  }
  label(value: string | null | undefined): string {
    if (value === null || value === undefined || value === '') return NONE;
    if (this.values.has(value)) return value;
    if (this.dynamic > 0 && LABEL_SHAPE.test(value)) {
      this.dynamic--;
      this.values.add(value);
      return value;
    }
    return OTHER;
  }
}

/** The tool label allow-list: the first {@link MAX_TOOL_LABELS} names of 1 to 128 characters. */
export function toolLabels(names: Iterable<string>): LabelSet {
  const list: string[] = [];
  for (const n of names) {
    if (list.length >= MAX_TOOL_LABELS) break;
    if (typeof n === 'string' && n.length > 0 && n.length <= 128) list.push(n);
  }
  return new LabelSet(list);
}

export function statusClass(status: number | null | undefined): string {
  if (status === null || status === undefined) return 'error';
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : OTHER;
}
