/**
 * The client's trace context inside a forwarded body. MCP carries W3C trace context in a message's
 * `params._meta` (`traceparent`, `tracestate`, `baggage`; SEP-414), where instrumented MCP servers read it.
 * The sidecar drops those headers from the client (its baggage would be a channel the client picks into the
 * upstream's tracing, its sampled flag would decide the upstream's sampling), so it must drop them from
 * `_meta` as well: each is removed, and `traceparent` / `tracestate` are set to the sidecar's own upstream
 * span where it sends one in the headers. Only the members concerned change: the body is otherwise
 * forwarded byte for byte (numbers beyond a double, escapes, key order and spacing stay as the client sent
 * them, as the policy-checked bytes must). A key is matched whatever its case (`Traceparent`: a Go server
 * folds case when it reads a struct), and every repeat of it goes (JSON.parse and most servers read the last).
 *
 * Most bodies carry no such key: {@link withOwnTraceContext} then costs a look at each message's `_meta`.
 *
 * @module
 */
import { applyEdits, findNodeAtLocation, type JSONPath, modify, parseTree } from 'jsonc-parser';
import type { ParsedBody } from './jsonrpc.js';

/** The `_meta` members that carry trace context (lower case). */
export const META_TRACE_KEYS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'baggage']);

/** The headers the sidecar sends upstream: their trace context is its own (none when it exports no traces). */
type UpstreamHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A message's `_meta` keys that carry trace context, in their own case. */
function traceKeysOf(params: unknown): string[] {
  if (typeof params !== 'object' || params === null) return [];
  const meta = (params as { _meta?: unknown })._meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return [];
  const keys: string[] = [];
  for (const k in meta) if (META_TRACE_KEYS.has(k.toLowerCase())) keys.push(k);
  return keys;
}

/**
 * `body` (the bytes `parsed` was read from) with the client's trace context in every message's
 * `params._meta` replaced by the one in `headers` (module comment); `body` itself when no message carries any.
 */
export function withOwnTraceContext(body: Buffer, parsed: ParsedBody, headers: UpstreamHeaders): Buffer {
  let text: string | undefined;
  parsed.messages.forEach((m, i) => {
    if (m.kind === 'response') return;
    const keys = traceKeysOf(m.params);
    if (keys.length === 0) return;
    text ??= body.toString('utf8');
    const meta: JSONPath = parsed.batch ? [i, 'params', '_meta'] : ['params', '_meta'];
    for (const key of keys) text = removeAll(text, [...meta, key]);
    const { traceparent, tracestate } = headers;
    if (typeof traceparent !== 'string') return;
    text = set(text, [...meta, 'traceparent'], traceparent);
    if (typeof tracestate === 'string') text = set(text, [...meta, 'tracestate'], tracestate);
  });
  return text === undefined ? body : Buffer.from(text, 'utf8');
}

/** `text` without any member at `path` (repeated keys included). */
function removeAll(text: string, path: JSONPath): string {
  let out = text;
  while (findNodeAtLocation(parseTree(out) ?? EMPTY, path) !== undefined) {
    const edits = modify(out, path, undefined, {});
    // Never on a body JSON.parse took; were it to happen, the request fails (500) rather than loop or pass.
    if (edits.length === 0) throw new Error(`cannot remove ${path.join('.')} from the body`);
    out = applyEdits(out, edits);
  }
  return out;
}

function set(text: string, path: JSONPath, value: string): string {
  return applyEdits(text, modify(text, path, value, {}));
}

const EMPTY = parseTree('{}') as NonNullable<ReturnType<typeof parseTree>>;
