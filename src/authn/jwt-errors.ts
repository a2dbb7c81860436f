/**
 * The edge between jose and the sidecar's errors: every failure of JWT verification becomes an
 * `AuthnError` with a short message safe to show (never the token) and the original error as `cause`.
 * Key-fetch failures are 503 (`ERR_AUTHN_UNAVAILABLE`, the request is denied); everything else is 401.
 *
 * @module
 */
import { errors } from 'jose';
import { AuthnError } from '../errors/errors.js';
import { KeyNotYetFetchedError, KeysUnavailableError } from './jwks.js';
import { UnusableKeyError } from './unusable-keys.js';

const CLAIM_MESSAGES: Readonly<Record<string, string>> = {
  aud: 'audience not accepted',
  iss: 'issuer not accepted',
  nbf: 'token not yet valid',
  exp: 'token has no valid exp',
  iat: 'token has no valid iat',
};

export function toAuthnError(err: unknown): AuthnError {
  if (err instanceof AuthnError) return err;
  if (err instanceof KeysUnavailableError) {
    return new AuthnError('ERR_AUTHN_UNAVAILABLE', 'token keys unavailable', { cause: err });
  }
  const e = new AuthnError('ERR_AUTHN_INVALID_TOKEN', messageFor(err), { cause: err });
  // Neither is the caller's guess: a key the issuer may just have added, or one it serves broken (every
  // token it signs would count as a failed login, and the default IP rule would block whole offices).
  if (err instanceof KeyNotYetFetchedError || err instanceof UnusableKeyError) e.uncounted = true;
  return e;
}

function messageFor(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    // With maxTokenAge jose checks the iat is past itself: the same words as the verifier's own check.
    if (err.claim === 'iat' && err.reason === 'check_failed') return 'token issued in the future';
    return CLAIM_MESSAGES[err.claim] ?? `claim ${err.claim} not accepted`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof KeyNotYetFetchedError) {
    return 'no key matches the token yet (the key set was fetched moments ago; it is fetched again shortly)';
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token';
  if (err instanceof UnusableKeyError) return "the token's key in the issuer's key set cannot be used";
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token';
  if (err instanceof errors.JOSENotSupported) return 'unsupported token or algorithm';
  return 'token rejected';
}
