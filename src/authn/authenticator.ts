/**
 * The authentication stage's engine: request headers → `Principal`, or an `AuthnError` with a stable
 * code. It composes the credential picker, the JWT verifier (with its key resolver and verified-token
 * cache), the API key verifier and the revocation snapshot, and is one lifecycle component for
 * `main.ts`. Construction checks the settings that must stop the sidecar from starting (an HS secret
 * shorter than 32 bytes, a JWT setup with no audience).
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { HS_SECRET_MIN_BYTES } from '../config/defaults.js';
import type { Config } from '../config/schema.js';
import { openSecret, type SecretSource } from '../config/secrets.js';
import { AuthnError, ConfigError } from '../errors/errors.js';
import type { Component, ComponentState, ComponentStatus } from '../lifecycle.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { abortable } from './abortable.js';
import { ApiKeyVerifier } from './api-keys.js';
import { extractCredential, looksLikeJwt } from './credentials.js';
import { createIntrospector } from './introspection.js';
import { createKeyResolver, type KeyResolver } from './jwks.js';
import { acceptedAudiences, JwtVerifier } from './jwt-verifier.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { RevocationWatcher } from './revocation.js';
import { refuseWithdrawn } from './still-valid.js';
import { TokenCache } from './token-cache.js';

export interface AuthnRequest {
  readonly headers: IncomingHttpHeaders;
  /** The request's URL (path and query): a credential in its query string is refused. */
  readonly url?: string;
  /** A re-check of an open stream's caller: not a use of an API key (no usage recorded). */
  readonly recheck?: boolean;
  /** How many `Authorization` lines the request had (Node keeps only the first in `headers`). */
  readonly authorizationLines?: number;
  /** The caller's address as the abuse rules count it (`abuseIpTarget`): introspections are shared out by it. */
  readonly client?: string;
}

export interface Authenticator extends Component {
  authenticate(req: AuthnRequest, signal?: AbortSignal): Promise<Principal>;
  /**
   * The principal of a bearer token verified before, or of an API key whose record was looked up within its
   * cache lifetime, synchronously (revocation checked, and a key's secret: a refused credential throws its
   * AuthnError); undefined when `authenticate` has to run.
   */
  cached(req: AuthnRequest): Principal | undefined;
  /** Throws the AuthnError `principal`'s credential would get now, revoked or expired since (`still-valid.ts`). */
  stillValid(principal: Principal): void;
}

export interface AuthenticatorDeps {
  readonly store: Store;
  readonly logger: Logger;
  /** Epoch milliseconds. */
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  /** Environment for secrets (tests); defaults to `process.env` inside `config/secrets.ts`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Retry interval of the JWKS fetch after failing at start (tests); {@link JWKS_START_RETRY_MS}. */
  readonly jwksRetryMs?: number;
}

/** How often the JWKS is fetched again after failing at start, until a fetch succeeds. */
export const JWKS_START_RETRY_MS = 5_000;

const RANK: Record<ComponentState, number> = { ok: 0, warn: 1, not_ready: 2, error: 3 };

export function createAuthenticator(config: Config, deps: AuthenticatorDeps): Authenticator {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'authn' });
  const { jwt, apiKeys, mode } = config.authn;
  const secretOpts = { logger, ...(deps.env ? { env: deps.env } : {}) };
  const secrets: SecretSource[] = [];
  try {
    const revocation = new RevocationWatcher({
      store: deps.store,
      intervalMs: config.store.revocationPollIntervalMs,
      logger,
      now,
    });
    let keys: KeyResolver | undefined;
    let jwtVerifier: JwtVerifier | undefined;
    if (jwt.enabled) {
      const hsSecret = jwt.algorithms.some((a) => a.startsWith('HS'))
        ? openSecret(config, 'jwtHsSecret', secretOpts)
        : null;
      if (hsSecret) secrets.push(hsSecret);
      const hsLength = hsSecret?.get()?.length ?? 0;
      if (hsSecret && hsLength < HS_SECRET_MIN_BYTES) {
        // Name where the secret came from: the file when one is set (it wins), else the variable.
        const from = config.authn.jwt.hsSecretFile ? 'authn.jwt.hsSecretFile' : 'AUTHZ_JWT_HS_SECRET';
        throw new ConfigError([
          `${from}: the HS secret must be at least ${HS_SECRET_MIN_BYTES} bytes (has ${hsLength})`,
        ]);
      }
      if (jwt.jwksUri || hsSecret) {
        const audiences = acceptedAudiences(config.authn);
        if (audiences.length === 0) {
          throw new ConfigError([
            'authn.resource: required (or authn.jwt.audiences) so tokens are bound to this server',
          ]);
        }
        keys = createKeyResolver({
          jwksUri: jwt.jwksUri,
          hsSecret,
          ...jwt.jwks,
          fetch: deps.fetch,
          // Once each, not per request: every token needing a fetch is refused (503) meanwhile.
          onOutage: (err) =>
            logger.warn(
              { err },
              'JWKS fetch failed; tokens signed with a key fetched before still verify, others are refused (503) until a fetch succeeds',
            ),
          onRecovered: () => logger.info('JWKS fetched again'),
          onUnusableKey: (kid, reason) =>
            logger.warn(
              { kid, reason },
              'a key of the JWKS cannot be used (logged once per kid): tokens naming it are refused (401)',
            ),
        });
        jwtVerifier = new JwtVerifier({
          jwt,
          audiences,
          keys,
          cache: new TokenCache(jwt.cacheMaxEntries),
          isRevoked: (jti) => revocation.isTokenRevoked(jti),
          now,
          hsSecret,
        });
      } else if (!config.authn.introspection) {
        logger.warn(
          'JWT authentication is enabled but neither authn.jwt.jwksUri nor an HS secret is set: bearer tokens are refused',
        );
      }
    }
    const introspection = config.authn.introspection;
    const clientSecret = introspection
      ? openSecret(config, 'introspectionClientSecret', secretOpts)
      : undefined;
    if (clientSecret) secrets.push(clientSecret);
    const introspector =
      introspection && clientSecret
        ? createIntrospector(config, introspection, {
            secret: clientSecret,
            isRevoked: (jti) => revocation.isTokenRevoked(jti),
            now,
            ...(deps.fetch ? { fetch: deps.fetch } : {}),
          })
        : undefined;
    /** Which verifier a bearer token goes to: introspection for opaque tokens (or all, as configured). */
    const introspects = (token: string): boolean =>
      introspector !== undefined &&
      (introspection?.tokens === 'all' || jwtVerifier === undefined || !looksLikeJwt(token));
    let apiKeyVerifier: ApiKeyVerifier | undefined;
    let pepper: SecretSource | undefined;
    if (apiKeys.enabled) {
      pepper = openSecret(config, 'apiKeyPepper', secretOpts);
      secrets.push(pepper);
      if (!pepper.get()) {
        // /readyz says so too; the file is re-read, so a pepper written later is used from then on.
        logger.warn(
          'API keys are enabled but no pepper is set (authn.apiKeys.pepperFile or AUTHZ_API_KEY_PEPPER): every key is refused until one is',
        );
      }
      apiKeyVerifier = new ApiKeyVerifier({
        store: deps.store,
        pepper,
        pepperFile: apiKeys.pepperFile,
        prefix: apiKeys.prefix,
        logger,
        isRevoked: (id) => revocation.isKeyRevoked(id),
        now,
      });
    }

    let warmRetry: NodeJS.Timeout | undefined;
    const retryMs = deps.jwksRetryMs ?? JWKS_START_RETRY_MS;
    let stopped = false;
    const warmKeys = async (k: KeyResolver, failedBefore = false): Promise<void> => {
      if (stopped || (failedBefore && k.fetched())) return; // stopped, or a request fetched it meanwhile
      try {
        await k.warm();
        if (failedBefore) logger.info('JWKS fetched');
      } catch (err) {
        if (!failedBefore) {
          logger.warn(
            { err: (err as Error).message, retryMs },
            'JWKS not reachable at start; retrying until it is',
          );
        }
        if (stopped) return;
        warmRetry = setTimeout(() => void warmKeys(k, true), retryMs);
        warmRetry.unref();
      }
    };

    const credentialOptions = { apiKeyPrefix: apiKeys.prefix, apiKeyHeader: apiKeys.header };
    const cached = (req: AuthnRequest): Principal | undefined => {
      if (!jwtVerifier && !introspector && !apiKeyVerifier) return undefined;
      let credential: ReturnType<typeof extractCredential>;
      try {
        credential = extractCredential(req.headers, credentialOptions, req.url, req.authorizationLines);
      } catch {
        return undefined; // malformed credentials: authenticate() says why
      }
      if (credential.kind === 'api_key')
        return apiKeyVerifier?.fromCache(credential.key, req.recheck === true);
      if (credential.kind !== 'jwt') return undefined;
      return introspects(credential.token)
        ? introspector?.fromCache(credential.token)
        : jwtVerifier?.fromCache(credential.token);
    };

    return {
      name: 'authn',
      async start() {
        await revocation.start();
        apiKeyVerifier?.start();
        // Fetch the JWKS before serving (bounded by its timeout), so the first request does not pay for it;
        // until a fetch succeeds, keep trying in the background: readiness waits for it (status below).
        if (keys && !keys.fetched()) await warmKeys(keys);
      },
      async stop() {
        stopped = true;
        clearTimeout(warmRetry);
        await apiKeyVerifier?.stop();
        await revocation.stop();
        for (const s of secrets) s.close();
      },
      status(): ComponentStatus {
        const parts: ComponentStatus[] = [revocation.status()];
        const jwksFailure = keys?.lastFailure();
        if (keys && !keys.fetched()) {
          // Not ready while JWTs are the only way in and no key set was ever fetched; an outage after one
          // was is `warn`, like Redis's: the issuer is shared, so failing readiness everywhere would empty
          // the Service while cached tokens and keys still verify. Opaque tokens (introspection) and API
          // keys are other ways in — keys only once they can work: with a pepper, in a shared store (keys
          // are created in Redis; an in-memory store holds none), as `authn.apiKeys.enabled`, on by
          // default, alone would count a JWT-only setup whose issuer is unreachable as ready.
          const keysWayIn =
            apiKeyVerifier !== undefined && deps.store.kind === 'redis' && pepper?.get() != null;
          const onlyWayIn = !keysWayIn && !introspector && mode !== 'optional';
          parts.push({
            state: onlyWayIn ? 'not_ready' : 'warn',
            detail: `JWKS not fetched yet${jwksFailure ? `: ${jwksFailure}` : ''}`,
          });
        } else if (jwksFailure) parts.push({ state: 'warn', detail: `JWKS: ${jwksFailure}` });
        if (pepper !== undefined && pepper.get() === null)
          parts.push({ state: 'warn', detail: 'no API key pepper: API keys are refused' });
        if (clientSecret !== undefined && !clientSecret.get())
          parts.push({
            state: 'warn',
            detail: 'no introspection client secret: opaque tokens are refused (503)',
          });
        const worst = parts.reduce((a, b) => (RANK[b.state] > RANK[a.state] ? b : a));
        const details = parts.map((p) => p.detail).filter((d): d is string => typeof d === 'string');
        return { state: worst.state, ...(details.length ? { detail: details.join('; ') } : {}) };
      },
      cached,
      stillValid: (p) => refuseWithdrawn(p, revocation, jwt.clockToleranceSec, now()),
      authenticate(req, signal) {
        // Fast path: a token verified before is answered from the cache without awaiting anything.
        try {
          const hit = cached(req);
          if (hit) return Promise.resolve(hit);
        } catch (err) {
          return Promise.reject(err);
        }
        return abortable(async () => {
          const credential = extractCredential(
            req.headers,
            credentialOptions,
            req.url,
            req.authorizationLines,
          );
          switch (credential.kind) {
            case 'none':
              if (mode === 'optional') return ANONYMOUS;
              throw new AuthnError('ERR_AUTHN_MISSING', 'no credentials');
            case 'jwt':
              if (introspector && introspects(credential.token))
                return introspector.verify(credential.token, req.client);
              if (!jwtVerifier)
                throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'bearer tokens are not accepted');
              return jwtVerifier.verify(credential.token);
            case 'api_key':
              if (!apiKeyVerifier)
                throw new AuthnError('ERR_AUTHN_INVALID_API_KEY', 'API keys are not accepted');
              return apiKeyVerifier.verify(credential.key, req.recheck === true);
          }
        }, signal);
      },
    };
  } catch (err) {
    for (const s of secrets) s.close();
    throw err;
  }
}
