/**
 * The client's trace context inside a forwarded body. MCP carries W3C trace context in a message's
 * `params._meta` (`traceparent`, `tracestate`, `baggage`; SEP-414), where instrumented MCP servers read it.
 * The sidecar drops those headers from the client (its baggage would be a channel the client picks into the
 * upstream's tracing, its sampled flag would decide the upstream's sampling), so it must drop them from
 * `_meta` as well: each is removed, and `traceparent` / `tracestate` are set to the sidecar's own upstream
 * span where it sends one in the headers. Only that `_meta` object is written anew, from its other members'
 * own bytes: the body is otherwise forwarded byte for byte (numbers beyond a double, escapes, key order and
 * spacing stay as the client sent them, as decided). The trace keys are matched as Go matches a struct's
 * fields, without case (`Traceſtate`), and so is `_meta`, though the parser refuses it spelt otherwise
 * (`_Meta`: json-keys.ts); it has refused a body repeating a key or holding two that differ only in case, so
 * each is found once, where every server reads it.
 *
 * Most bodies carry no such key: {@link withOwnTraceContext} then costs a look at each message's `params`.
 *
 * @module
 */
import { foldKey } from './json-keys.js';
import { arrayElements, objectMembers } from './json-scan.js';
import type { JsonRpcMessage, ParsedBody } from './jsonrpc.js';

/** The `_meta` members that carry trace context, folded. */
const META_TRACE_KEYS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'baggage']);
const META = '_meta';

/** The headers the sidecar sends upstream: their trace context is its own (none when it exports no traces). */
type UpstreamHeaders = Readonly<Record<string, string | string[] | undefined>>;

// Folding keeps the length of these names, so a key of another length is none of them, unfolded.
const isMetaKey = (k: string): boolean => k.length === META.length && foldKey(k) === META;
const isTraceKey = (k: string): boolean => k.length >= 7 && k.length <= 11 && META_TRACE_KEYS.has(foldKey(k));

/** The value of the member of `o` whose key folds to `_meta`, if any. */
function metaOf(o: Record<string, unknown>): unknown {
  for (const k in o) if (isMetaKey(k)) return o[k];
  return undefined;
}

/** Whether `params` has a `_meta` object with a trace key. */
function hasTraceContext(params: unknown): boolean {
  if (typeof params !== 'object' || params === null) return false;
  const meta = metaOf(params as Record<string, unknown>);
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return false;
  for (const k in meta) if (isTraceKey(k)) return true;
  return false;
}

/** Whether `m` is a request or notification with trace context in `params._meta`. */
const carries = (m: JsonRpcMessage): boolean => m.kind !== 'response' && hasTraceContext(m.params);

/**
 * `body` (the bytes `parsed` was read from) with the client's trace context in every message's
 * `params._meta` replaced by the one in `headers` (module comment); `body` itself when no message carries any.
 */
export function withOwnTraceContext(body: Buffer, parsed: ParsedBody, headers: UpstreamHeaders): Buffer {
  if (!parsed.messages.some(carries)) return body;
  const text = body.toString('utf8');
  const starts = parsed.batch ? (arrayElements(text, 0) ?? []) : [0];
  const own = ownMembers(headers);
  let out = '';
  let copied = 0;
  parsed.messages.forEach((m, i) => {
    const at = starts[i];
    if (!carries(m) || at === undefined) return;
    const params = objectMembers(text, at)?.find((p) => p.key === 'params');
    const meta = params && objectMembers(text, params.value)?.find((p) => isMetaKey(p.key));
    const members = meta && objectMembers(text, meta.value);
    if (!meta || !members) return;
    const kept = members.filter((p) => !isTraceKey(p.key)).map((p) => text.slice(p.start, p.end));
    out += `${text.slice(copied, meta.value)}{${[...kept, ...own].join(',')}}`;
    copied = meta.end;
  });
  return Buffer.from(out + text.slice(copied), 'utf8');
}

/** The sidecar's own `traceparent` and `tracestate` as `_meta` members, when it sends them upstream. */
function ownMembers(headers: UpstreamHeaders): string[] {
  const { traceparent, tracestate } = headers;
  if (typeof traceparent !== 'string') return [];
  const out = [`"traceparent":${JSON.stringify(traceparent)}`];
  if (typeof tracestate === 'string') out.push(`"tracestate":${JSON.stringify(tracestate)}`);
  return out;
}
