/**
 * Picks the one credential a request carries. `Authorization: Bearer <value>` is a JWT unless the value
 * starts with `<apiKeys.prefix>_`, in which case it is an API key, as is the value of the
 * `apiKeys.header` header. Two different credentials (400 `invalid_request`), or an authorization scheme
 * other than Bearer (401 with a bare challenge, RFC 6750 §3.1), are refused rather than guessed at.
 *
 * A credential in the URL's query string is refused too (400 `invalid_request`), whatever the headers
 * carry: the MCP authorization spec forbids access tokens in the query, and the Streamable HTTP route
 * forwards the client's query to the upstream, so accepting one would pass a token through. Refused are
 * RFC 6750's `access_token` parameter and any value that is an API key (the key prefix) or looks like a
 * JWT (`eyJ…` with two dots).
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { decodeProtectedHeader } from 'jose';
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

/** How many `Authorization` lines `rawHeaders` (name, value, name, value, …) holds. */
export function authorizationLines(rawHeaders: readonly string[] | undefined): number {
  let n = 0;
  if (!rawHeaders) return n;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') n++;
  }
  return n;
}

export function extractCredential(
  headers: IncomingHttpHeaders,
  o: CredentialOptions,
  url?: string,
  authorizationLines = 1,
): Credential {
  if (url?.includes('?')) refuseCredentialInQuery(url, o.apiKeyPrefix);
  // Node keeps the first of several Authorization lines; a proxy in front may use the last. Two are two
  // ways of presenting a credential: RFC 6750 §3.1 `invalid_request`, like a header beside a query token.
  if (authorizationLines > 1) {
    throw new AuthnError('ERR_AUTHN_INVALID_REQUEST', 'more than one Authorization header');
  }
  const fromAuthorization = bearer(headers.authorization, o.apiKeyPrefix);
  const headerKey = single(headers[o.apiKeyHeader]);
  const fromHeader: Credential | null = headerKey ? { kind: 'api_key', key: headerKey } : null;
  if (fromAuthorization && fromHeader) {
    const same = fromAuthorization.kind === 'api_key' && fromAuthorization.key === fromHeader.key;
    // RFC 6750 §3.1: more than one method of presenting a token is `invalid_request` (400).
    if (!same) throw new AuthnError('ERR_AUTHN_INVALID_REQUEST', 'more than one credential presented');
  }
  return fromAuthorization ?? fromHeader ?? { kind: 'none' };
}

/** A JWS (three parts) or JWE (five parts) in compact form. */
const JWT_LIKE = /^eyJ[\w-]*(\.[\w-]*){2,4}$/;

/** Throws when the query string of `url` carries a credential (see the module comment). */
function refuseCredentialInQuery(url: string, prefix: string): void {
  // `;` separates parameters for some servers too; names are checked like values (`?eyJ…` alone).
  const query = url.slice(url.indexOf('?') + 1).replaceAll(';', '&');
  const looksLikeCredential = (text: string) => {
    const t = text.trim().replace(/^bearer\s+/i, '');
    return t.startsWith(`${prefix}_`) || JWT_LIKE.test(t);
  };
  for (const [name, value] of new URLSearchParams(query)) {
    const nameIsCredential = looksLikeCredential(name);
    if (name.trim().toLowerCase() === 'access_token' || nameIsCredential || looksLikeCredential(value)) {
      // Never echo the credential: a name that is one is not repeated.
      const where = nameIsCredential ? 'a parameter name' : `parameter "${name.slice(0, 40)}"`;
      throw new AuthnError(
        'ERR_AUTHN_INVALID_REQUEST',
        `credentials must not be sent in the URL query (${where}): use the Authorization header`,
      );
    }
  }
}

function bearer(value: string | undefined, prefix: string): Credential | null {
  if (value === undefined || value.trim() === '') return null;
  // RFC 6750 §3.1: a request using an unsupported authentication method gets a challenge without an
  // error code (as if no credential had been sent); it is still refused, also in `authn.mode: optional`.
  if (!/^Bearer(\s|$)/i.test(value))
    throw new AuthnError(
      'ERR_AUTHN_MISSING',
      'unsupported authorization scheme: send Authorization: Bearer <token>',
    );
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

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * A compact JWS (three base64url parts, the first a JSON header naming its `alg`): verified as a JWT; any
 * other bearer token is opaque, dotted ones too (a PASETO `v4.public.…`, a server's own dotted format).
 */
export function looksLikeJwt(token: string): boolean {
  if (!JWT_SHAPE.test(token)) return false;
  try {
    return typeof decodeProtectedHeader(token).alg === 'string';
  } catch {
    return false;
  }
}
