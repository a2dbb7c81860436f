/**
 * Who a session (or task, or stream) belongs to, as one string key; and the legacy session a URL names.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';

/**
 * Who owns a session: auth method, issuer (for tokens: with several issuers configured, one's `alice` is
 * not another's), tenant and subject, as JSON so that no value containing a separator can pose as another
 * (`a:b` + `c` against `a` + `b:c`).
 */
export function ownerKey(p: Principal): string {
  const token = p.authMethod === 'jwt' || p.authMethod === 'introspection';
  const iss = token && typeof p.claims.iss === 'string' ? p.claims.iss : null;
  return JSON.stringify([p.authMethod, iss, p.tenant, p.id]);
}

/** The legacy HTTP+SSE session a messages-endpoint URL names (its `sessionId` query), or null. */
export function legacySessionId(url: string | undefined): string | null {
  return new URL(url ?? '/', 'http://sidecar').searchParams.get('sessionId');
}
