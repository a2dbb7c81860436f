/**
 * Parses the JSON-RPC body and checks the MCP transport headers against it: an unsupported
 * `MCP-Protocol-Version` is refused (400), so is a batch under a version without batches, and the 2026-07-28 `Mcp-Method` / `Mcp-Name` headers must
 * agree with the body when present (400, -32020), as must the version header with the body's `_meta` version;
 * a 2026-07-28 request must carry them (the same refusal). Decisions are always made on the body.
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import { isRecord } from '../../mcp/action.js';
import {
  decodeHeaderValue,
  fieldLines,
  HEADER_MIRRORING_SINCE,
  metaVersion,
} from '../../mcp/header-values.js';
import type { InFlightIds } from '../../mcp/in-flight-ids.js';
import { parseBody } from '../../mcp/jsonrpc.js';
import type { RequestContext } from '../context.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';

/**
 * MCP 2025-06-18 removed JSON-RPC batching ("The body of the POST request MUST be a single JSON-RPC request,
 * notification, or response"): a batch sent under that version or a later one is refused (400, -32600).
 * Without the header (older clients, or the `initialize` request) batches are still decided one by one.
 */
export const FIRST_VERSION_WITHOUT_BATCHES = '2025-06-18';

export function protocolVersionStage(supported: readonly string[]): Stage {
  const set = new Set(supported);
  return {
    name: 'parse',
    run(ctx) {
      return checkVersion(ctx.req.headers['mcp-protocol-version'], set);
    },
  };
}

/**
 * `inFlight`, when given, refuses a request reusing an id still in flight in its `Mcp-Session-Id` session
 * (400, -32600) and has the request's ids released when it finishes (`ctx.release`).
 */
export function parseStage(supported: readonly string[], maxBatch?: number, inFlight?: InFlightIds): Stage {
  const set = new Set(supported);
  return {
    name: 'parse',
    run(ctx) {
      const checked = checkVersion(ctx.req.headers['mcp-protocol-version'], set);
      if (checked.kind === 'deny') {
        // The refusal names the body's request ids when the body can be read (else it is answered as id null).
        try {
          ctx.parsed = parseBody(ctx.body ?? Buffer.alloc(0), maxBatch);
        } catch {
          // unreadable: the version refusal stands on its own
        }
        return checked;
      }
      try {
        ctx.parsed = parseBody(ctx.body ?? Buffer.alloc(0), maxBatch);
      } catch (err) {
        if (err instanceof RequestError) return deny(err);
        throw err;
      }
      if (ctx.parsed.batch) {
        const header = single(ctx.req.headers['mcp-protocol-version'])?.trim();
        const meta = newestMetaVersion(ctx.parsed.messages);
        // The newer of the two: an older header does not make a batch of 2026-07-28 messages one of its own.
        const refused = refuseBatch(
          meta !== undefined && (header === undefined || meta > header) ? meta : header,
        );
        if (refused) return refused;
      }
      const headers = checkMcpHeaders(ctx.req.headers, ctx.req.rawHeaders, ctx.parsed);
      if (headers.kind === 'deny' || !inFlight) return headers;
      const session = single(ctx.req.headers['mcp-session-id']);
      if (session === undefined) return headers;
      const claim = inFlight.claim(session, ctx.parsed.messages);
      if ('refused' in claim)
        return deny(new RequestError('ERR_REQUEST_INVALID', `Invalid Request: ${claim.refused}`));
      ctx.release = claim.release;
      if (claim.untaught) ctx.untaught = true;
      return headers;
    },
  };
}

/** The deny of a batch sent under a protocol version without batches, else undefined. */
function refuseBatch(version: string | undefined): StageResult | undefined {
  if (version === undefined || version < FIRST_VERSION_WITHOUT_BATCHES) return undefined;
  return deny(
    new RequestError(
      'ERR_REQUEST_INVALID',
      `Invalid Request: MCP ${version} has no JSON-RPC batches (removed in ${FIRST_VERSION_WITHOUT_BATCHES}); send one message per request`,
    ),
  );
}

/**
 * The newest protocol version a batch's messages name in their `_meta` (2026-07-28 requests carry it): without
 * the header, or with an older one, a batch of such messages (one element is enough) is still of a revision
 * without batches, and would otherwise pass around the header checks a single message of that revision meets.
 */
function newestMetaVersion(messages: NonNullable<RequestContext['parsed']>['messages']): string | undefined {
  let newest: string | undefined;
  for (const m of messages) {
    const v = m.kind === 'response' ? undefined : metaVersion(m.params);
    if (v !== undefined && (newest === undefined || v > newest)) newest = v;
  }
  return newest;
}

function checkVersion(header: string | string[] | undefined, supported: ReadonlySet<string>): StageResult {
  if (header === undefined) return CONTINUE;
  const v = Array.isArray(header) ? header[0] : header;
  if (v !== undefined && supported.has(v.trim())) return CONTINUE;
  return deny(
    new RequestError(
      'ERR_REQUEST_PROTOCOL_VERSION',
      `Bad Request: Unsupported protocol version ${String(v).slice(0, 40)}`,
      {
        data: { supported: [...supported], requested: String(v).slice(0, 40) },
      },
    ),
  );
}

function checkMcpHeaders(
  headers: Record<string, string | string[] | undefined>,
  rawHeaders: readonly string[],
  parsed: NonNullable<RequestContext['parsed']>,
): StageResult {
  const method = single(headers['mcp-method']);
  const name = single(headers['mcp-name']);
  const msg = parsed.messages[0];
  // 2026-07-28: the MCP-Protocol-Version header must match the body's `_meta` protocol version.
  const version = single(headers['mcp-protocol-version'])?.trim();
  const bodyVersion = msg && msg.kind !== 'response' ? metaVersion(msg.params) : undefined;
  if (version !== undefined && bodyVersion !== undefined && bodyVersion !== version) {
    return deny(mismatch("MCP-Protocol-Version header does not match the body's protocol version"));
  }
  const missing = missingStandardHeader(version ?? bodyVersion, parsed, version, method, name);
  if (missing)
    return deny(mismatch(`${missing} header is missing (required since MCP ${HEADER_MIRRORING_SINCE})`));
  if (method === undefined && name === undefined) return CONTINUE;
  if (parsed.batch || !msg || msg.kind === 'response') {
    return deny(mismatch('Mcp-Method/Mcp-Name headers require a single request or notification'));
  }
  if (method !== undefined && method !== msg.method) {
    return deny(mismatch(`Mcp-Method header ${method.slice(0, 60)} does not match the body's method`));
  }
  if (name !== undefined) {
    // Node joins a header sent on two lines into one value (`a, b`), which a body name `a, b` would match
    // while something in front acts on `a`.
    const decoded = fieldLines(rawHeaders, 'mcp-name') === 1 ? decodeHeaderValue(name) : undefined;
    if (decoded === undefined)
      return deny(mismatch('Mcp-Name header is malformed (sent twice, or invalid Base64)'));
    if (decoded !== nameOf(msg.method, msg.params))
      return deny(mismatch("Mcp-Name header does not match the body's name"));
  }
  return CONTINUE;
}

/**
 * From the first revision that mirrors headers ({@link HEADER_MIRRORING_SINCE}), the standard request headers
 * are required: `MCP-Protocol-Version` and `Mcp-Method` on every request, `Mcp-Name` on the requests that name
 * a tool, prompt or resource (by a string `params.name` or `params.uri`). "A required standard header … is
 * missing" is a validation failure every server that processes the body must refuse (400, -32020): something
 * in front may route on them. Their use on notifications is not defined, so none is required there.
 */
const NAMED_METHODS = new Set(['tools/call', 'resources/read', 'prompts/get']);

/** The standard header a request of a revision that requires them lacks, or undefined. */
function missingStandardHeader(
  revision: string | undefined,
  parsed: NonNullable<RequestContext['parsed']>,
  version: string | undefined,
  method: string | undefined,
  name: string | undefined,
): string | undefined {
  const msg = parsed.messages[0];
  if (
    revision === undefined ||
    revision < HEADER_MIRRORING_SINCE ||
    parsed.batch ||
    msg?.kind !== 'request'
  ) {
    return undefined;
  }
  if (version === undefined) return 'MCP-Protocol-Version';
  if (method === undefined) return 'Mcp-Method';
  // Required where the body carries the value it mirrors (a string): the SDK client sends none for a
  // name that is not one, and its server leaves such a body to params validation, as the upstream does.
  if (name === undefined && NAMED_METHODS.has(msg.method) && nameOf(msg.method, msg.params) !== undefined)
    return 'Mcp-Name';
  return undefined;
}

function nameOf(method: string, params: unknown): string | undefined {
  if (!isRecord(params)) return undefined;
  if (method === 'tools/call' || method === 'prompts/get')
    return typeof params.name === 'string' ? params.name : undefined;
  if (method.startsWith('resources/')) return typeof params.uri === 'string' ? params.uri : undefined;
  // The 2026-07-28 tasks extension names the task in `Mcp-Name` (tasks/get, tasks/update, tasks/cancel).
  if (method.startsWith('tasks/')) return typeof params.taskId === 'string' ? params.taskId : undefined;
  return undefined;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function mismatch(message: string): RequestError {
  return new RequestError('ERR_REQUEST_HEADER_MISMATCH', `Bad Request: ${message}`);
}
