/**
 * API key authentication. A presented key is parsed (`api-key-format.ts`), its record looked up in the
 * store (cached here for a few seconds, concurrent lookups of one id shared), and its secret compared in
 * constant time against the stored HMAC. Unknown id, wrong secret, inactive and expired keys all get the
 * same `ERR_AUTHN_INVALID_API_KEY` (no oracle); a revoked key (local revocation snapshot) gets
 * `ERR_AUTHN_REVOKED`; a store failure gets `ERR_AUTHN_UNAVAILABLE`. Usage is batched off the request
 * path. `createApiKey` is what the CLI calls to mint a key.
 *
 * @module
 */
import { API_KEY_PREFIX } from '../config/defaults.js';
import type { SecretSource } from '../config/secrets.js';
import { AuthnError } from '../errors/errors.js';
import { MalformedApiKeyRecord } from '../store/api-key-record.js';
import type { ApiKeyRecord, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { isWellFormedText } from '../well-formed-text.js';
import {
  type ApiKeyParts,
  generateApiKey,
  hashSecret,
  parseApiKey,
  secretMatches,
} from './api-key-format.js';
import type { Principal } from './principal.js';
import { UsageRecorder } from './usage-recorder.js';

/** How long a looked-up record is reused; revocation does not wait for it (it uses the snapshot). */
export const API_KEY_CACHE_TTL_MS = 5_000;
export const API_KEY_CACHE_MAX_ENTRIES = 10_000;

export interface ApiKeyVerifierOptions {
  readonly store: Store;
  readonly pepper: SecretSource;
  /** `authn.apiKeys.pepperFile`, to name it when it gives no pepper (empty, or unreadable). */
  readonly pepperFile?: string | undefined;
  readonly prefix: string;
  readonly logger: Logger;
  readonly isRevoked: (id: string) => boolean;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly cacheTtlMs?: number;
  readonly usageFlushMs?: number;
  /** Milliseconds on a clock that never steps; default `performance.now()`. */
  readonly monotonic?: () => number;
}

interface Cached {
  readonly record: ApiKeyRecord | null;
  readonly principal: Principal | null;
  readonly fetchedAt: number;
  /** The same moment on the monotonic clock: a wall clock stepped back must not stretch the lifetime. */
  readonly fetchedMono: number;
}

const INVALID = 'invalid API key';

export class ApiKeyVerifier {
  readonly #o: ApiKeyVerifierOptions;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<Cached>>();
  readonly #usage: UsageRecorder;
  readonly #ttl: number;
  readonly #mono: () => number;

  constructor(o: ApiKeyVerifierOptions) {
    this.#o = o;
    this.#mono = o.monotonic ?? (() => performance.now());
    this.#ttl = o.cacheTtlMs ?? API_KEY_CACHE_TTL_MS;
    this.#usage = new UsageRecorder(o.store, o.logger, o.usageFlushMs);
  }

  start(): void {
    if (!this.#o.pepper.get()) {
      const file = this.#o.pepperFile;
      this.#o.logger.warn(
        file
          ? `API keys are enabled but the pepper file authn.apiKeys.pepperFile (${file}) is empty or unreadable, and AUTHZ_API_KEY_PEPPER is not set: every key is refused`
          : 'API keys are enabled but no pepper is set (authn.apiKeys.pepperFile or AUTHZ_API_KEY_PEPPER): every key is refused',
      );
    }
    this.#usage.start();
  }

  stop(): Promise<void> {
    return this.#usage.stop();
  }

  /** The key's principal; `recheck` (an open stream's caller checked again) records no use. */
  async verify(key: string, recheck = false): Promise<Principal> {
    const { parts, pepper } = this.#parse(key);
    let entry: Cached;
    try {
      entry = await this.#lookup(parts.id);
    } catch (err) {
      // The store cannot be asked: a record read before still refuses a key it shows expired, inactive or
      // revoked (401, cutting its open streams), as a known-expired token is; it never admits one.
      const seen = this.#cache.get(parts.id);
      if (seen?.record) this.#check(parts, pepper, seen, true);
      throw err;
    }
    return this.#check(parts, pepper, entry, recheck);
  }

  /**
   * The key's principal when its record was looked up less than the cache lifetime ago, synchronously (the
   * secret compared and every other check made as {@link verify} makes them, refusals thrown alike); undefined
   * when {@link verify} has to look the record up.
   */
  fromCache(key: string, recheck = false): Principal | undefined {
    const { parts, pepper } = this.#parse(key);
    const hit = this.#cache.get(parts.id);
    if (!hit || !this.#fresh(hit)) return undefined;
    return this.#check(parts, pepper, hit, recheck);
  }

  #parse(key: string): { parts: ApiKeyParts; pepper: Buffer } {
    const parts = parseApiKey(key, this.#o.prefix);
    if (!parts) throw new AuthnError('ERR_AUTHN_INVALID_API_KEY', INVALID);
    const pepper = this.#o.pepper.get();
    // The sidecar cannot check keys (the pepper file is empty, or being rewritten): an outage, as a missing
    // HS secret is — not the caller's bad key, which would count against their address and cut their streams.
    if (!pepper) throw new AuthnError('ERR_AUTHN_UNAVAILABLE', 'API keys cannot be checked now');
    return { parts, pepper };
  }

  #check(parts: ApiKeyParts, pepper: Buffer, entry: Cached, recheck: boolean): Principal {
    const ok = secretMatches(pepper, parts.secret, entry.record?.hash ?? null);
    const { record, principal } = entry;
    if (!record || !principal) throw new AuthnError('ERR_AUTHN_INVALID_API_KEY', INVALID);
    // The key exists: a refusal from here on is a failed login of its owner (abuse rules).
    const refuse = (err: AuthnError): AuthnError =>
      Object.assign(err, { subject: principal.id, tenant: principal.tenant });
    if (!ok) throw refuse(new AuthnError('ERR_AUTHN_INVALID_API_KEY', INVALID));
    if (this.#o.isRevoked(record.id)) throw refuse(new AuthnError('ERR_AUTHN_REVOKED', 'API key revoked'));
    const now = this.#o.now();
    if (!record.active || (principal.expiresAt !== undefined && now >= principal.expiresAt * 1000)) {
      throw refuse(new AuthnError('ERR_AUTHN_INVALID_API_KEY', INVALID));
    }
    if (!recheck) this.#usage.record(record.id, new Date(now).toISOString());
    return principal;
  }

  /** Writes pending usage now (tests, shutdown). */
  flushUsage(): Promise<void> {
    return this.#usage.flush();
  }

  /** Whether a looked-up record is within its cache lifetime, on the wall clock and on the monotonic one. */
  #fresh(hit: Cached): boolean {
    return this.#o.now() - hit.fetchedAt < this.#ttl && this.#mono() - hit.fetchedMono < this.#ttl;
  }

  #lookup(id: string): Promise<Cached> {
    const hit = this.#cache.get(id);
    if (hit && this.#fresh(hit)) return Promise.resolve(hit);
    let pending = this.#inflight.get(id);
    if (!pending) {
      pending = this.#fetch(id).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending;
  }

  async #fetch(id: string): Promise<Cached> {
    let record: ApiKeyRecord | null;
    let malformed = false;
    try {
      record = await this.#o.store.getApiKey(id);
    } catch (err) {
      if (!(err instanceof MalformedApiKeyRecord)) {
        throw new AuthnError('ERR_AUTHN_UNAVAILABLE', 'API key store unavailable', { cause: err });
      }
      // Refused as an unknown key would be, and remembered like a record, so the warning comes once a
      // cache lifetime; it names the fields, never their values.
      this.#o.logger.warn(
        { key_id: id, problem: err.problem },
        'API key record in the store is malformed: the key is refused until it is created again',
      );
      record = null;
      malformed = true;
    }
    const entry: Cached = {
      record,
      principal: record && toPrincipal(record),
      fetchedAt: this.#o.now(),
      fetchedMono: this.#mono(),
    };
    // Unknown ids are not cached, so a key created a moment ago works at once.
    if (record || malformed) {
      this.#cache.delete(id);
      if (this.#cache.size >= API_KEY_CACHE_MAX_ENTRIES) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(id, entry);
    }
    return entry;
  }
}

function toPrincipal(r: ApiKeyRecord): Principal {
  // The store's records are decoded with a schema; an expiry that still reads as no number counts as past.
  const ms = r.expiresAt === null ? undefined : Date.parse(r.expiresAt);
  const expiresAt = ms === undefined ? undefined : Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
  return Object.freeze({
    id: r.subject,
    tenant: r.tenant,
    roles: Object.freeze([...r.roles]),
    scopes: Object.freeze([...r.scopes]),
    clearance: r.clearance,
    authMethod: 'api_key',
    keyId: r.id,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    claims: Object.freeze({
      key_id: r.id,
      description: r.description,
      created_at: r.createdAt,
      expires_at: r.expiresAt,
    }),
  });
}

export interface NewApiKey {
  readonly subject: string;
  readonly tenant?: string | null;
  readonly roles?: readonly string[];
  readonly scopes?: readonly string[];
  readonly clearance?: string | null;
  readonly description?: string | null;
  /** Date or ISO 8601; null/absent for a key that does not expire. */
  readonly expiresAt?: Date | string | null;
  /** `authn.apiKeys.prefix`; defaults to `API_KEY_PREFIX`. */
  readonly prefix?: string;
}

/** Mints a key, stores its record, and returns the key (to be shown once) with the record. */
export async function createApiKey(
  store: Store,
  pepper: Uint8Array,
  input: NewApiKey,
  now: () => number = Date.now,
): Promise<{ key: string; record: ApiKeyRecord }> {
  if (pepper.length === 0) throw new Error('the API key pepper is empty');
  if (!input.subject) throw new Error('an API key needs a subject');
  // As for token claims (claims.ts), an empty tenant, role, scope or clearance is no value: a token carrying
  // one is refused, so a key must not carry one either (`--tenant "$TENANT"` with TENANT unset).
  const empty: [string, boolean][] = [
    ['tenant', input.tenant === ''],
    ['role', (input.roles ?? []).includes('')],
    ['scope', (input.scopes ?? []).includes('')],
    ['clearance', input.clearance === ''],
  ];
  for (const [field, isEmpty] of empty) {
    if (isEmpty) throw new Error(`an API key's ${field} must not be empty (leave it out for none)`);
  }
  // As for token claims (claims.ts): a lone surrogate has no UTF-8 form and would become U+FFFD, so two
  // subjects could look alike in the policy, the logs and the identity headers.
  const texts = [
    input.subject,
    input.tenant,
    input.clearance,
    input.description,
    ...(input.roles ?? []),
    ...(input.scopes ?? []),
  ];
  if (texts.some((t) => typeof t === 'string' && !isWellFormedText(t))) {
    throw new Error('API key fields must be well-formed Unicode (no lone surrogates)');
  }
  const expires = input.expiresAt == null ? null : new Date(input.expiresAt);
  if (expires && Number.isNaN(expires.getTime())) throw new Error('expiresAt is not a valid date');
  if (expires && expires.getTime() <= now())
    throw new Error('expiresAt is in the past: the key would never work');
  const { id, secret, key } = generateApiKey(input.prefix ?? API_KEY_PREFIX);
  const record: ApiKeyRecord = {
    id,
    hash: hashSecret(pepper, secret),
    subject: input.subject,
    tenant: input.tenant ?? null,
    roles: [...(input.roles ?? [])],
    scopes: [...(input.scopes ?? [])],
    clearance: input.clearance ?? null,
    description: input.description ?? null,
    createdAt: new Date(now()).toISOString(),
    expiresAt: expires?.toISOString() ?? null,
    active: true,
    lastUsedAt: null,
    usageCount: 0,
  };
  await store.putApiKey(record);
  return { key, record };
}
