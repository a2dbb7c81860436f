/**
 * The example server's record of what reached it: one {@link ReceivedCall} per JSON-RPC message that
 * arrived in a POST (Streamable HTTP `/mcp` or legacy SSE `/messages`), with the headers that matter for
 * authorization tests. Tests read it to prove that a denied call never reached the upstream and that
 * the client's credentials were not forwarded. Stream opens (GET `/mcp`, GET `/sse`) and session deletes
 * are not JSON-RPC messages; they go to a separate {@link HttpRequestRecord} list.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';

export type TransportKind = 'streamable-http' | 'sse';

/** One JSON-RPC message received by the server, in arrival order. */
export interface ReceivedCall {
  /** 1, 2, 3, … in arrival order; keeps counting after a reset. */
  readonly seq: number;
  /** ISO-8601 arrival time. */
  readonly at: string;
  readonly transport: TransportKind;
  /** `request` has an id and a method; `notification` has a method only; `response` answers a server request. */
  readonly kind: 'request' | 'notification' | 'response';
  /** JSON-RPC id (requests and responses). */
  readonly id?: string | number;
  /** JSON-RPC method, e.g. `tools/call` (requests and notifications). */
  readonly method?: string;
  /** Tool or prompt name (`tools/call`, `prompts/get`) or resource URI (`resources/read`, …). */
  readonly name?: string;
  /** `params.arguments` of `tools/call` and `prompts/get`. */
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** `params._meta`, when the message has one (progress tokens, trace context). */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** `Mcp-Session-Id` (Streamable HTTP) or the `sessionId` query parameter (SSE). */
  readonly sessionId?: string;
  /** The headers of interest, lower-cased; see {@link pickHeaders}. */
  readonly headers: Readonly<Record<string, string>>;
}

/** One HTTP request that is not a JSON-RPC message: a stream open or a session delete. */
export interface HttpRequestRecord {
  readonly seq: number;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

const EXACT_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'traceparent',
  'tracestate',
  'baggage',
  'mcp-session-id',
  'mcp-protocol-version',
  'x-request-id',
]);
const HEADER_PREFIXES = ['x-mcp-authz-', 'x-forwarded-'];

/** Keeps authorization, x-api-key, trace context and baggage, MCP session/protocol headers, x-request-id, `x-mcp-authz-*` and `x-forwarded-*`. */
export function pickHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (EXACT_HEADERS.has(key) || HEADER_PREFIXES.some((p) => key.startsWith(p))) {
      out[key] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return out;
}

/** In-memory, append-only log of received calls and HTTP requests. */
export class CallLog {
  #seq = 0;
  #calls: ReceivedCall[] = [];
  #requests: HttpRequestRecord[] = [];

  /** Records every JSON-RPC message in `body` (one message or a batch); anything else is ignored. */
  recordBody(
    body: unknown,
    meta: { transport: TransportKind; sessionId?: string; headers: IncomingHttpHeaders },
  ): void {
    const messages = Array.isArray(body) ? body : [body];
    const headers = pickHeaders(meta.headers);
    for (const m of messages) {
      if (!isRecord(m) || m.jsonrpc !== '2.0') continue;
      this.#calls.push(describe(m, ++this.#seq, meta.transport, meta.sessionId, headers));
    }
  }

  /** Records a non-JSON-RPC HTTP request (stream open, session delete). */
  recordHttp(method: string, path: string, headers: IncomingHttpHeaders): void {
    this.#requests.push({
      seq: ++this.#seq,
      at: new Date().toISOString(),
      method,
      path,
      headers: pickHeaders(headers),
    });
  }

  calls(): ReceivedCall[] {
    return [...this.#calls];
  }

  httpRequests(): HttpRequestRecord[] {
    return [...this.#requests];
  }

  reset(): void {
    this.#calls = [];
    this.#requests = [];
  }
}

function describe(
  m: Record<string, unknown>,
  seq: number,
  transport: TransportKind,
  sessionId: string | undefined,
  headers: Record<string, string>,
): ReceivedCall {
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : undefined;
  const method = typeof m.method === 'string' ? m.method : undefined;
  const kind = method === undefined ? 'response' : id === undefined ? 'notification' : 'request';
  const params = isRecord(m.params) ? m.params : {};
  const name =
    typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const args = isRecord(params.arguments) ? params.arguments : undefined;
  const meta = isRecord(params._meta) ? params._meta : undefined;
  return {
    seq,
    at: new Date().toISOString(),
    transport,
    kind,
    ...(id !== undefined && { id }),
    ...(method !== undefined && { method }),
    ...(name !== undefined && { name }),
    ...(args !== undefined && { arguments: args }),
    ...(meta !== undefined && { meta }),
    ...(sessionId !== undefined && { sessionId }),
    headers,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
