/**
 * The one interface to shared state: API keys, revocations, rate-limit token buckets, abuse-detection
 * windows and blocks, and the security report's counters. `memory-store.ts` is the embedded default for
 * a single process; `redis-store.ts` shares the state across replicas. Nothing else in the sidecar talks
 * to Redis.
 *
 * Time: every method that needs "now" takes the caller's clock (`nowMs`, epoch milliseconds), so every rule
 * is testable with an injected clock, against both stores. The Redis store adds its replica's offset to
 * Redis `TIME` (measured at connect and every 30 s, off the request path: `redis-clock.ts`) to the times it
 * gives the bucket and window scripts, so those run on Redis's clock whatever the replicas' clocks say: on
 * their own, a replica 60 s ahead found every bucket it touched full again (twice the budget, alternating
 * with another) and dropped the others' window counts as old. Blocks, revocations and the report keep the
 * replicas' clocks (NTP), with the margins below.
 *
 * @module
 */

import { MAX_CLOCK_TOLERANCE_SEC } from '../config/defaults.js';
import type { Component } from '../lifecycle.js';
import type { MalformedApiKeyRecord } from './api-key-record.js';

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

/** A token bucket: up to `capacity` tokens, refilled continuously at `refillPerSecond`. */
export interface TokenBucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

export interface TokenTake {
  readonly allowed: boolean;
  /** Whole tokens left after this take. */
  readonly remaining: number;
  /** 0 when allowed; else ms until enough tokens for this cost are due. */
  readonly retryAfterMs: number;
  /** ms until the bucket is full again. */
  readonly resetMs: number;
}

/** `count` events for one sliding window (one rule × one target), the latest at `atMs`. */
export interface WindowHit {
  /** Identifies the rule and target; built from `encodePart`-encoded parts. */
  readonly key: string;
  readonly count: number;
  readonly windowMs: number;
  /** The window trips when its count first exceeds this. */
  readonly threshold: number;
  readonly atMs: number;
  /**
   * Identifies this count in its window (no `:`): a hit with the id of an earlier one replaces it. A count
   * sent again after a failed call keeps its id, so a write that landed but timed out is not counted twice.
   * Without one the store picks a new id.
   */
  readonly id?: string;
}

export interface WindowCount {
  /** Events in the window, this hit included. */
  readonly count: number;
  /** True for the one hit that crossed the threshold; false again until a window has passed. */
  readonly tripped: boolean;
}

export type BlockTarget = 'subject' | 'ip';

/** A block enforced by every replica. */
export interface BlockEntry {
  readonly target: BlockTarget;
  /** Subject: `<tenant>/<subject>` with each part `encodePart`-encoded (`*` = any tenant); IP: the address. */
  readonly value: string;
  readonly reason: string;
  /** ISO 8601: the block ends then. */
  readonly until: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** Live blocks as of `version`; replicas poll the version like the revocation version. */
export interface BlockSnapshot {
  readonly version: number;
  readonly entries: readonly BlockEntry[];
}

/** A tripped abuse rule, as recorded for the security report (and audited by the caller). */
export interface AbuseEvent {
  readonly rule: string;
  readonly kind: 'tool_calls' | 'auth_failures_subject' | 'auth_failures_ip';
  readonly subject: string | null;
  readonly tenant: string | null;
  readonly ip: string | null;
  readonly tool: string | null;
  readonly count: number;
  readonly windowSec: number;
  readonly action: 'alert' | 'block';
  /** ISO 8601, for `block` rules. */
  readonly blockedUntil: string | null;
  /** ISO 8601. */
  readonly at: string;
}

/** Increments for the hourly security counters, plus anomalies, written in one store call. */
export interface SecurityCounterBatch {
  /** Hour start (epoch ms, a multiple of 3 600 000) → counter field → increment. */
  readonly hours: ReadonlyMap<number, ReadonlyMap<string, number>>;
  readonly anomalies: readonly AbuseEvent[];
}

/**
 * A token revocation is kept, and applied, this long past the expiry it was given: a verifier accepts a
 * token up to its clock tolerance (at most this) after its `exp`, so a revocation until `exp` must outlast it.
 */
export const REVOCATION_GRACE_SEC = MAX_CLOCK_TOLERANCE_SEC;

/**
 * How long past its end a shared entry (a lapsed revocation, an ended block) is kept before the replica or
 * CLI that writes or reads next removes it: their clocks may run ahead, and one an hour fast must not delete
 * what the others still enforce. Readers skip lapsed entries themselves.
 */
export const PRUNE_MARGIN_MS = 3_600_000;

/** How long hourly security counters and anomalies are kept. */
export const SECURITY_RETENTION_MS = 8 * 86_400_000;
/** At most this many anomalies are kept (the oldest go first). */
export const MAX_STORED_ANOMALIES = 10_000;
export const HOUR_MS = 3_600_000;

export interface Store extends Component {
  readonly kind: 'memory' | 'redis';
  putApiKey(record: ApiKeyRecord): Promise<void>;
  /** Throws `MalformedApiKeyRecord` for a stored record that does not decode (its key must be refused). */
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  /** Every key's record, oldest first; records that do not decode are left out and given to `malformed`. */
  listApiKeys(malformed?: (err: MalformedApiKeyRecord) => void): Promise<ApiKeyRecord[]>;
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

  /**
   * Takes `cost` tokens from bucket `key` if it holds that many (atomic; one round trip on Redis). The
   * caller checks the spec (`checkBucket`); a bucket's spec may change between calls (tokens are capped).
   * A negative cost gives that many tokens back, up to the capacity (tokens taken for a refused batch).
   */
  takeToken(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): Promise<TokenTake>;
  /** `takeToken` answered in the same tick, for stores that keep buckets in process; absent otherwise. */
  takeTokenNow?(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): TokenTake;
  /** Adds each hit to its sliding window and says which crossed their threshold (one round trip). */
  countInWindows(hits: readonly WindowHit[], nowMs: number): Promise<WindowCount[]>;
  /**
   * Stores a block and bumps the block version. With `extendOnly` an existing live block that lasts at
   * least as long is kept (an automatic block never shortens an operator's). Returns whether it was written.
   */
  putBlock(
    entry: BlockEntry,
    opts?: { readonly extendOnly?: boolean; readonly nowMs?: number },
  ): Promise<boolean>;
  /** Lifts a live block; false if there was none. */
  liftBlock(target: BlockTarget, value: string, nowMs: number): Promise<boolean>;
  /** The current block version (cheap; one GET). */
  blockVersion(): Promise<number>;
  /** Blocks live at `nowMs` (lapsed ones are pruned). */
  blocks(nowMs: number): Promise<BlockSnapshot>;
  /** Adds hourly security counters and anomalies; kept for `SECURITY_RETENTION_MS`. */
  recordSecurityCounters(batch: SecurityCounterBatch, nowMs: number): Promise<void>;
  /** The sums of the counters of the given hours (hour starts, epoch ms). */
  securityCounters(hours: readonly number[]): Promise<Map<string, number>>;
  /** Anomalies in [sinceMs, untilMs], newest first, at most `limit`. */
  anomalies(sinceMs: number, untilMs: number, limit: number): Promise<AbuseEvent[]>;
  /**
   * Binds a Streamable HTTP session to its owner (`mcp/session-owners.ts` `ownerKey`) for `ttlMs`, so that a
   * restarted sidecar, or another replica, knows whose it is; a binding of the same owner gets the TTL again,
   * and one that lapsed is written again. False, changing nothing, when another owner holds the session (an
   * upstream issuing an id twice), or for a `refresh` of a session marked ended (a replica still holding it
   * must not bring it back; a new claim, an upstream issuing the id anew, may).
   */
  claimSessionOwner(sessionId: string, owner: string, ttlMs: number, refresh?: boolean): Promise<boolean>;
  /** The owner a session is bound to; null when it never was, ended, or its binding lapsed. */
  sessionOwner(sessionId: string): Promise<string | null>;
  /** Marks a session ended (its DELETE, or ended at the upstream) for `ttlMs`: no refresh brings it back. */
  endSession(sessionId: string, ttlMs: number): Promise<void>;
}
