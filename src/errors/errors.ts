/**
 * Error classes with stable string codes. Every stage that says no throws or returns one of these; the
 * mapping to HTTP and JSON-RPC lives in `http.ts` and `jsonrpc.ts`. Third-party errors are wrapped at
 * the edge of their folder and kept as `cause` (logged, never sent to the client).
 *
 * @module
 */
import { codeInfo, type DenyReason, type ErrorCode } from './codes.js';

export interface SidecarErrorOptions {
  readonly cause?: unknown;
  /** Extra JSON-RPC `data` fields and response details (safe to show the caller). */
  readonly data?: Readonly<Record<string, unknown>>;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly data: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options: SidecarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.data = options.data ?? {};
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return codeInfo(this.code).status;
  }

  get reason(): DenyReason {
    return codeInfo(this.code).reason;
  }
}

export class RequestError extends SidecarError {}
export class AuthnError extends SidecarError {
  /**
   * The subject the refused credential belongs to, when that is known for sure (an API key whose id exists
   * but whose secret is wrong, or which is revoked, inactive or expired): counted by `auth_failures_subject`
   * abuse rules. Never sent to the caller.
   */
  subject?: string;
  /** The tenant of that subject (the key's), null for none: a subject is counted and blocked per tenant. */
  tenant?: string | null;
  /**
   * True when the credential could not be checked for good (a token naming a key the issuer may have just
   * added, during the key set's refetch cooldown): refused, but no failed authentication for abuse rules.
   */
  uncounted?: boolean;
}
export class PolicyError extends SidecarError {}
export class RateLimitError extends SidecarError {}
export class UpstreamError extends SidecarError {}

/** The denial of a request whose client closed the connection `when` (status 499, never sent). */
export function clientClosed(when: string): RequestError {
  return new RequestError('ERR_CLIENT_CLOSED', `Client Closed Request: the connection closed ${when}`);
}

/** What Node's HTTP server answers itself, by the error it closed a connection with mid-request. */
const NODE_ANSWERS: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['ERR_REQUEST_TIMEOUT', 'Request Timeout: the body did not arrive in time'],
  HPE_HEADER_OVERFLOW: [
    'ERR_REQUEST_HEADERS',
    'Request Header Fields Too Large: the trailer fields are too large',
  ],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [
    'ERR_REQUEST_TOO_LARGE',
    'Payload Too Large: a chunk extension is too large',
  ],
};

/** What {@link connectionClosed} reads of a request (an `IncomingMessage`). */
export interface ClosedRequest {
  /** Its connection: `errored` holds the error Node closed it with. */
  readonly socket: { readonly errored?: unknown } | null;
  /** Whether it had arrived whole, its body too. */
  readonly complete: boolean;
}

/**
 * The denial of a request whose connection closed `when`. Usually the client went away (499, never sent). But
 * when Node's HTTP server gave up on the connection itself — the body not in within its `requestTimeout`, or
 * its framing broken — it wrote an answer of its own (408, 400, 431, 413) before closing it: that is what the
 * client got, and what logs, metrics and traces must say. A request that had arrived whole (`complete`) was not
 * what Node refused: it came after it on the connection, a request pipelined behind it, whose answer the
 * client reads as this request's reply.
 */
export function connectionClosed(req: ClosedRequest, when: string): RequestError {
  const whole = req.complete;
  const code = (req.socket?.errored as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string') {
    // The client's own end of the connection mid-request is it leaving: Node's 400 then reaches nobody.
    const framing = code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE';
    const [known, text] =
      NODE_ANSWERS[code] ??
      (framing ? ['ERR_REQUEST_FRAMING', `Bad Request: the body's HTTP framing is broken, ${code}`] : []);
    if (known && text)
      return new RequestError(
        known,
        whole ? refusedBehind(text, code) : `${text} (answered by Node's HTTP server)`,
      );
  }
  return clientClosed(when);
}

/** The text of Node's answer to a request pipelined behind a whole one (its status's words, then what happened). */
const refusedBehind = (text: string, code: string): string =>
  `${text.slice(0, text.indexOf(':'))}: Node's HTTP server refused the request pipelined behind this one on its connection, ${code}, answered it and closed the connection; the client reads that answer as this request's reply`;

/** Thrown by configuration loading; carries every issue with its dotted path. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = new.target.name;
    this.issues = issues;
  }
}

/** Turns anything thrown into a SidecarError; unknown errors become ERR_INTERNAL with the cause kept. */
export function toSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  return new SidecarError('ERR_INTERNAL', 'internal error', { cause: err });
}
