/**
 * JWT access-token verification → `Principal`. jose checks signature (keys from `jwks.ts`), algorithm
 * allow-list (never `none`), issuer, audience (`authn.jwt.audiences`, else `authn.resource`, RFC 8707),
 * `exp` (required), `nbf`, clock tolerance and `maxTokenAge`. This module adds what jose does not: the
 * `typ` header allow-list, refusing an `iat` in the future without `maxTokenAge` too, the lifetime bound
 * (`maxLifetimeSec`), refusing refresh and ID tokens, claim mapping, revocation by `jti` and the required
 * scopes. Verified tokens are cached by hash (`token-cache.ts`) until min(exp, now + JWKS cacheMaxAge,
 * iat + maxTokenAge); a cache hit still checks revocation.
 *
 * @module
 */
import { decodeJwt, errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { Config } from '../config/schema.js';
import { AuthnError } from '../errors/errors.js';
import { toPrincipal } from './claims.js';
import type { KeyResolver } from './jwks.js';
import { toAuthnError } from './jwt-errors.js';
import type { Principal } from './principal.js';
import { type TokenCache, tokenKey } from './token-cache.js';
import {
  admitCached,
  refuseBoundTokens,
  refuseNonAccessTokens,
  refuseOverlong,
  refuseRevoked,
  requireScopes,
} from './token-checks.js';

export interface JwtVerifierOptions {
  readonly jwt: Config['authn']['jwt'];
  /** Accepted audiences (already resolved from `audiences` or `resource`). */
  readonly audiences: readonly string[];
  readonly keys: KeyResolver;
  readonly cache: TokenCache;
  readonly isRevoked: (jti: string) => boolean;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /**
   * The HS secret, when HS algorithms are accepted: once it changes (its file rotated after a leak, say) the
   * tokens verified with the old one are verified again, not served from the cache for up to its max age.
   */
  readonly hsSecret?: { get(): Buffer | null } | null;
}

/** Keycloak `typ` claim values of tokens that are not access tokens. */

export class JwtVerifier {
  readonly #o: JwtVerifierOptions;
  readonly #types: ReadonlySet<string>;
  readonly #verifyOptions: Omit<JWTVerifyOptions, 'currentDate'>;

  /** The accepted audiences with URL scheme and host lower-cased. */
  readonly #audiences: ReadonlySet<string>;
  /** The HS secret the cached tokens were verified under (undefined: no HS algorithms). */
  #hsSecret: Buffer | null | undefined;
  /** {@link KeyResolver.keysRemoved} when the cache was last emptied for it. */
  #keysRemoved = 0;

  constructor(o: JwtVerifierOptions) {
    this.#o = o;
    this.#hsSecret = o.hsSecret?.get();
    this.#audiences = new Set(o.audiences.map(canonicalAudience));
    this.#types = new Set(o.jwt.types.map(normalizeTyp));
    this.#verifyOptions = {
      algorithms: [...o.jwt.algorithms],
      audience: [...o.audiences],
      ...(o.jwt.issuers.length ? { issuer: [...o.jwt.issuers] } : {}),
      requiredClaims: o.jwt.maxTokenAgeSec === undefined ? ['exp'] : ['exp', 'iat'],
      clockTolerance: o.jwt.clockToleranceSec,
      ...(o.jwt.maxTokenAgeSec === undefined ? {} : { maxTokenAge: o.jwt.maxTokenAgeSec }),
    };
  }

  /** The principal of an already verified token, without any await (the hot path); revocation still applies. */
  fromCache(token: string): Principal | undefined {
    const cached = this.#cache().get(tokenKey(token), this.#o.now());
    return cached ? admitCached(cached, this.#o.isRevoked, this.#o.jwt.requiredScopes) : undefined;
  }

  verify(token: string): Promise<Principal> {
    return this.#verify(token, true);
  }

  /** `again`: whether a key pulled while the token was checked may have it checked once more. */
  async #verify(token: string, again: boolean): Promise<Principal> {
    const now = this.#o.now();
    const key = tokenKey(token);
    const cached = this.#cache().get(key, now);
    if (cached) return admitCached(cached, this.#o.isRevoked, this.#o.jwt.requiredScopes);
    const secretBefore = this.#hsSecret;
    const removedBefore = this.#o.keys.keysRemoved();

    let payload: JWTPayload;
    let typ: unknown;
    try {
      const options = { ...this.#verifyOptions, currentDate: new Date(now) };
      const result = await this.#verifySignedBy(token, options).catch((err: unknown) => {
        // MCP: servers SHOULD accept an audience whose scheme or host differs only in case (and the SDK
        // clients add a slash to an origin). jose compares exactly; a signed token whose aud matches once
        // canonicalised ({@link canonicalAudience}) is verified again with that exact aud as the audience,
        // so every other check still runs.
        const same = caseVariantAudience(err, this.#audiences);
        if (same === undefined) throw err;
        return this.#verifySignedBy(token, { ...options, audience: same });
      });
      payload = result.payload;
      typ = result.protectedHeader.typ;
    } catch (err) {
      const e = toAuthnError(err);
      if (e.code === 'ERR_AUTHN_UNAVAILABLE') this.#refuseUnverifiable(token, now);
      throw e;
    }
    // A fetched set lacked a key while this token was checked: it may have been checked with that key (one the
    // issuer pulled, a compromised one, say), taken from the set held before. Checked again with the new set.
    if (this.#o.keys.keysRemoved() !== removedBefore) {
      if (again) return this.#verify(token, false);
      throw new AuthnError(
        'ERR_AUTHN_UNAVAILABLE',
        "the issuer's keys changed while the token was checked; retry shortly",
      );
    }
    if (typ !== undefined && (typeof typ !== 'string' || !this.#types.has(normalizeTyp(typ)))) {
      throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token type not accepted');
    }
    // jose checks that iat is a number when present, but whether it is past only with maxTokenAge.
    const iat = payload.iat;
    if (typeof iat === 'number' && iat > Math.floor(now / 1000) + this.#o.jwt.clockToleranceSec) {
      throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token issued in the future');
    }
    const { maxLifetimeSec, clockToleranceSec } = this.#o.jwt;
    refuseOverlong({ exp: payload.exp as number, iat }, maxLifetimeSec, clockToleranceSec, now);
    refuseNonAccessTokens(payload);
    refuseBoundTokens(payload);
    const principal = refuseRevoked(toPrincipal(payload, this.#o.jwt.claims), this.#o.isRevoked);
    // Verified under a secret rotated meanwhile: not cached, lest it outlive the emptying of the cache.
    this.#cache();
    if (this.#hsSecret === secretBefore)
      this.#o.cache.set(key, principal, this.#cacheUntil(payload, now), now);
    // After caching: a token short of a scope is refused from the cache next time too, not verified again.
    requireScopes(principal, this.#o.jwt.requiredScopes);
    return principal;
  }

  /**
   * jose's verification with the resolved key. A token need not name its key (`kid` is optional, RFC 7515):
   * when several keys of the set fit it (during a rotation), each is tried until one verifies it. A key that
   * fails on its own (an RSA key under 2,048 bits: a `TypeError`) is one that did not verify it; only a
   * claim refused, once a key verified the signature, ends the search.
   */
  async #verifySignedBy(token: string, options: JWTVerifyOptions) {
    try {
      return await jwtVerify(token, this.#o.keys.getKey, options);
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err) {
        try {
          return await jwtVerify(token, key, options);
        } catch (e) {
          if (signedButRefused(e)) throw e;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  /**
   * While the keys cannot be had (JWKS down, key set stale), a token that would be refused even with them —
   * expired, or revoked by its `jti` — is refused for that (401), not answered 503: its client learns to get
   * a new token, and an open stream re-checking it is cut. The claims are unverified here, so they can only
   * deny, never admit.
   */
  #refuseUnverifiable(token: string, now: number): void {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      return;
    }
    if (typeof claims.exp === 'number' && (claims.exp + this.#o.jwt.clockToleranceSec) * 1000 <= now) {
      throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token expired');
    }
    if (typeof claims.jti === 'string' && claims.jti !== '' && this.#o.isRevoked(claims.jti)) {
      throw new AuthnError('ERR_AUTHN_REVOKED', 'token revoked');
    }
  }

  /**
   * The token cache, emptied first when the HS secret has changed since its tokens were verified, or a key
   * set fetched since lacked a key the one before held.
   */
  #cache(): TokenCache {
    const removed = this.#o.keys.keysRemoved();
    if (removed !== this.#keysRemoved) {
      this.#o.cache.clear();
      this.#keysRemoved = removed;
    }
    if (this.#hsSecret !== undefined) {
      const now = this.#o.hsSecret?.get() ?? null;
      // The same Buffer is the usual case; a file read again with the same bytes empties nothing either.
      if (now !== this.#hsSecret && !(now && this.#hsSecret && now.equals(this.#hsSecret))) {
        this.#o.cache.clear();
        this.#hsSecret = now;
      }
    }
    return this.#o.cache;
  }

  /** Never past `exp`, nor past the JWKS cache age, nor past `iat + maxTokenAge`. */
  #cacheUntil(payload: JWTPayload, now: number): number {
    let until = Math.min((payload.exp as number) * 1000, now + this.#o.jwt.jwks.cacheMaxAgeMs);
    if (this.#o.jwt.maxTokenAgeSec !== undefined && typeof payload.iat === 'number') {
      until = Math.min(until, (payload.iat + this.#o.jwt.maxTokenAgeSec) * 1000);
    }
    return until;
  }
}

/** jose got past the signature with this key, and refused the claims: the token is refused for that. */
function signedButRefused(e: unknown): boolean {
  return (
    e instanceof errors.JWTClaimValidationFailed ||
    e instanceof errors.JWTExpired ||
    e instanceof errors.JWTInvalid
  );
}

/** `at+jwt`, `AT+JWT` and `application/at+jwt` are the same type. */
export function normalizeTyp(typ: string): string {
  const t = typ.toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

/** The `aud` values a token must name, JWT or introspected: `authn.jwt.audiences`, else the resource identifier. */
export function acceptedAudiences(authn: Config['authn']): readonly string[] {
  return authn.jwt.audiences.length ? authn.jwt.audiences : authn.resource ? [authn.resource] : [];
}

/**
 * An audience URL with its scheme and host lower-cased (RFC 3986 §6.2.2.1) and, for http and https, an
 * empty path read as `/` and the scheme's default port dropped (§6.2.3): `https://mcp.example.com`,
 * `https://mcp.example.com/` and `https://mcp.example.com:443/` are one resource. MCP recommends the
 * first spelling, while the MCP SDK clients ask for the second (they send the metadata's `resource` as a
 * parsed URL, which gains the slash), so the token comes back with the other one. Anything else stays as
 * it is. Only ASCII letters are folded: `toLowerCase` maps more (the Kelvin sign K to k), which would make
 * another host's name equal to ours.
 */
export function canonicalAudience(aud: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(aud);
  if (!m) return aud;
  const scheme = asciiLower(m[1] ?? '');
  let host = asciiLower(m[2] ?? '');
  let rest = m[3] ?? '';
  const port = DEFAULT_PORTS[scheme];
  if (port !== undefined) {
    if (host.endsWith(port)) host = host.slice(0, -port.length);
    else if (host.endsWith(':')) host = host.slice(0, -1);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  }
  return `${scheme}${host}${rest}`;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http://': ':80', 'https://': ':443' };

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * For jose's "aud" claim failure on a verified token: the token's own aud value that equals an accepted
 * audience once canonicalised, or undefined.
 */
function caseVariantAudience(err: unknown, accepted: ReadonlySet<string>): string | undefined {
  if (!(err instanceof errors.JWTClaimValidationFailed) || err.claim !== 'aud') return undefined;
  const aud = err.payload.aud;
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return values.find((v) => typeof v === 'string' && accepted.has(canonicalAudience(v)));
}
