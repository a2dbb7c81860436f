/**
 * OAuth 2.0 token introspection (RFC 7662) for opaque access tokens, which many authorization servers
 * issue instead of JWTs: the token is POSTed to the server's introspection endpoint with the sidecar's
 * client credentials (HTTP Basic, RFC 6749 §2.3.1), and the answer decides. An answer is accepted only when
 * it is `active`, names this server among its `aud` (RFC 8707, the same audiences as JWTs), carries an `exp`
 * still ahead (and an `nbf` passed), is no refresh or ID token, is not bound to a key (`cnf`: DPoP, mTLS),
 * and names the configured issuer if one is.
 * Its claims become the principal through `authn.jwt.claims`, and `authn.jwt.requiredScopes` apply.
 *
 * Active answers are cached by the token's hash for at most `cacheTtlMs` and never past `exp`, so a busy
 * caller costs one request a minute, not one a call; revocation by `jti` still applies to cached ones. An
 * endpoint that is down, slow, refuses the sidecar's credentials or answers something else is a 503
 * (`ERR_AUTHN_UNAVAILABLE`): the call is denied, never let through.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { SecretSource } from '../config/secrets.js';
import { AuthnError, ConfigError } from '../errors/errors.js';
import { type ClaimPaths, toPrincipal } from './claims.js';
import { canonicalAudience, refuseNonAccessTokens } from './jwt-verifier.js';
import type { Principal } from './principal.js';
import { challengeScopes } from './scope-challenge.js';
import { TokenCache, tokenKey } from './token-cache.js';

/** The most of an introspection answer that is read; a larger one is refused. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** The deepest nesting of arrays and objects an introspection answer may have. */
export const MAX_ANSWER_DEPTH = 64;

export interface IntrospectorOptions {
  readonly endpoint: string;
  readonly clientId: string;
  /** The client secret, read when each request is made (a rotated Secret is used at once). */
  readonly clientSecret: () => Buffer | null;
  readonly issuer?: string | undefined;
  /** Accepted `aud` values (authn.jwt.audiences, else the resource identifier). */
  readonly audiences: readonly string[];
  readonly claims: ClaimPaths;
  readonly requiredScopes: readonly string[];
  readonly clockToleranceSec: number;
  readonly timeoutMs: number;
  readonly cacheTtlMs: number;
  readonly cache: TokenCache;
  readonly isRevoked: (jti: string) => boolean;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly fetch?: typeof fetch;
}

/** RFC 7662 §2.2: `active` is required; the rest is read where present (other members are kept as claims). */
const AnswerSchema = z.looseObject({
  active: z.boolean(),
  exp: z.number().optional(),
  nbf: z.number().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  iss: z.string().optional(),
  token_type: z.string().optional(),
});

const unavailable = (message: string, cause?: unknown) =>
  new AuthnError('ERR_AUTHN_UNAVAILABLE', message, cause === undefined ? {} : { cause });
/** A request that threw (network, timeout, while connecting or reading the body). */
const failed = (err: unknown) =>
  unavailable(`token introspection ${(err as Error)?.name === 'TimeoutError' ? 'timed out' : 'failed'}`, err);
const invalid = (message: string) => new AuthnError('ERR_AUTHN_INVALID_TOKEN', message);

export class TokenIntrospector {
  readonly #o: IntrospectorOptions;
  readonly #audiences: ReadonlySet<string>;

  constructor(o: IntrospectorOptions) {
    this.#o = o;
    this.#audiences = new Set(o.audiences.map(canonicalAudience));
  }

  /** The principal of a token introspected before, without any await; revocation still applies. */
  fromCache(token: string): Principal | undefined {
    const cached = this.#o.cache.get(tokenKey(token), this.#o.now());
    return cached ? this.#checkRevoked(cached) : undefined;
  }

  async verify(token: string): Promise<Principal> {
    const key = tokenKey(token);
    const cached = this.#o.cache.get(key, this.#o.now());
    if (cached) return this.#checkRevoked(cached);
    const answer = await this.#ask(token);
    const now = this.#o.now();
    if (!answer.active) throw invalid('token is not active');
    if (answer.token_type !== undefined && /refresh|id[_-]?token/i.test(answer.token_type)) {
      throw invalid('not an access token');
    }
    refuseNonAccessTokens(answer as JWTPayload);
    // A sender-constrained token (DPoP, RFC 9449 §6.2; mTLS, RFC 8705 §3.2) is only valid with a proof of its
    // key, which a Bearer request does not carry and the sidecar cannot check: taken as a bearer token, a
    // stolen bound token would work here.
    if (answer.cnf !== undefined || answer.token_type?.toLowerCase() === 'dpop') {
      throw invalid('token is bound to a key (cnf)');
    }
    const tolerance = this.#o.clockToleranceSec * 1000;
    if (answer.exp === undefined) throw invalid('token has no valid exp');
    if (answer.exp * 1000 + tolerance <= now) throw invalid('token expired');
    if (answer.nbf !== undefined && answer.nbf * 1000 - tolerance > now) throw invalid('token not yet valid');
    const audiences =
      answer.aud === undefined ? [] : typeof answer.aud === 'string' ? [answer.aud] : answer.aud;
    if (!audiences.some((a) => this.#audiences.has(canonicalAudience(a)))) {
      throw invalid('audience not accepted');
    }
    if (this.#o.issuer !== undefined && answer.iss !== this.#o.issuer) throw invalid('issuer not accepted');
    const principal = this.#checkRevoked(
      Object.freeze({
        ...toPrincipal(answer as JWTPayload, this.#o.claims),
        authMethod: 'introspection' as const,
      }),
    );
    const missing = this.#o.requiredScopes.filter((s) => !principal.scopes.includes(s));
    if (missing.length) {
      throw new AuthnError('ERR_AUTHN_INSUFFICIENT_SCOPE', 'token lacks a required scope', {
        data: { scope: challengeScopes(this.#o.requiredScopes, principal.scopes).join(' ') },
      });
    }
    this.#o.cache.set(key, principal, Math.min(answer.exp * 1000, now + this.#o.cacheTtlMs), now);
    return principal;
  }

  /** One introspection request; every way it can fail is a 503 naming the cause (never the token). */
  async #ask(token: string): Promise<z.infer<typeof AnswerSchema>> {
    const secret = this.#o.clientSecret();
    if (!secret || secret.length === 0) throw unavailable('token introspection has no client secret');
    const credentials = `${formEncode(this.#o.clientId)}:${formEncode(secret.toString('utf8'))}`;
    let res: Response;
    try {
      res = await (this.#o.fetch ?? fetch)(this.#o.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
        // A redirect would carry the token and the sidecar's credentials somewhere else.
        redirect: 'error',
      });
    } catch (err) {
      throw failed(err);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw unavailable(
        `the introspection endpoint refused the sidecar's client credentials (HTTP ${res.status})`,
      );
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw unavailable(`the introspection endpoint answered HTTP ${res.status}`);
    }
    // The timeout covers the body too (it aborts the stream), and the connection may break off while it
    // is read: both are the endpoint's failure (503), not an internal error.
    let text: string;
    try {
      text = await readLimited(res);
    } catch (err) {
      throw err instanceof AuthnError ? err : failed(err);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw unavailable('the introspection endpoint answered no JSON', err);
    }
    // Its members become the principal's claims, which are walked recursively (frozen, mapped, serialised):
    // nesting that deep would overflow the stack there.
    if (!nestedWithin(json, MAX_ANSWER_DEPTH)) {
      throw unavailable(
        `the introspection endpoint answered JSON nested deeper than ${MAX_ANSWER_DEPTH} levels`,
      );
    }
    const parsed = AnswerSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw unavailable(
        `the introspection endpoint answered no introspection response (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
      );
    }
    return parsed.data;
  }

  #checkRevoked(p: Principal): Principal {
    if (p.tokenId !== undefined && this.#o.isRevoked(p.tokenId)) {
      throw new AuthnError('ERR_AUTHN_REVOKED', 'token revoked');
    }
    return p;
  }
}

/**
 * The introspector of `authn.introspection`, with the JWT settings it shares (audiences, claim paths,
 * required scopes, clock tolerance, cache size). Throws `ConfigError` for what must stop the sidecar: no
 * audience to bind tokens to, no client secret.
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
  const { jwt, resource } = config.authn;
  const audiences = jwt.audiences.length ? jwt.audiences : resource ? [resource] : [];
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
    timeoutMs: introspection.timeoutMs,
    cacheTtlMs: introspection.cacheTtlMs,
    cache: new TokenCache(jwt.cacheMaxEntries),
    isRevoked: deps.isRevoked,
    now: deps.now,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
}

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 asks for client credentials. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

async function readLimited(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw unavailable(`the introspection answer is over ${MAX_ANSWER_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw unavailable(`the introspection answer is over ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether `value` nests arrays and objects at most `max` deep (iteratively: no recursion to overflow). */
function nestedWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return false;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return true;
}
