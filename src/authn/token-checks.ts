/**
 * The checks every access token passes after its issuer vouched for it, whether a JWT verified against
 * the JWKS or an opaque token introspected: that it is an access token, lives no longer than
 * `authn.jwt.maxLifetimeSec`, is not bound to a key, not revoked here, and holds the required scopes.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { AuthnError } from '../errors/errors.js';
import type { Principal } from './principal.js';
import { challengeScopes } from './scope-challenge.js';

const NON_ACCESS_TYP = new Set(['refresh', 'offline', 'id']);

/**
 * Refresh and ID tokens are signed by the same issuer but must never work as access tokens. A `typ` claim
 * that is no string (`["ID"]`) cannot be told to name an access token, so it is refused too.
 */
export function refuseNonAccessTokens(payload: JWTPayload): void {
  const typ = payload.typ;
  if (typ !== undefined && (typeof typ !== 'string' || NON_ACCESS_TYP.has(typ.toLowerCase()))) {
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'not an access token');
  }
  if (payload.token_use !== undefined && payload.token_use !== 'access') {
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'not an access token');
  }
  if (payload.nonce !== undefined) throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'not an access token');
}

/**
 * Refuses a token that lives longer than `maxLifetimeSec` (Envoy's `JwtProvider.max_lifetime`): one whose
 * `exp - iat` exceeds it, or, `iat` or not, whose `exp` is further ahead of now than it plus the clock
 * tolerance (this clock may be behind the issuer's). Both stamps of `exp - iat` come from the issuer's
 * clock, so no tolerance there; a JWT's `iat` is no later than now plus the tolerance (checked before), so
 * for it the second bound follows from the first, while an introspection answer's `iat` is not checked so.
 * A "forever" token (a misconfigured or development issuer, a leaked key) is refused, and a `jti` revoked
 * here need not be held for years. `nowMs`: epoch milliseconds; `exp` was checked to be a number.
 */
export function refuseOverlong(
  claims: { readonly exp: number; readonly iat?: unknown },
  maxLifetimeSec: number | undefined,
  clockToleranceSec: number,
  nowMs: number,
): void {
  if (maxLifetimeSec === undefined) return;
  const { exp, iat } = claims;
  if (
    (typeof iat === 'number' && exp - iat > maxLifetimeSec) ||
    exp * 1000 - nowMs > (maxLifetimeSec + clockToleranceSec) * 1000
  ) {
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token lifetime exceeds authn.jwt.maxLifetimeSec');
  }
}

/**
 * A sender-constrained token (a `cnf` claim: DPoP, RFC 9449 §6.2; mTLS, RFC 8705 §3.2) is valid only with a
 * proof of its key, which a Bearer request does not carry and the sidecar cannot check: taken as a bearer
 * token, a stolen bound token would work here.
 */
export function refuseBoundTokens(claims: Readonly<Record<string, unknown>>): void {
  if (claims.cnf !== undefined)
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token is bound to a key (cnf)');
}

/** `p` unless its token id (`jti`) was revoked. */
export function refuseRevoked(p: Principal, isRevoked: (jti: string) => boolean): Principal {
  if (p.tokenId !== undefined && isRevoked(p.tokenId))
    throw new AuthnError('ERR_AUTHN_REVOKED', 'token revoked');
  return p;
}

/** 403 `insufficient_scope` naming the scopes to ask for, when `p` lacks one of `required`. */
export function requireScopes(p: Principal, required: readonly string[]): void {
  if (required.every((s) => p.scopes.includes(s))) return;
  throw new AuthnError('ERR_AUTHN_INSUFFICIENT_SCOPE', 'token lacks a required scope', {
    data: { scope: challengeScopes(required, p.scopes).join(' ') },
  });
}

/**
 * A cached token's principal, once more checked for what can change while it is cached or was cached
 * without: revocation, and the required scopes (a token short of one is cached too, so its every retry does
 * not cost a signature check or an introspection).
 */
export function admitCached(
  p: Principal,
  isRevoked: (jti: string) => boolean,
  required: readonly string[],
): Principal {
  refuseRevoked(p, isRevoked);
  requireScopes(p, required);
  return p;
}
