/**
 * The authenticated caller, as every later stage and the policy see it.
 *
 * @module
 */

export type AuthMethod = 'jwt' | 'introspection' | 'api_key' | 'anonymous';

export interface Principal {
  /** Stable subject id (`sub` claim or the API key's subject). */
  readonly id: string | null;
  readonly tenant: string | null;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly clearance: string | null;
  readonly authMethod: AuthMethod;
  /** API key id, for keys. */
  readonly keyId?: string;
  /** Token id (`jti`), for tokens that carry one. */
  readonly tokenId?: string;
  /** Epoch seconds after which the credential is no longer valid. */
  readonly expiresAt?: number;
  /** The verified claims (JWT, introspection answer) or key metadata, for the policy. Never the raw token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export const ANONYMOUS: Principal = Object.freeze({
  id: null,
  tenant: null,
  roles: Object.freeze([]) as readonly string[],
  scopes: Object.freeze([]) as readonly string[],
  clearance: null,
  authMethod: 'anonymous',
  claims: Object.freeze({}),
});
