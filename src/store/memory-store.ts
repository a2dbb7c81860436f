/**
 * The embedded default store: plain Maps in this process. Token revocations are forgotten once their
 * expiry passes; every revocation bumps a version counter, like the Redis store. Besides the async
 * `Store` interface it offers `snapshot()`, a synchronous read that lets the revocation component apply
 * revocations immediately in the same process.
 *
 * @module
 */
import type { ComponentStatus } from '../lifecycle.js';
import type { ApiKeyRecord, RevocationSnapshot, Store } from './store.js';

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

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
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

  #bump(): void {
    this.#version++;
    this.#snapshot = undefined;
  }

  #prune(): void {
    const nowSec = this.#now() / 1000;
    for (const [jti, exp] of this.#revokedTokens) {
      if (exp <= nowSec) {
        this.#revokedTokens.delete(jti);
        this.#snapshot = undefined;
      }
    }
  }
}

function freezeRecord(r: ApiKeyRecord): ApiKeyRecord {
  return Object.freeze({ ...r, roles: Object.freeze([...r.roles]), scopes: Object.freeze([...r.scopes]) });
}
