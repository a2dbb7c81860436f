/**
 * Keys of a body's objects that two readers could take for different members. JSON.parse keeps the last of
 * a repeated key, as Go, Python and the MCP SDKs do; others keep the first or refuse the body, and an edit
 * located by key finds the first. Go also matches keys to a struct's fields without case. The sidecar
 * decides on what JSON.parse read, so it refuses a body whose objects repeat a key, or hold two keys that
 * differ only in case: no server can then read another member than the one decided on.
 *
 * @module
 */
import { RequestError } from '../errors/errors.js';
import { keysInText } from './json-scan.js';

/** A key that case folding may change: an upper-case ASCII letter, or anything beyond ASCII. */
export const FOLDABLE = /[A-Z\u0080-\uffff]/;
const NON_ASCII = /[\u0080-\uffff]/;
/** Longer keys are no struct field's name (what a server folds keys to match), and are not folded. */
const MAX_FOLDED_KEY = 128;

/**
 * Refuses an object two of whose keys differ only in case, `ſ` for `s` or the Kelvin sign for `k`: Go's
 * `encoding/json` matches a key to a struct field that way (and keeps the last), so `{"name":"read_customer",
 * "Name":"delete_customer"}` was decided as one call and run by a Go MCP server as the other
 * (CVE-2026-27896). The sidecar cannot tell a struct from a map, so it refuses any such object.
 */
export function checkCaseFolding(o: Record<string, unknown>): void {
  const seen = new Map<string, string>();
  for (const k in o) {
    if (k.length > MAX_FOLDED_KEY) continue;
    const folded = foldKey(k);
    const other = seen.get(folded);
    if (other !== undefined) {
      throw new RequestError(
        'ERR_REQUEST_INVALID',
        `Invalid Request: the keys ${JSON.stringify(other)} and ${JSON.stringify(k)} of one object differ only in case (a server matching keys without case could read either)`,
      );
    }
    seen.set(folded, k);
  }
}

/**
 * A key folded one code point at a time, as Go's simple case folding does: a character whose upper or lower
 * case is more than one character (`ß` → `SS`, `ﬁ` → `FI`, `İ` → `i̇`) is left as it is, so `straße` and
 * `strasse` stay apart. Upper-casing first folds `ſ` to `s`; lower-casing the Kelvin sign gives `k`.
 */
export function foldKey(k: string): string {
  if (!NON_ASCII.test(k)) return k.toLowerCase();
  const upper = k.toUpperCase();
  const whole = upper.toLowerCase();
  // The usual case: no character changed its length, so every one folded to a single one.
  if (whole.length === k.length && upper.length === k.length) return whole;
  let out = '';
  for (const c of k) {
    const upper = c.toUpperCase();
    const lower = upper.length === c.length ? upper.toLowerCase() : c.toLowerCase();
    out += lower.length === c.length ? lower : c;
  }
  return out;
}

/**
 * The members of `params` the sidecar reads, by method: the call decided (a tool or prompt and its arguments,
 * a completion's ref, argument and context, a resource's URI, a task's id, whose names `Mcp-Name` mirrors for every `resources/*` and `tasks/*` method),
 * the task a call asks for, a listen's lists, a cancellation's request, the version an `initialize` asks for
 * (the policy's `context.protocol_version`), and `_meta` of every message (its trace context, the protocol
 * version that says whether a call's `Mcp-Param-*` headers are checked, the client capabilities). Any other
 * method (one the sidecar does not know, an extension's) is decided on its name alone: of its `params` only
 * `_meta` is read, so only `_meta` is checked — its own members (`Name`, `task_id`) are no spelling of
 * anything the decision read.
 */
const READ_BY_METHOD: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(
  Object.entries({
    initialize: ['protocolVersion'],
    'tools/call': ['name', 'arguments', 'task'],
    'prompts/get': ['name', 'arguments'],
    'completion/complete': ['ref', 'argument', 'context'],
    'subscriptions/listen': ['notifications'],
    'notifications/cancelled': ['requestId'],
  }).map(([method, names]) => [method, variants([...names, '_meta'])]),
);
const READ_RESOURCE = variants(['uri', '_meta']);
const READ_TASK = variants(['taskId', '_meta']);
const READ_META = variants(['_meta']);

/** The members of a message's `params` the sidecar reads ({@link READ_BY_METHOD}), each with its variants. */
function readMembers(method: string): ReadonlyMap<string, string> {
  const known = READ_BY_METHOD.get(method);
  if (known !== undefined) return known;
  if (method.startsWith('resources/')) return READ_RESOURCE;
  return method.startsWith('tasks/') ? READ_TASK : READ_META;
}
/** What it reads of a `subscriptions/listen`'s `params.notifications`. */
const READ_LISTEN = variants(['resourceSubscriptions', 'taskIds']);
/** What it reads of a `completion/complete`'s `ref`, `argument` and `context` (the item, the argument, its context). */
const READ_COMPLETION: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  ['ref', variants(['type', 'name', 'uri'])],
  ['argument', variants(['name', 'value'])],
  ['context', variants(['arguments'])],
]);

/**
 * Each member by its folded spelling (Go) and its Python name (`task_id`, `meta`: the Python SDK's models take
 * `populate_by_name`, so a field is read by its name as well as by its wire alias). `_meta` too: its trace
 * context is rewritten folded, but its protocol version (which says whether a call's `Mcp-Param-*` headers are
 * checked) and client capabilities (a task the reply creates) are read as `_meta` alone.
 */
function variants(names: readonly string[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const n of names) {
    out.set(foldKey(n), n);
    const python = n.replace(/^_/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (python !== n) out.set(python, n);
  }
  return out;
}

/**
 * Refuses a message whose `params` (or a listen's `params.notifications`) spells a member the sidecar reads
 * in another case, or by its Python name, alone: `{"name":"create_ticket","Arguments":{"tenant":"globex"}}`
 * is a call without arguments here, which the policy's tenant rule lets through, while Go's `encoding/json`
 * (mcp-go, the Go SDK before 1.3.1) matches `Arguments` to the field `arguments` and runs the call in the
 * other tenant; `meta` is `_meta` to the Python SDK (trace context past the one the sidecar sets), and
 * `resource_subscriptions` a listen's subscriptions. Lower-case names spelt right cost a map lookup.
 */
export function checkReadMembers(method: string, params: unknown): void {
  if (typeof params !== 'object' || params === null) return;
  const notifications = misspelt(params as Record<string, unknown>, readMembers(method));
  if (method === 'subscriptions/listen' && typeof notifications === 'object' && notifications !== null) {
    misspelt(notifications as Record<string, unknown>, READ_LISTEN);
  }
  if (method === 'completion/complete') {
    // `{"ref": {"type": "ref/prompt", "Name": "secret"}}` or `{"context": {"Arguments": {"tenant": …}}}`: the
    // policy would judge no prompt, or no tenant, where a server matching members without case reads one.
    for (const [member, names] of READ_COMPLETION) {
      const o = (params as Record<string, unknown>)[member];
      if (typeof o === 'object' && o !== null) misspelt(o as Record<string, unknown>, names);
    }
  }
}

/**
 * Throws for a key of `o` that is another spelling of one of `names` ({@link variants}); returns
 * `o.notifications`.
 */
function misspelt(o: Record<string, unknown>, names: ReadonlyMap<string, string>): unknown {
  for (const k in o) {
    let member = names.get(k);
    if (member === k || (member === undefined && k.length > MAX_FOLDED_KEY)) continue;
    member ??= names.get(foldKey(k));
    if (member === undefined || member === k) continue;
    throw new RequestError(
      'ERR_REQUEST_INVALID',
      `Invalid Request: params member ${JSON.stringify(k)} is another spelling of ${member} (a server matching members without case, or by their Python names, would read it as ${member})`,
    );
  }
  return o.notifications;
}

/**
 * Refuses `text` (valid JSON, which JSON.parse read with `keys` keys in all its objects) when one of its
 * objects repeats a key: JSON.parse kept one of them, so the text holds more keys. Every key is followed by a
 * colon: when the text holds no more colons than keys, none can repeat, and that count is all the usual body
 * costs; otherwise (a colon in a string: a URL, a time) the colons outside strings are counted.
 */
export function checkDuplicateKeys(text: string, keys: number): void {
  let colons = 0;
  for (let i = text.indexOf(':'); i !== -1 && colons <= keys; i = text.indexOf(':', i + 1)) colons++;
  if (colons <= keys || keysInText(text) === keys) return;
  throw new RequestError(
    'ERR_REQUEST_INVALID',
    'Invalid Request: an object repeats a key (servers differ on which of the two they read)',
  );
}
