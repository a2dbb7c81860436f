/**
 * MCP 2026-07-28 custom headers from tool parameters (SEP-2243): a tool's `inputSchema` may mark a parameter
 * with `x-mcp-header: "Region"`, and a client calling it mirrors the argument's value into
 * `Mcp-Param-Region`, so a load balancer or gateway in front can route or rate-limit on it without reading
 * the body. "Any server that processes the message body MUST validate" that the two agree, and refuse a
 * disagreement with 400 and -32020 (`HeaderMismatch`): otherwise something in front acts on one value while
 * the MCP server acts on another. The sidecar processes the body (the policy decides on it), so it checks.
 *
 * The declarations come from the upstream's `tools/list` replies (and the sidecar's own discovery). Per the
 * specification, only a parameter reached from the schema root through `properties` keys alone may be
 * marked, with a primitive type (string, integer, boolean) and a header-token name unique without regard to
 * case; a mark anywhere else makes the tool definition invalid. Clients must not call such a tool, and its
 * declarations are not enforced here. One exception: a `number` mark, which the specification forbids, is
 * checked all the same, as the official TypeScript SDK's client (and the conformance suite it passes)
 * mirrors it, and a schema built from `z.number()` declares one.
 *
 * @module
 */
import { isRecord } from './action.js';
import { decodeHeaderValue, fieldLines, HEADER_MIRRORING_SINCE, metaVersion } from './header-values.js';
import type { JsonRpcMessage } from './jsonrpc.js';

export interface ParamHeader {
  /** The `x-mcp-header` value as declared, e.g. `Region`. */
  readonly name: string;
  /** The header's name in lower case, as Node gives request headers: `mcp-param-region`. */
  readonly header: string;
  /** The chain of `properties` keys leading from the schema root to the parameter. */
  readonly path: readonly string[];
  readonly type: 'string' | 'integer' | 'number' | 'boolean';
}

/** RFC 9110 field-name token (`1*tchar`). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The prefix, in lower case, of the headers a tool mirrors its marked arguments into. */
export const PARAM_HEADER_PREFIX = 'mcp-param-';

/** Whether `name` (lower case, as Node gives header names) is an `Mcp-Param-*` header's. */
export function isParamHeaderName(name: string): boolean {
  return name.startsWith(PARAM_HEADER_PREFIX) && TOKEN.test(name.slice(PARAM_HEADER_PREFIX.length));
}
/** Keywords whose values are data, not subschemas: a key named `x-mcp-header` in them is no annotation. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);
/** Schemas nested deeper than this are not searched (an upstream's schema, bounded all the same). */
const MAX_DEPTH = 32;
const NUMBER_TEXT = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The primitive type a marked parameter declares, or undefined for any other. */
function primitiveType(type: unknown): ParamHeader['type'] | undefined {
  // One type named alone: a list (`["string", "null"]`) is no primitive type to the spec, and the SDK client
  // treats such a mark as invalid (it sends no header), so enforcing it would refuse that client's calls.
  return type === 'string' || type === 'integer' || type === 'number' || type === 'boolean'
    ? type
    : undefined;
}

/**
 * The parameters a tool's `inputSchema` mirrors into headers: empty when it marks none, undefined when a
 * mark breaks the specification's constraints (the tool definition is then invalid, and nothing is
 * enforced for it).
 */
export function paramHeaderDeclarations(inputSchema: unknown): readonly ParamHeader[] | undefined {
  const out: ParamHeader[] = [];
  const seen = new Set<string>();
  let valid = true;
  const walk = (node: unknown, path: readonly string[] | null, depth: number): void => {
    if (!valid || depth > MAX_DEPTH) return;
    if (Array.isArray(node)) {
      for (const v of node) walk(v, null, depth + 1);
      return;
    }
    if (!isRecord(node)) return;
    if ('x-mcp-header' in node) {
      // Reached through properties alone (not the root itself), a token name, a primitive type, unique.
      const name = node['x-mcp-header'];
      const type = primitiveType(node.type);
      const header = typeof name === 'string' ? `${PARAM_HEADER_PREFIX}${name.toLowerCase()}` : '';
      if (!path || path.length === 0 || typeof name !== 'string' || !TOKEN.test(name) || !type) valid = false;
      else if (seen.has(header)) valid = false;
      else {
        seen.add(header);
        out.push({ name, header, path, type });
      }
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && isRecord(value)) {
        for (const [prop, schema] of Object.entries(value))
          walk(schema, path ? [...path, prop] : null, depth + 1);
      } else if (!DATA_KEYWORDS.has(key) && typeof value === 'object' && value !== null) {
        // items, oneOf, $defs, …: a mark found below them is misplaced.
        walk(value, null, depth + 1);
      }
    }
  };
  walk(inputSchema, [], 0);
  return valid ? out : undefined;
}

/** The declarations of every tool in a (complete, unfiltered) `tools/list` result, by tool name. */
export function toolParamHeaders(result: unknown): Map<string, readonly ParamHeader[]> {
  const out = new Map<string, readonly ParamHeader[]>();
  if (!isRecord(result) || !Array.isArray(result.tools)) return out;
  for (const t of result.tools) {
    if (isRecord(t) && typeof t.name === 'string') {
      out.set(t.name, paramHeaderDeclarations(t.inputSchema) ?? []);
    }
  }
  return out;
}

/** The value at `path` in the call's arguments; undefined when any step is missing. */
function argumentAt(args: unknown, path: readonly string[]): unknown {
  let v: unknown = args;
  for (const key of path) {
    if (!isRecord(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

function agrees(type: ParamHeader['type'], text: string, value: unknown): boolean {
  if (type === 'string') return typeof value === 'string' && text === value;
  if (type === 'boolean') return typeof value === 'boolean' && text === String(value);
  // Integers and numbers compare numerically, so `42.0` and `42` agree (and `1e-7`, as a client writes 1e-7).
  // Not beyond 2^53 - 1, the limit the spec sets: there JSON.parse rounds, 9007199254740993 in the body
  // reads as ...992 and would match that header while an upstream parsing exactly acts on ...993.
  if (typeof value !== 'number' || (Number.isInteger(value) && !Number.isSafeInteger(value))) return false;
  return NUMBER_TEXT.test(text) && Number(text) === value;
}

/**
 * Why a `tools/call`'s `Mcp-Param-*` headers disagree with its arguments, or undefined when they agree:
 * a marked parameter with a value needs its header, equal to the value (after decoding); one without a
 * value (absent or null) must have none. Never quotes a value. Node joins a header sent on two lines into
 * one value (`a, b`), which a body value `a, b` would match while a gateway in front acts on `a`:
 * `rawHeaders`, when given, has such a header refused as malformed.
 */
export function paramHeaderMismatch(
  declarations: readonly ParamHeader[],
  args: unknown,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  rawHeaders?: readonly string[],
): string | undefined {
  for (const d of declarations) {
    const where = `arguments.${d.path.join('.')}`.slice(0, 120);
    const value = argumentAt(args, d.path);
    const raw = headers[d.header];
    const label = `Mcp-Param-${d.name}`;
    if (value === undefined || value === null) {
      if (raw !== undefined) return `${label} header is sent, but the body has no value at ${where}`;
      continue;
    }
    if (raw === undefined) return `${label} header is missing; the body has a value at ${where}`;
    const once = typeof raw === 'string' && (!rawHeaders || fieldLines(rawHeaders, d.header) === 1);
    const text = once ? decodeHeaderValue(raw) : undefined;
    if (text === undefined) return `${label} header is malformed (sent twice, or invalid Base64)`;
    if (!agrees(d.type, text, value)) return `${label} header does not match the body's ${where}`;
  }
  return undefined;
}

/**
 * Why a request's `tools/call` disagrees with its `Mcp-Param-*` headers, or undefined: checked only for a
 * request of a revision that mirrors parameters (`MCP-Protocol-Version` ≥ 2026-07-28; older clients send no
 * such headers), and only for the parameters the tool was seen to mark. Without that header (which parse
 * lets through for older clients) the body's `_meta` version says the revision: a 2026-07-28 call cannot
 * skip the check by leaving the header out.
 */
export function requestParamHeaderMismatch(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  messages: readonly JsonRpcMessage[],
  declarationsOf: (tool: string) => readonly ParamHeader[],
  rawHeaders?: readonly string[],
): string | undefined {
  const stated = statedVersion(headers);
  if (stated === null) return undefined;
  for (const msg of messages) {
    const tool = mirroringCall(msg, stated);
    if (tool === undefined) continue;
    const args = (msg as { params: Record<string, unknown> }).params.arguments;
    const why = paramHeaderMismatch(declarationsOf(tool), args, headers, rawHeaders);
    if (why) return why;
  }
  return undefined;
}

/**
 * The `Mcp-Param-*` headers {@link requestParamHeaderMismatch} compared with the body (the marks of the tools
 * its 2026-07-28 calls name, in lower case); undefined when none, as for most requests. These are forwarded
 * as spelt, an underscore included (`Mcp-Param-Tenant_Id`): the upstream validates them too.
 */
export function checkedParamHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  messages: readonly JsonRpcMessage[],
  declarationsOf: (tool: string) => readonly ParamHeader[],
): ReadonlySet<string> | undefined {
  const stated = statedVersion(headers);
  if (stated === null) return undefined;
  let out: Set<string> | undefined;
  for (const msg of messages) {
    const tool = mirroringCall(msg, stated);
    const declarations = tool === undefined ? [] : declarationsOf(tool);
    if (declarations.length > 0) out ??= new Set();
    for (const d of declarations) out?.add(d.header);
  }
  return out;
}

/**
 * Whether `name` (no underscore) is a `checked` header spelt with dashes, `mcp-param-tenant-id` for a checked
 * `mcp-param-tenant_id`, without being checked itself: a CGI-style upstream reads the two as one.
 */
export function dashedTwin(name: string, checked: ReadonlySet<string> | undefined): boolean {
  if (!checked || !name.startsWith(PARAM_HEADER_PREFIX) || checked.has(name)) return false;
  for (const c of checked) if (c.includes('_') && c.replaceAll('_', '-') === name) return true;
  return false;
}

/** The `MCP-Protocol-Version` header; null when it names a revision that mirrors no parameters. */
function statedVersion(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined | null {
  const header = headers['mcp-protocol-version'];
  const stated = typeof header === 'string' ? header.trim() : undefined;
  return stated !== undefined && stated < HEADER_MIRRORING_SINCE ? null : stated;
}

/** The tool `msg` calls, when it is a `tools/call` of a revision that mirrors parameters. */
function mirroringCall(msg: JsonRpcMessage, stated: string | undefined): string | undefined {
  if (msg.kind !== 'request' || msg.method !== 'tools/call' || !isRecord(msg.params)) return undefined;
  if ((stated ?? metaVersion(msg.params) ?? '') < HEADER_MIRRORING_SINCE) return undefined;
  return typeof msg.params.name === 'string' ? msg.params.name : undefined;
}
