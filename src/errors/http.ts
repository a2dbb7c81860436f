/**
 * The one mapping from a SidecarError to an HTTP response: status, error-specific headers
 * (`WWW-Authenticate` on 401/403 from authentication, `Retry-After` on 429/503) and a JSON-RPC error body
 * answering each request id of the message (or `id: null` when the body could not be read).
 *
 * @module
 */
import type { JsonRpcId } from '../mcp/action.js';
import { codeInfo } from './codes.js';
import type { SidecarError } from './errors.js';
import { rpcErrorBody } from './jsonrpc.js';

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

export interface ErrorResponseContext {
  /** Ids of the requests in the body, when it was parsed; null answers with `id: null`. */
  readonly ids: readonly JsonRpcId[] | null;
  readonly batch: boolean;
  /** URL of this server's RFC 9728 protected-resource metadata. */
  readonly resourceMetadataUrl: string;
  /**
   * The scopes a token needs (`authn.jwt.requiredScopes`, space-separated): named in the 401 challenges
   * as MCP 2025-11-25 asks, so a client requests them the first time.
   */
  readonly scope?: string;
}

export function toErrorResponse(err: SidecarError, ctx: ErrorResponseContext): ErrorResponse {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...err.headers };
  const challenge = wwwAuthenticate(err, ctx.resourceMetadataUrl, ctx.scope);
  if (challenge) headers['www-authenticate'] = challenge;
  const ids = ctx.ids?.length ? ctx.ids : [null];
  const bodies = ids.map((id) => rpcErrorBody(err, id));
  return { status: codeInfo(err.code).status, headers, body: ctx.batch ? bodies : bodies[0] };
}

/** RFC 6750 §3 challenge with the RFC 9728 `resource_metadata` parameter, as the MCP spec asks. */
function wwwAuthenticate(err: SidecarError, metadataUrl: string, scope = ''): string | undefined {
  const rm = `resource_metadata="${metadataUrl}"`;
  const hint = scope ? `, scope="${quote(scope)}"` : '';
  switch (err.code) {
    case 'ERR_AUTHN_MISSING':
      return `Bearer ${rm}${hint}`;
    case 'ERR_AUTHN_INVALID_TOKEN':
    case 'ERR_AUTHN_INVALID_API_KEY':
    case 'ERR_AUTHN_REVOKED':
      return `Bearer error="invalid_token", error_description="${describe(err)}", ${rm}${hint}`;
    case 'ERR_AUTHN_INVALID_REQUEST':
      return `Bearer error="invalid_request", error_description="${describe(err)}", ${rm}`;
    case 'ERR_AUTHN_INSUFFICIENT_SCOPE': {
      const scope = typeof err.data.scope === 'string' ? err.data.scope : '';
      return `Bearer error="insufficient_scope", error_description="${describe(err)}", scope="${quote(scope)}", ${rm}`;
    }
    default:
      return undefined;
  }
}

/** The longest `error_description`: a policy's reason may hold caller-chosen text, and a header has a budget. */
export const MAX_ERROR_DESCRIPTION_CHARS = 200;

function describe(err: SidecarError): string {
  return quote(err.message).slice(0, MAX_ERROR_DESCRIPTION_CHARS);
}

function quote(s: string): string {
  return s.replace(/["\\]/g, '').replace(/[^\x20-\x7e]/g, '');
}
