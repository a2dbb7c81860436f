/**
 * The one interface to shared state: API keys, revocations (and, later, rate-limit buckets and abuse
 * counters). `memory-store.ts` is the embedded default for a single process; `redis-store.ts` shares the
 * state across replicas. Nothing else in the sidecar talks to Redis.
 *
 * @module
 */
import type { Component } from '../lifecycle.js';

export interface ApiKeyRecord {
  /** Public id, the middle part of `<prefix>_<id>_<secret>`. */
  readonly id: string;
  /** HMAC-SHA256(pepper, secret), hex. The secret itself is never stored. */
  readonly hash: string;
  readonly subject: string;
  readonly tenant: string | null;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly clearance: string | null;
  readonly description: string | null;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601, or null for keys that do not expire. */
  readonly expiresAt: string | null;
  readonly active: boolean;
  /** ISO 8601 of the last use, or null. */
  readonly lastUsedAt: string | null;
  readonly usageCount: number;
}

/** Revoked credentials as of `version`; replicas poll it so a revocation is seen within a second. */
export interface RevocationSnapshot {
  readonly version: number;
  /** jti → epoch seconds until which the revocation must be kept (the token's own expiry). */
  readonly tokens: ReadonlyMap<string, number>;
  readonly keys: ReadonlySet<string>;
}

export interface Store extends Component {
  readonly kind: 'memory' | 'redis';
  putApiKey(record: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Adds `count` uses and sets the last-used time; called off the request path in batches. */
  recordApiKeyUsage(id: string, count: number, lastUsedAt: string): Promise<void>;
  /** Marks a key inactive and adds it to the revocation set. Returns false if the key does not exist. */
  revokeApiKey(id: string): Promise<boolean>;
  /** Revokes a token id until `expiresAt` (epoch seconds), after which it is forgotten. */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  /** The current revocation version (cheap; one GET). */
  revocationVersion(): Promise<number>;
  /** All live revocations. */
  revocations(): Promise<RevocationSnapshot>;
}
