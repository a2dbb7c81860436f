/**
 * Prunes list replies (`tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`) to the
 * items the caller may see, as decided by the policy's `visible` entrypoint, and marks a pruned result
 * private to the caller (`cacheScope: "private"`, MCP 2026-07-28 caching) so no shared cache reuses it.
 *
 * @module
 */
import type { ResourceKind } from './action.js';
import { isRecord } from './action.js';
import { toolAnnotationsAsCalled } from './annotations.js';
import { nonCanonicalUri } from './resource-uri.js';

export const LIST_METHODS = {
  'tools/list': { field: 'tools', kind: 'tool', key: 'name' },
  'prompts/list': { field: 'prompts', kind: 'prompt', key: 'name' },
  'resources/list': { field: 'resources', kind: 'resource', key: 'uri' },
  'resources/templates/list': { field: 'resourceTemplates', kind: 'resource_template', key: 'uriTemplate' },
} as const satisfies Record<string, { field: string; kind: ResourceKind; key: string }>;

export type ListMethod = keyof typeof LIST_METHODS;

export function isListMethod(method: string): method is ListMethod {
  return Object.hasOwn(LIST_METHODS, method);
}

/**
 * The list method whose field `result` carries (the first of the four present), whatever request it
 * answers: how a reply on a stream that can carry any reply (a resumed GET stream, the legacy SSE stream)
 * is recognised as a list reply.
 */
export function listMethodOf(result: unknown): ListMethod | undefined {
  if (!isRecord(result)) return undefined;
  for (const [method, spec] of Object.entries(LIST_METHODS)) {
    if (spec.field in result) return method as ListMethod;
  }
  return undefined;
}

export interface ListItem {
  readonly kind: ResourceKind;
  readonly name: string;
  readonly annotations: Readonly<Record<string, unknown>> | undefined;
}

export type VisibleFn = (item: ListItem) => boolean;

export interface FilterOutcome {
  readonly result: unknown;
  readonly total: number;
  readonly kept: number;
}

/**
 * Returns the result with invisible items removed. Every list field is pruned, not only the method's own:
 * a reply that reaches this filter under another request's id (ids reused by a client) must not carry an
 * unpruned list. A result of an unexpected shape is emptied, not passed.
 */
export function filterListResult(method: ListMethod, result: unknown, visible: VisibleFn): FilterOutcome {
  const own = LIST_METHODS[method];
  if (!isRecord(result)) return { result: { [own.field]: [] }, total: 0, kept: 0 };
  const out: Record<string, unknown> = { ...result };
  if (!Array.isArray(result[own.field])) out[own.field] = [];
  let total = 0;
  let kept = 0;
  for (const spec of Object.values(LIST_METHODS)) {
    const items = result[spec.field];
    if (items === undefined) continue;
    if (!Array.isArray(items)) {
      out[spec.field] = [];
      continue;
    }
    const visibleItems: unknown[] = [];
    for (const item of items) {
      if (!isRecord(item)) continue;
      const listed = item[spec.key];
      if (typeof listed !== 'string') continue;
      // A resource is listed under the canonical URI a read of it must use (the sidecar refuses others,
      // and the upstream's SDK reads both as one), and judged under that name.
      const canonical = spec.kind === 'resource' ? nonCanonicalUri(listed) : undefined;
      const name = canonical ?? listed;
      // Judged on the annotations a call to it would be decided on, so `visible` and `decision` agree: a
      // tool's (the MCP defaults filled in; an unseen tool's for a name too long to be learnt), and for a
      // prompt or resource none (`{}`, as its `prompts/get` or `resources/read` gets: its listed `audience`
      // or `priority` is not kept for later calls).
      const raw = isRecord(item.annotations) ? item.annotations : undefined;
      const annotations = spec.kind === 'tool' ? toolAnnotationsAsCalled(name, raw ?? {}) : {};
      if (visible({ kind: spec.kind, name, annotations })) {
        visibleItems.push(canonical ? { ...item, [spec.key]: canonical } : item);
      }
    }
    out[spec.field] = visibleItems;
    total += items.length;
    kept += visibleItems.length;
  }
  if ('cacheScope' in result || 'ttlMs' in result) out.cacheScope = 'private';
  return { result: out, total, kept };
}

/** Tool annotations from a (complete, unfiltered) `tools/list` result. */
export function toolAnnotations(result: unknown): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!isRecord(result) || !Array.isArray(result.tools)) return out;
  for (const t of result.tools) {
    if (isRecord(t) && typeof t.name === 'string')
      out.set(t.name, isRecord(t.annotations) ? t.annotations : {});
  }
  return out;
}
