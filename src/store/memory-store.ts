/**
 * The embedded default store: plain Maps in this process. Token revocations are forgotten once their
 * expiry passes; every revocation bumps a version counter, like the Redis store. Besides the async
 * `Store` interface it offers `snapshot()`, a synchronous read that lets the revocation component apply
 * revocations immediately in the same process. Token buckets, sliding windows, blocks and security
 * counters follow the same rules as the Redis scripts (`redis-scripts.ts`), with the caller's clock
 * (the windows in `memory-windows.ts`).
 *
 * @module
 */
import type { ComponentStatus } from '../lifecycle.js';
import { MemoryWindows } from './memory-windows.js';
import { SessionBindings } from './session-bindings.js';
import {
  type AbuseEvent,
  type ApiKeyRecord,
  type BlockEntry,
  type BlockSnapshot,
  type BlockTarget,
  MAX_STORED_ANOMALIES,
  REVOCATION_GRACE_SEC,
  type RevocationSnapshot,
  SECURITY_RETENTION_MS,
  type SecurityCounterBatch,
  type Store,
  type TokenBucketSpec,
  type TokenTake,
  type WindowCount,
  type WindowHit,
} from './store.js';
import { TokenBuckets } from './token-bucket.js';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

export class MemoryStore implements Store {
  readonly name = 'store';
  readonly kind = 'memory' as const;
  readonly #keys = new Map<string, ApiKeyRecord>();
  readonly #revokedTokens = new Map<string, number>();
  readonly #revokedKeys = new Set<string>();
  readonly #now: () => number;
  #version = 0;
  #snapshot: RevocationSnapshot | undefined;
  readonly #buckets = new TokenBuckets();
  readonly #windows = new MemoryWindows();
  readonly #blocks = new Map<string, { entry: BlockEntry; untilMs: number }>();
  #blockVersion = 0;
  readonly #hours = new Map<number, Map<string, number>>();
  #anomalies: { atMs: number; event: AbuseEvent }[] = [];
  /** Session bindings (one process: `SessionOwners` holds them too). */
  readonly #sessions: SessionBindings;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sessions = new SessionBindings(this.#now);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  status(): ComponentStatus {
    return { state: 'ok', detail: 'in-memory (single process)' };
  }

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    this.#keys.set(record.id, freezeRecord(record));
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#keys.get(id) ?? null;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return [...this.#keys.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async recordApiKeyUsage(id: string, count: number, lastUsedAt: string): Promise<void> {
    const r = this.#keys.get(id);
    if (!r) return;
    const last = r.lastUsedAt && r.lastUsedAt > lastUsedAt ? r.lastUsedAt : lastUsedAt;
    this.#keys.set(id, freezeRecord({ ...r, usageCount: r.usageCount + count, lastUsedAt: last }));
  }

  async revokeApiKey(id: string): Promise<boolean> {
    const r = this.#keys.get(id);
    if (!r) return false;
    this.#keys.set(id, freezeRecord({ ...r, active: false }));
    this.#revokedKeys.add(id);
    this.#bump();
    return true;
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    this.#revokedTokens.set(jti, Math.max(expiresAt, this.#revokedTokens.get(jti) ?? 0));
    this.#prune();
    this.#bump();
  }

  async revocationVersion(): Promise<number> {
    return this.#version;
  }

  async revocations(): Promise<RevocationSnapshot> {
    this.#prune();
    return this.snapshot();
  }

  /**
   * The current revocations, synchronously (same-process fast path). Rebuilt only after a change; a lapsed
   * token revocation may linger until then, which is harmless because that token has expired too.
   */
  snapshot(): RevocationSnapshot {
    if (this.#snapshot) return this.#snapshot;
    this.#snapshot = Object.freeze({
      version: this.#version,
      tokens: new Map(this.#revokedTokens),
      keys: new Set(this.#revokedKeys),
    });
    return this.#snapshot;
  }

  async takeToken(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): Promise<TokenTake> {
    return this.#buckets.take(key, spec, cost, nowMs);
  }

  takeTokenNow(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): TokenTake {
    return this.#buckets.take(key, spec, cost, nowMs);
  }

  async countInWindows(hits: readonly WindowHit[], nowMs: number): Promise<WindowCount[]> {
    return this.#windows.count(hits, nowMs);
  }

  async putBlock(
    entry: BlockEntry,
    opts: { readonly extendOnly?: boolean; readonly nowMs?: number } = {},
  ): Promise<boolean> {
    const field = blockField(entry.target, entry.value);
    const untilMs = Date.parse(entry.until);
    const current = this.#blocks.get(field);
    const nowMs = opts.nowMs ?? this.#now();
    if (opts.extendOnly && current && current.untilMs > nowMs && current.untilMs >= untilMs) return false;
    this.#blocks.set(field, { entry: Object.freeze({ ...entry }), untilMs });
    this.#blockVersion++;
    return true;
  }

  async liftBlock(target: BlockTarget, value: string, nowMs: number): Promise<boolean> {
    const field = blockField(target, value);
    const current = this.#blocks.get(field);
    this.#blocks.delete(field);
    if (!current || current.untilMs <= nowMs) return false;
    this.#blockVersion++;
    return true;
  }

  async blockVersion(): Promise<number> {
    return this.#blockVersion;
  }

  async blocks(nowMs: number): Promise<BlockSnapshot> {
    for (const [field, b] of this.#blocks) if (b.untilMs <= nowMs) this.#blocks.delete(field);
    return Object.freeze({
      version: this.#blockVersion,
      entries: Object.freeze(
        [...this.#blocks.values()].map((b) => b.entry).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
      ),
    });
  }

  async recordSecurityCounters(batch: SecurityCounterBatch, nowMs: number): Promise<void> {
    for (const [hour, fields] of batch.hours) {
      let h = this.#hours.get(hour);
      if (!h) {
        h = new Map();
        this.#hours.set(hour, h);
      }
      for (const [field, n] of fields) h.set(field, (h.get(field) ?? 0) + n);
    }
    for (const event of batch.anomalies) this.#anomalies.push({ atMs: Date.parse(event.at), event });
    const cutoff = nowMs - SECURITY_RETENTION_MS;
    for (const hour of this.#hours.keys())
      if (hour + SECURITY_RETENTION_MS <= nowMs) this.#hours.delete(hour);
    if (batch.anomalies.length > 0) {
      this.#anomalies = this.#anomalies
        .filter((a) => a.atMs > cutoff)
        .sort((a, b) => a.atMs - b.atMs)
        .slice(-MAX_STORED_ANOMALIES);
    }
  }

  async securityCounters(hours: readonly number[]): Promise<Map<string, number>> {
    const sum = new Map<string, number>();
    for (const hour of new Set(hours)) {
      for (const [field, n] of this.#hours.get(hour) ?? []) sum.set(field, (sum.get(field) ?? 0) + n);
    }
    return sum;
  }

  claimSessionOwner(sessionId: string, owner: string, ttlMs: number, refresh = false): Promise<boolean> {
    return Promise.resolve(this.#sessions.claim(sessionId, owner, ttlMs, refresh));
  }

  sessionOwner(sessionId: string): Promise<string | null> {
    return Promise.resolve(this.#sessions.owner(sessionId));
  }

  async endSession(sessionId: string, ttlMs: number): Promise<void> {
    this.#sessions.end(sessionId, ttlMs);
  }

  async anomalies(sinceMs: number, untilMs: number, limit: number): Promise<AbuseEvent[]> {
    return this.#anomalies
      .filter((a) => a.atMs >= sinceMs && a.atMs <= untilMs)
      .reverse()
      .slice(0, Math.max(0, limit))
      .map((a) => a.event);
  }

  #bump(): void {
    this.#version++;
    this.#snapshot = undefined;
  }

  #prune(): void {
    const nowSec = this.#now() / 1000;
    for (const [jti, exp] of this.#revokedTokens) {
      if (exp + REVOCATION_GRACE_SEC <= nowSec) {
        this.#revokedTokens.delete(jti);
        this.#snapshot = undefined;
      }
    }
  }
}

function blockField(target: BlockTarget, value: string): string {
  return `${target}:${value}`;
}

function freezeRecord(r: ApiKeyRecord): ApiKeyRecord {
  return Object.freeze({ ...r, roles: Object.freeze([...r.roles]), scopes: Object.freeze([...r.scopes]) });
}
