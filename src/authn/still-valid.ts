/**
 * Whether an authenticated principal's credential still holds, from memory only (the revocation snapshot
 * and its expiry): what the `recheck` stage asks once a request's body is in, which may be 30 s after its
 * credentials were checked.
 *
 * @module
 */
import { AuthnError } from '../errors/errors.js';
import type { Principal } from './principal.js';

/**
 * Throws the AuthnError the credential would get now: its token's `jti` or its key revoked, its token past
 * `exp` and the clock tolerance (as jose accepts it), its key past its expiry. `nowMs`: epoch milliseconds.
 */
export function refuseWithdrawn(
  p: Pick<Principal, 'authMethod' | 'tokenId' | 'keyId' | 'expiresAt'>,
  revocation: { isTokenRevoked(jti: string): boolean; isKeyRevoked(id: string): boolean },
  clockToleranceSec: number,
  nowMs: number,
): void {
  const key = p.authMethod === 'api_key';
  if (p.tokenId !== undefined && revocation.isTokenRevoked(p.tokenId)) {
    throw new AuthnError('ERR_AUTHN_REVOKED', 'token revoked');
  }
  if (p.keyId !== undefined && revocation.isKeyRevoked(p.keyId)) {
    throw new AuthnError('ERR_AUTHN_REVOKED', 'API key revoked');
  }
  const grace = key ? 0 : clockToleranceSec;
  if (p.expiresAt !== undefined && nowMs >= (p.expiresAt + grace) * 1000) {
    throw key
      ? new AuthnError('ERR_AUTHN_INVALID_API_KEY', 'invalid API key')
      : new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token expired');
  }
}
