/**
 * JSON-RPC 2.0 parsing and validation at the boundary: a body is one message or a batch; each message is
 * a request, a notification or a response. Malformed JSON and invalid messages become typed errors
 * (-32700 / -32600) before anything reaches the upstream.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { MAX_BATCH_MESSAGES } from '../config/defaults.js';
import { RequestError } from '../errors/errors.js';
import type { JsonRpcId } from './action.js';
import { checkCaseFolding, checkDuplicateKeys, checkReadMembers, FOLDABLE } from './json-keys.js';
import { beyondSafe, roundedInteger } from './json-scan.js';

/**
 * The deepest nesting of arrays and objects a body may have (the message itself is level 1). Deeper
 * values are refused here rather than failing the policy evaluation (or the JSON writer) later, as
 * serde_json and System.Text.Json refuse them by default.
 */
export const MAX_JSON_DEPTH = 128;

/** The longest string id (a UUID takes 36): ids are held until their reply, each at its length. */
export const MAX_ID_CHARS = 256;

// MCP: request ids are strings or integers, never null (null appears only in error responses). zod's int()
// also means a safe integer: 2^64 or 2^53+1 would be decided and answered as another id than the one
// forwarded, and two of them in a batch could be told apart upstream but not here.
const RequestId = z.union([z.string().max(MAX_ID_CHARS), z.number().int()]);
const Id = z.union([RequestId, z.null()]);
// MCP: params are an object (JSON-RPC also allows an array, which no MCP method takes).
const Params = z.record(z.string(), z.unknown()).optional();
// Strict like the MCP SDK's own schemas: a member JSON-RPC does not define is refused, so no upstream can
// read a message differently from the sidecar because of one.
const RequestSchema = z
  .object({ jsonrpc: z.literal('2.0'), id: RequestId, method: z.string().min(1), params: Params })
  .strict();
const NotificationSchema = z
  .object({ jsonrpc: z.literal('2.0'), method: z.string().min(1), params: Params })
  .strict();
const ResponseSchema = z
  .object({
    jsonrpc: z.literal('2.0'),
    id: Id,
    result: z.unknown().optional(),
    error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).optional(),
  })
  .strict()
  .refine((m) => 'result' in m !== 'error' in m, 'a response has exactly one of result and error');

/** The members of a request or notification; the fast path leaves anything else to the schemas. */
const MESSAGE_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
/** A UTF-16 surrogate without its pair (the `u` flag matches a pair as one code point, never this). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export type JsonRpcMessage =
  | { readonly kind: 'request'; readonly id: JsonRpcId; readonly method: string; readonly params: unknown }
  | { readonly kind: 'notification'; readonly method: string; readonly params: unknown }
  | { readonly kind: 'response'; readonly id: JsonRpcId };

export interface ParsedBody {
  readonly batch: boolean;
  readonly messages: readonly JsonRpcMessage[];
}

/** How many messages of a parsed body the policy does not decide: notifications and client responses. */
export function undecidedCount(parsed: ParsedBody | undefined): number {
  let n = 0;
  for (const m of parsed?.messages ?? []) if (m.kind !== 'request') n++;
  return n;
}

/**
 * Parses a request body. Throws RequestError ERR_REQUEST_PARSE / ERR_REQUEST_INVALID (also for a batch
 * of more than `maxBatch` messages: each costs a decision, so the bound keeps one body's work bounded).
 */
export function parseBody(body: Buffer | string, maxBatch = MAX_BATCH_MESSAGES): ParsedBody {
  // Invalid UTF-8 would be decided on with U+FFFD in its place while the upstream gets the original bytes,
  // which it may read otherwise (drop them, or refuse): the same message must be decided and forwarded.
  if (typeof body !== 'string' && !isUtf8(body)) {
    throw new RequestError('ERR_REQUEST_PARSE', 'Parse error: the body is not valid UTF-8');
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RequestError('ERR_REQUEST_PARSE', 'Parse error: the body is not valid JSON');
  }
  // A lone surrogate or a NUL can only come from a \u escape: the bytes are valid UTF-8.
  sawBeyondSafe = false;
  checkDuplicateKeys(text, checkValues(json, 1, text.includes('\\u')));
  if (Array.isArray(json)) {
    if (json.length === 0) throw new RequestError('ERR_REQUEST_INVALID', 'Invalid Request: empty batch');
    if (json.length > maxBatch) {
      throw new RequestError(
        'ERR_REQUEST_INVALID',
        `Invalid Request: a batch of ${json.length} messages is over the limit of ${maxBatch}`,
      );
    }
    const messages = json.map((m, i) => parseMessage(m, `message ${i}`));
    checkUniqueIds(messages);
    // After the messages: an id beyond 2^53 is refused as an id, which says more.
    if (sawBeyondSafe) checkExactIntegers(text);
    return { batch: true, messages };
  }
  const message = parseMessage(json, 'message');
  if (sawBeyondSafe) checkExactIntegers(text);
  return { batch: false, messages: [message] };
}

/** Set by {@link checkValues} when the body holds a number beyond ±(2^53 − 1), whose literal may have been rounded. */
let sawBeyondSafe = false;

/**
 * Refuses a body nested deeper than {@link MAX_JSON_DEPTH}, one with a number beyond a double's range, one
 * with keys that differ only in case, and (when `escapes`) one with a string or key holding a lone
 * surrogate: it has no UTF-8 form, so the policy cannot read it, and the same text could reach the upstream
 * as U+FFFD or as the escape; also one with a key holding U+0000, which a server may match to the member
 * without it. Returns how many keys the value's objects hold in all; sets {@link sawBeyondSafe} for a number
 * beyond ±(2^53 − 1).
 */
function checkValues(value: unknown, depth: number, escapes: boolean): number {
  if (typeof value === 'string') {
    if (escapes && LONE_SURROGATE.test(value)) throw loneSurrogate();
    return 0;
  }
  if (typeof value === 'number') {
    // `1e400` parses to Infinity, which the policy's input (JSON) would show as null: a rule comparing the
    // number would not see it, while the upstream reads the original (Python: inf).
    if (!Number.isFinite(value)) {
      throw new RequestError(
        'ERR_REQUEST_INVALID',
        'Invalid Request: a number is too large for a double (it would reach the policy as null)',
      );
    }
    if (beyondSafe(value)) sawBeyondSafe = true;
    return 0;
  }
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > MAX_JSON_DEPTH) {
    throw new RequestError(
      'ERR_REQUEST_INVALID',
      `Invalid Request: the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  let below = 0;
  if (Array.isArray(value)) {
    for (const v of value) below += checkValues(v, depth + 1, escapes);
    return below;
  }
  const o = value as Record<string, unknown>;
  let keys = 0;
  let folds = false;
  for (const k in o) {
    if (escapes && (LONE_SURROGATE.test(k) || k.includes('\0'))) throw escapedKey(k);
    keys++;
    if (!folds) folds = FOLDABLE.test(k);
    below += checkValues(o[k], depth + 1, escapes);
  }
  if (folds && keys > 1) checkCaseFolding(o);
  return keys + below;
}

/**
 * Refuses an integer literal (no fraction, no exponent) that JSON.parse rounded: beyond 2^53 a double cannot
 * hold every integer, so `9007199254740993` reaches the policy as `…992`, while Python, pydantic and Go (into
 * an integer) read it exactly, and a JavaScript server reads it rounded: no reading of it is the one every
 * upstream acts on. A literal a double holds exactly (`2^60`) passes, and so does one with a fraction or an
 * exponent (`1e300`): parsers read it as a double, the same one. Only scanned for a body with such a number.
 */
function checkExactIntegers(text: string): void {
  const literal = roundedInteger(text);
  if (literal === undefined) return;
  throw new RequestError(
    'ERR_REQUEST_INVALID',
    `Invalid Request: the integer ${literal.slice(0, 40)} is beyond what a double holds exactly (the policy would see ${Number(literal)}); send it as a string`,
  );
}

function escapedKey(key: string): RequestError {
  if (!key.includes('\0')) return loneSurrogate();
  // Go's segmentio/encoding (the MCP Go SDK's case-sensitive decoder) matched `name\u0000` to `name`.
  return new RequestError(
    'ERR_REQUEST_INVALID',
    'Invalid Request: a key holds U+0000 (a server may read it as the key without it)',
  );
}

function loneSurrogate(): RequestError {
  return new RequestError(
    'ERR_REQUEST_INVALID',
    'Invalid Request: a string holds a lone UTF-16 surrogate escape, which is not Unicode text',
  );
}

function parseMessage(m: unknown, where: string): JsonRpcMessage {
  const message = parseShape(m, where);
  if (message.kind !== 'response') checkReadMembers(message.method, message.params);
  // A message without an id is never answered, so it is forwarded without a decision: only MCP's own
  // notifications may be one. `tools/call` without an id is not a harmless notification to every server.
  if (message.kind === 'notification' && !message.method.startsWith('notifications/')) {
    throw invalid(where, `is a ${message.method} request without an id (only notifications/* may have none)`);
  }
  return message;
}

function parseShape(m: unknown, where: string): JsonRpcMessage {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw invalid(where, 'must be an object');
  }
  const o = m as Record<string, unknown>;
  const fast = fastPath(o);
  if (fast) return fast;
  if ('method' in o) {
    if ('id' in o) {
      const r = RequestSchema.safeParse(o);
      if (!r.success) throw invalid(where, firstIssue(r.error));
      return { kind: 'request', id: r.data.id, method: r.data.method, params: r.data.params };
    }
    const n = NotificationSchema.safeParse(o);
    if (!n.success) throw invalid(where, firstIssue(n.error));
    return { kind: 'notification', method: n.data.method, params: n.data.params };
  }
  const s = ResponseSchema.safeParse(o);
  if (!s.success) throw invalid(where, firstIssue(s.error));
  return { kind: 'response', id: s.data.id };
}

/**
 * The common shapes — a well-formed request or notification — checked by hand, which costs a fraction of
 * a schema parse; anything else falls through to the schemas, which also word the error.
 */
function fastPath(o: Record<string, unknown>): JsonRpcMessage | undefined {
  if (o.jsonrpc !== '2.0' || typeof o.method !== 'string' || o.method.length === 0) return undefined;
  const params = o.params;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    return undefined;
  }
  for (const k in o) if (!MESSAGE_MEMBERS.has(k)) return undefined;
  if (!('id' in o)) return { kind: 'notification', method: o.method, params };
  const id = o.id;
  if (
    (typeof id === 'string' && id.length <= MAX_ID_CHARS) ||
    (typeof id === 'number' && Number.isSafeInteger(id))
  ) {
    return { kind: 'request', id, method: o.method, params };
  }
  return undefined;
}

/**
 * Request ids must be unique in a batch (MCP: never reused within a session). Replies are routed and
 * pruned by id, so two requests with one id could get each other's reply — a `tools/list` reply pruned
 * as a `prompts/list` one, say. `1` and `"1"` count as the same id here, the safe side.
 */
function checkUniqueIds(messages: readonly JsonRpcMessage[]): void {
  const seen = new Set<string>();
  for (const m of messages) {
    if (m.kind !== 'request') continue;
    const key = String(m.id);
    if (seen.has(key)) {
      throw new RequestError(
        'ERR_REQUEST_INVALID',
        `Invalid Request: request id ${JSON.stringify(m.id)} is used twice in the batch`,
      );
    }
    seen.add(key);
  }
}

function invalid(where: string, detail: string): RequestError {
  return new RequestError('ERR_REQUEST_INVALID', `Invalid Request: ${where} ${detail}`);
}

function firstIssue(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'is invalid';
  return i.path.length ? `field ${i.path.join('.')}: ${i.message}` : i.message;
}

/** A JSON-RPC error object for one request id. */
export function rpcError(
  id: JsonRpcId,
  code: number,
  message: string,
  data?: unknown,
): Record<string, unknown> {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id, error };
}
