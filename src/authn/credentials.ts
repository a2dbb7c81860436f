/**
 * Picks the one credential a request carries. `Authorization: Bearer <value>` is a JWT unless the value
 * starts with `<apiKeys.prefix>_`, in which case it is an API key, as is the value of the
 * `apiKeys.header` header. Two different credentials, or an authorization scheme other than Bearer, are
 * refused rather than guessed at.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AuthnError } from '../errors/errors.js';

export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'jwt'; readonly token: string }
  | { readonly kind: 'api_key'; readonly key: string };

export interface CredentialOptions {
  readonly apiKeyPrefix: string;
  /** Lower-case header name, e.g. `x-api-key`. */
  readonly apiKeyHeader: string;
}

const BEARER_RE = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

export function extractCredential(headers: IncomingHttpHeaders, o: CredentialOptions): Credential {
  const fromAuthorization = bearer(headers.authorization, o.apiKeyPrefix);
  const headerKey = single(headers[o.apiKeyHeader]);
  const fromHeader: Credential | null = headerKey ? { kind: 'api_key', key: headerKey } : null;
  if (fromAuthorization && fromHeader) {
    const same = fromAuthorization.kind === 'api_key' && fromAuthorization.key === fromHeader.key;
    if (!same) throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'more than one credential presented');
  }
  return fromAuthorization ?? fromHeader ?? { kind: 'none' };
}

function bearer(value: string | undefined, prefix: string): Credential | null {
  if (value === undefined || value.trim() === '') return null;
  const m = BEARER_RE.exec(value);
  if (!m?.[1]) throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'expected Authorization: Bearer <token>');
  const token = m[1];
  return token.startsWith(`${prefix}_`) ? { kind: 'api_key', key: token } : { kind: 'jwt', token };
}

function single(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new AuthnError('ERR_AUTHN_INVALID_API_KEY', 'invalid API key');
    return single(value[0]);
  }
  const v = value?.trim();
  return v ? v : null;
}
