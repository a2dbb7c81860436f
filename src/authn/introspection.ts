/**
 * OAuth 2.0 token introspection (RFC 7662) for opaque access tokens, which many authorization servers
 * issue instead of JWTs: the token is POSTed to the server's introspection endpoint with the sidecar's
 * client credentials (HTTP Basic, RFC 6749 §2.3.1), and the answer decides. An answer is accepted only when
 * it is `active`, names this server among its `aud` (RFC 8707, the same audiences as JWTs), carries an `exp`
 * still ahead (and an `nbf` passed), is no refresh or ID token, is not bound to a key (`cnf`: DPoP, mTLS),
 * names the configured issuer if one is, and lives no longer than `authn.jwt.maxLifetimeSec` when set.
 * Its claims become the principal through `authn.jwt.claims`, and `authn.jwt.requiredScopes` apply.
 *
 * Active answers are cached by the token's hash for at most `cacheTtlMs` and never past `exp`, so a busy
 * caller costs one request a minute, not one a call; revocation by `jti` still applies to cached ones. A
 * refused token is refused from memory for {@link REFUSED_TTL_MS}. An
 * endpoint that is down, slow, refuses the sidecar's credentials or answers something else is a 503
 * (`ERR_AUTHN_UNAVAILABLE`): the call is denied, never let through — unless the sidecar already knows the
 * token to be expired or revoked (it keeps `exp` and `jti` of the tokens it let in): that is a 401.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import type { Config } from '../config/schema.js';
import type { SecretSource } from '../config/secrets.js';
import { AuthnError, ConfigError } from '../errors/errors.js';
import { type ClaimPaths, toPrincipal } from './claims.js';
import { type IntrospectionEndpoint, introspect, unavailable } from './introspection-request.js';
import { acceptedAudiences, canonicalAudience } from './jwt-verifier.js';
import type { Principal } from './principal.js';
import { refuseWithdrawn } from './still-valid.js';
import { TokenCache, tokenKey } from './token-cache.js';
import {
  admitCached,
  refuseBoundTokens,
  refuseNonAccessTokens,
  refuseOverlong,
  refuseRevoked,
  requireScopes,
} from './token-checks.js';

/**
 * Introspection requests in flight at once (one per distinct token: concurrent calls with one token share
 * one); beyond it a new token is answered 503 at once, so a flood of invented tokens cannot become a flood
 * at the authorization server.
 */
export const MAX_INTROSPECTIONS_IN_FLIGHT = 64;
/**
 * Of those, how many one client (an IPv4 address, an IPv6 /64, as the abuse rules count them) may have
 * started: one client sending invented tokens fills its own share, not the slots everyone else's new tokens
 * need.
 */
export const MAX_INTROSPECTIONS_PER_CLIENT = 8;

/**
 * How long a token the endpoint's answer refused (inactive, another audience, expired, …) is refused from
 * memory, and how many such tokens are kept: a client repeating a dead token cost one introspection per
 * request. Short, as a token not yet valid (`nbf`) becomes so.
 */
export const REFUSED_TTL_MS = 10_000;
export const MAX_REFUSED = 10_000;

/**
 * How many tokens the sidecar remembers the `exp` and `jti` of, past their cache entry (oldest go first):
 * enough for every token of a busy pod's open streams.
 */
export const MAX_KNOWN = 10_000;

/** An `exp` further ahead than this is no access token's (100 years): likely milliseconds, not seconds. */
const MAX_EXP_AHEAD_MS = 100 * 365 * 24 * 3600 * 1000;

export interface IntrospectorOptions extends IntrospectionEndpoint {
  readonly issuer?: string | undefined;
  /** Accepted `aud` values (authn.jwt.audiences, else the resource identifier). */
  readonly audiences: readonly string[];
  readonly claims: ClaimPaths;
  readonly requiredScopes: readonly string[];
  readonly clockToleranceSec: number;
  /** authn.jwt.maxLifetimeSec: refuse an answer whose `exp - iat`, or `exp - now`, exceeds it. */
  readonly maxLifetimeSec?: number | undefined;
  readonly cacheTtlMs: number;
  readonly cache: TokenCache;
  readonly isRevoked: (jti: string) => boolean;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

const invalid = (message: string) => new AuthnError('ERR_AUTHN_INVALID_TOKEN', message);

export class TokenIntrospector {
  readonly #o: IntrospectorOptions;
  readonly #audiences: ReadonlySet<string>;
  /** Introspections in flight, by token hash: concurrent requests with one new token share one. */
  readonly #pending = new Map<string, Promise<Principal>>();
  /** Tokens the endpoint's answer refused, by hash: the refusal and until when it stands (oldest first). */
  readonly #refused = new Map<string, { readonly err: AuthnError; readonly until: number }>();
  /** Introspections in flight by the client that started them (only clients with one or more). */
  readonly #byClient = new Map<string, number>();
  /**
   * The `exp` and `jti` of tokens let in, by hash, kept past their cache entry: while the endpoint cannot be
   * asked, a token known to have expired or been revoked since is refused for that (401, cutting its open
   * streams, as a JWT is while its keys cannot be had), not answered 503. They only ever deny.
   */
  readonly #known = new Map<string, Pick<Principal, 'authMethod' | 'tokenId' | 'expiresAt'>>();

  constructor(o: IntrospectorOptions) {
    this.#o = o;
    this.#audiences = new Set(o.audiences.map(canonicalAudience));
  }

  /** The principal of a token introspected before, without any await; revocation still applies. */
  fromCache(token: string): Principal | undefined {
    const cached = this.#o.cache.get(tokenKey(token), this.#o.now());
    return cached ? admitCached(cached, this.#o.isRevoked, this.#o.requiredScopes) : undefined;
  }

  /**
   * `client` names the caller's address as the abuse rules count it (`abuseIpTarget`); a client with
   * {@link MAX_INTROSPECTIONS_PER_CLIENT} introspections of its own in flight is answered 503 for a new token.
   */
  verify(token: string, client?: string): Promise<Principal> {
    const key = tokenKey(token);
    const cached = this.#o.cache.get(key, this.#o.now());
    if (cached) {
      try {
        return Promise.resolve(admitCached(cached, this.#o.isRevoked, this.#o.requiredScopes));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const refused = this.#refused.get(key);
    if (refused !== undefined) {
      if (refused.until > this.#o.now()) return Promise.reject(refused.err);
      this.#refused.delete(key);
    }
    const known = this.#known.get(key);
    if (known !== undefined) {
      const revocation = { isTokenRevoked: this.#o.isRevoked, isKeyRevoked: () => false };
      try {
        refuseWithdrawn(known, revocation, this.#o.clockToleranceSec, this.#o.now());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const pending = this.#pending.get(key);
    if (pending) return pending;
    if (this.#pending.size >= MAX_INTROSPECTIONS_IN_FLIGHT) {
      return Promise.reject(unavailable('too many token introspections in flight; retry shortly'));
    }
    const ofClient = client === undefined ? 0 : (this.#byClient.get(client) ?? 0);
    if (ofClient >= MAX_INTROSPECTIONS_PER_CLIENT) {
      return Promise.reject(
        unavailable('too many token introspections in flight from this client address; retry shortly'),
      );
    }
    if (client !== undefined) this.#byClient.set(client, ofClient + 1);
    const asked = this.#verifyNow(token, key)
      .catch((err: unknown) => {
        // The answer refused the token (not an outage, nor a scope it lacks, which the cache above keeps).
        if (err instanceof AuthnError && err.code === 'ERR_AUTHN_INVALID_TOKEN') this.#refuse(key, err);
        throw err;
      })
      .finally(() => {
        this.#pending.delete(key);
        if (client !== undefined) this.#released(client);
      });
    this.#pending.set(key, asked);
    return asked;
  }

  #released(client: string): void {
    const n = (this.#byClient.get(client) ?? 1) - 1;
    if (n > 0) this.#byClient.set(client, n);
    else this.#byClient.delete(client);
  }

  #refuse(key: string, err: AuthnError): void {
    if (this.#refused.size >= MAX_REFUSED) {
      const oldest = this.#refused.keys().next().value;
      if (oldest !== undefined) this.#refused.delete(oldest);
    }
    this.#refused.set(key, { err, until: this.#o.now() + REFUSED_TTL_MS });
  }

  #remember(key: string, exp: number, jti: string | undefined): void {
    this.#known.delete(key);
    if (this.#known.size >= MAX_KNOWN) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
    this.#known.set(key, { authMethod: 'introspection', expiresAt: exp, ...(jti ? { tokenId: jti } : {}) });
  }

  async #verifyNow(token: string, key: string): Promise<Principal> {
    const answer = await introspect(token, this.#o);
    const now = this.#o.now();
    if (!answer.active) throw invalid('token is not active');
    if (answer.token_type !== undefined && /refresh|id[_-]?token/i.test(answer.token_type)) {
      throw invalid('not an access token');
    }
    refuseNonAccessTokens(answer as JWTPayload);
    // DPoP-bound (RFC 9449 §6.2) by its type too: its proof cannot be checked on a Bearer request.
    refuseBoundTokens(answer);
    if (answer.token_type?.toLowerCase() === 'dpop') throw invalid('token is bound to a key (cnf)');
    const tolerance = this.#o.clockToleranceSec * 1000;
    if (answer.exp === undefined) throw invalid('token has no valid exp');
    // Seconds since the epoch (RFC 7662): one in milliseconds reads as a token valid for millennia, which
    // streams would trust to their end. The authorization server's fault: an outage, not the caller's.
    if (answer.exp * 1000 > now + MAX_EXP_AHEAD_MS) {
      throw unavailable('the introspection answer names an exp centuries ahead (milliseconds, not seconds?)');
    }
    if (answer.exp * 1000 + tolerance <= now) throw invalid('token expired');
    if (answer.nbf !== undefined && answer.nbf * 1000 - tolerance > now) throw invalid('token not yet valid');
    refuseOverlong(
      { exp: answer.exp, iat: answer.iat },
      this.#o.maxLifetimeSec,
      this.#o.clockToleranceSec,
      now,
    );
    const audiences =
      answer.aud === undefined ? [] : typeof answer.aud === 'string' ? [answer.aud] : answer.aud;
    if (!audiences.some((a) => this.#audiences.has(canonicalAudience(a)))) {
      throw invalid('audience not accepted');
    }
    if (this.#o.issuer !== undefined && answer.iss !== this.#o.issuer) throw invalid('issuer not accepted');
    const principal = refuseRevoked(
      Object.freeze({
        ...toPrincipal(answer as JWTPayload, this.#o.claims),
        authMethod: 'introspection' as const,
      }),
      this.#o.isRevoked,
    );
    this.#o.cache.set(key, principal, Math.min(answer.exp * 1000, now + this.#o.cacheTtlMs), now);
    this.#remember(key, answer.exp, principal.tokenId);
    // After caching: a token short of a scope is refused from the cache next time, not introspected again.
    requireScopes(principal, this.#o.requiredScopes);
    return principal;
  }
}

/**
 * The introspector of `authn.introspection`, with the JWT settings it shares (audiences, claim paths,
 * required scopes, clock tolerance, maximum lifetime, cache size). Throws `ConfigError` for what must stop
 * the sidecar: no audience to bind tokens to, no client secret.
 */
export function createIntrospector(
  config: Config,
  introspection: NonNullable<Config['authn']['introspection']>,
  deps: {
    readonly secret: SecretSource;
    readonly isRevoked: (jti: string) => boolean;
    readonly now: () => number;
    readonly fetch?: typeof fetch;
  },
): TokenIntrospector {
  const { jwt } = config.authn;
  const audiences = acceptedAudiences(config.authn);
  if (audiences.length === 0) {
    throw new ConfigError([
      'authn.resource: required (or authn.jwt.audiences) so introspected tokens are bound to this server',
    ]);
  }
  if (!deps.secret.get()) {
    throw new ConfigError([
      'authn.introspection.clientSecretFile: no client secret for the introspection endpoint (the file, or AUTHZ_INTROSPECTION_CLIENT_SECRET)',
    ]);
  }
  return new TokenIntrospector({
    endpoint: introspection.endpoint,
    clientId: introspection.clientId,
    clientSecret: () => deps.secret.get(),
    issuer: introspection.issuer,
    audiences,
    claims: jwt.claims,
    requiredScopes: jwt.requiredScopes,
    clockToleranceSec: jwt.clockToleranceSec,
    maxLifetimeSec: jwt.maxLifetimeSec,
    timeoutMs: introspection.timeoutMs,
    cacheTtlMs: introspection.cacheTtlMs,
    cache: new TokenCache(jwt.cacheMaxEntries),
    isRevoked: deps.isRevoked,
    now: deps.now,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
}
