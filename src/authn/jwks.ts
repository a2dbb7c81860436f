/**
 * Key resolution for JWT verification. Asymmetric algorithms use the issuer's JWKS through jose's
 * `createRemoteJWKSet` (cached for `cacheMaxAge`, refetched on an unknown `kid` once `cooldown` has
 * passed, each fetch bounded by `timeout`); HS* algorithms use the shared secret. Failures to *get* keys
 * — timeout, connection refused, a non-200 or unparsable JWKS, a missing HS secret — become
 * `KeysUnavailableError`, which the verifier maps to 503; everything else stays a jose error (401), as does
 * a key of the set that cannot be imported (`unusable-keys.ts`: the token's fault, not the issuer's outage).
 *
 * A failed fetch starts a cooldown of its own: jose's counts only from a successful fetch, so while the
 * issuer is down every token naming an unknown `kid` (anyone can forge one) or arriving after the set went
 * stale would fetch the set again. For `cooldown` after a failure, keys come from the set fetched last
 * while it is fresh, and anything that would need a fetch is answered `KeysUnavailableError` at once.
 *
 * @module
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type ExportedJWKSCache,
  errors,
  type FlattenedJWSInput,
  type JWTHeaderParameters,
  type JWTVerifyGetKey,
  jwksCache,
} from 'jose';
import { HS_SECRET_MIN_BYTES } from '../config/defaults.js';
import type { SecretSource } from '../config/secrets.js';
import { UnknownKids } from './unknown-kids.js';
import { UnusableKeys } from './unusable-keys.js';

/** Keys could not be obtained; the token may well be valid. */
export class KeysUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The token names a key the cached key set lacks, and the set was fetched too recently (`cooldown`) to be
 * fetched again: the token may be signed with a key the issuer has just added. Still a 401, but not a
 * failed authentication to count against the caller (a key rotation would otherwise get busy clients'
 * addresses blocked by the abuse rules).
 */
export class KeyNotYetFetchedError extends errors.JWKSNoMatchingKey {}

export interface KeyResolverOptions {
  readonly jwksUri?: string | undefined;
  readonly hsSecret?: SecretSource | null | undefined;
  readonly timeoutMs: number;
  readonly cooldownMs: number;
  readonly cacheMaxAgeMs: number;
  readonly fetch?: typeof fetch | undefined;
  /** Epoch milliseconds (tests). */
  readonly now?: () => number;
  /** A fetch failed after a key set was fetched: once per outage, with the failure (for the log). */
  readonly onOutage?: (failure: string) => void;
  /** A fetch succeeded again after `onOutage` (a key found in the set fetched before is no fetch). */
  readonly onRecovered?: () => void;
  /** A key of the set cannot be used (tokens naming it get 401): once per kid, with the reason (for the log). */
  readonly onUnusableKey?: (kid: string, reason: string) => void;
}

export interface KeyResolver {
  readonly getKey: JWTVerifyGetKey;
  /** Fetches the JWKS now (start-up warm-up); rejects with `KeysUnavailableError`. */
  warm(): Promise<void>;
  /** The last key-fetch failure, or null once keys were fetched again. */
  lastFailure(): string | null;
  /** True once a key set has been fetched (always true without a JWKS URI: nothing to fetch). */
  fetched(): boolean;
  /**
   * How many fetched key sets lacked a key the set before held: the verifier empties its cache of verified
   * tokens when this grows, so a key the issuer pulled (a compromised one) verifies no cached token either.
   */
  keysRemoved(): number;
}

export function createKeyResolver(opts: KeyResolverOptions): KeyResolver {
  /** jose stamps `uat` on every successful fetch: how a fetch is told from a key found in the set held. */
  const fetchedSet = {} as ExportedJWKSCache;
  const remote = opts.jwksUri
    ? createRemoteJWKSet(new URL(opts.jwksUri), {
        timeoutDuration: opts.timeoutMs,
        cooldownDuration: opts.cooldownMs,
        cacheMaxAge: opts.cacheMaxAgeMs,
        [jwksCache]: fetchedSet,
        ...(opts.fetch ? { [customFetch]: opts.fetch } : {}),
      })
    : undefined;
  const now = opts.now ?? Date.now;
  let failure: string | null = null;
  /** The `uat` of the set held when the last fetch failed: the failure is over once a fetch changes it. */
  let failedUat: number | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  let fetched = false;
  /** While an outage after a first fetch goes on: the `uat` of the set fetched last before it. */
  let outageSince: number | undefined;
  let removals = 0;
  let seenUat: number | undefined;
  let heldKeys: ReadonlySet<string> = new Set();
  /**
   * After a fetch, whatever the lookup that made it found (a token naming an unknown `kid` fetches too): any
   * key of the set held before that the new set lacks was pulled by the issuer.
   */
  const compareSets = () => {
    if (fetchedSet.uat === seenUat) return;
    seenUat = fetchedSet.uat;
    const keys = new Set((fetchedSet.jwks?.keys ?? []).map((k) => JSON.stringify(k)));
    for (const k of heldKeys) {
      if (!keys.has(k)) {
        removals++;
        break;
      }
    }
    heldKeys = keys;
  };
  const succeeded = () => {
    compareSets();
    // A key found in the set held says nothing of the issuer: only a fetch ends a failure, and its cooldown
    // (else an unknown kid would still get 503 "JWKS unavailable" while /readyz says ok).
    if (fetchedSet.uat !== failedUat) {
      failure = null;
      failedAt = Number.NEGATIVE_INFINITY;
    }
    fetched = true;
    if (outageSince !== undefined && fetchedSet.uat !== outageSince) {
      outageSince = undefined;
      opts.onRecovered?.();
    }
  };
  const failed = (err: unknown) => {
    failure = describe(err);
    failedUat = fetchedSet.uat;
    failedAt = now();
    if (fetched && outageSince === undefined) {
      outageSince = fetchedSet.uat ?? 0;
      opts.onOutage?.(failure);
    }
  };
  const unknown = new UnknownKids();
  const lastSet = new LastFetchedSet();
  const unusableKeys = new UnusableKeys(opts.onUnusableKey);

  const fromJwks = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (!remote) throw new errors.JWKSNoMatchingKey('no JWKS configured for asymmetric algorithms');
    if (now() - failedAt < opts.cooldownMs) {
      // The last fetch failed moments ago: no new fetch, only the last set while it is fresh.
      const key = remote.fresh ? await lastSet.find(remote.jwks(), header, token) : undefined;
      if (key) return key;
      throw new KeysUnavailableError(
        `JWKS unavailable: ${failure ?? 'fetch failed'} (retried after the cooldown)`,
      );
    }
    // jose fetches the set again for an unknown kid only once the cooldown has passed.
    const cooling = remote.coolingDown;
    if (!cooling) unknown.newWindow();
    // Whether jose can make a fetch for a kid in the set held: only once that set is stale.
    const fresh = remote.fresh;
    const uatBefore = fetchedSet.uat;
    try {
      const key = await remote(header, token);
      succeeded();
      return key;
    } catch (err) {
      // Several keys fit a token without kid: the lookup worked (a fetch too, if one was made); the verifier
      // tries each key.
      if (err instanceof errors.JWKSMultipleMatchingKeys) {
        succeeded();
        throw err;
      }
      if (err instanceof errors.JWKSNoMatchingKey) {
        const kid = typeof header.kid === 'string' ? header.kid : '';
        // A fetch was made for this token (no cooldown) and still lacks its kid: no key the issuer added.
        if (!cooling) unknown.confirm(kid);
        else if (remote.coolingDown && unknown.mayBeNew(kid)) {
          throw new KeyNotYetFetchedError('no key of the key set fetched last matches the token');
        }
      }
      if (!isFetchFailure(err)) throw err;
      // A key of the set held is at fault only if no fetch failed first: the stale set's fetch failing is an
      // outage (cooldown, log), whatever key the token names.
      const noFailedFetch = fresh || fetchedSet.uat !== uatBefore;
      const unusable =
        noFailedFetch && mayBeKeyFault(err)
          ? await unusableKeys.check(fetchedSet.jwks, header, token)
          : undefined;
      if (unusable) {
        succeeded(); // a fetch made for this token and then the key failing: the fetch worked
        throw unusable;
      }
      failed(err);
      throw new KeysUnavailableError(`JWKS unavailable: ${failure}`, { cause: err });
    }
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (typeof header.alg === 'string' && header.alg.startsWith('HS')) {
      const secret = opts.hsSecret?.get();
      if (!secret || secret.length < HS_SECRET_MIN_BYTES)
        throw new KeysUnavailableError('HS secret unavailable');
      return new Uint8Array(secret);
    }
    return fromJwks(header, token);
  };

  return {
    getKey,
    async warm() {
      if (!remote) return;
      try {
        await remote.reload();
        succeeded();
      } catch (err) {
        failed(err);
        throw new KeysUnavailableError(`JWKS unavailable: ${failure}`, { cause: err });
      }
    },
    lastFailure: () => failure,
    fetched: () => !remote || fetched,
    keysRemoved: () => {
      compareSets();
      return removals;
    },
  };
}

/**
 * Looks keys up in the key set fetched last: jose's local set over it, made again only when the set's
 * content changed (jose hands out a fresh copy of the set on every call). Several keys fitting a token
 * without `kid` are handed on (`JWKSMultipleMatchingKeys`), for the verifier to try each.
 */
class LastFetchedSet {
  #text: string | undefined;
  #local: ReturnType<typeof createLocalJWKSet> | undefined;

  async find(
    set: Parameters<typeof createLocalJWKSet>[0] | undefined,
    header: JWTHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<Awaited<ReturnType<JWTVerifyGetKey>> | undefined> {
    if (!set) return undefined;
    const text = JSON.stringify(set);
    if (text !== this.#text) {
      this.#text = text;
      this.#local = createLocalJWKSet(set);
    }
    try {
      return await this.#local?.(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      return undefined;
    }
  }
}

/**
 * True for errors of fetching the key set, as opposed to errors about the token. jose throws
 * `JWKSTimeout`, a bare `JOSEError` for a non-200 or unparsable reply, `JWKSInvalid` for a reply that is
 * not a key set, and lets fetch's own `TypeError` through for network failures.
 */
function isFetchFailure(err: unknown): boolean {
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  if (err instanceof errors.JOSEError) return err.code === 'ERR_JOSE_GENERIC';
  return true;
}

/**
 * Whether `err`, taken for a fetch failure, may instead come from importing the key the token names: jose
 * throws `JWKSInvalid` for a private key in the set too, and lets the import's own errors through (a
 * `DOMException` for an EC point off its curve, a `TypeError`), as it lets fetch's.
 */
function mayBeKeyFault(err: unknown): boolean {
  return err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError);
}

function describe(err: unknown): string {
  if (err instanceof errors.JWKSTimeout) return 'timeout';
  const e = err as { message?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.message ?? 'fetch failed';
}
