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
