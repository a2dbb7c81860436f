/**
 * The local revocation snapshot. The request path asks `isTokenRevoked` / `isKeyRevoked`, which read
 * only memory (zero store calls). A poller asks the store for its cheap revocation version every
 * `store.revocationPollIntervalMs` and reloads the full list only when the version changed, so a
 * revocation made anywhere (the CLI against Redis) is seen by every replica within a poll or two. With
 * the in-memory store the snapshot is read directly, so revocations apply at once.
 *
 * Until the first poll has succeeded (the store was down when the sidecar started) nothing can be known
 * revoked, so every question is answered with `ERR_AUTHN_UNAVAILABLE` (503): credentials are refused rather
 * than let through unchecked. A token without `jti` can never be revoked and is not asked about.
 *
 * @module
 */

import { AuthnError } from '../errors/errors.js';
import type { ComponentStatus } from '../lifecycle.js';
import { MemoryStore } from '../store/memory-store.js';
import { REVOCATION_GRACE_SEC, type RevocationSnapshot, type Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

export interface RevocationWatcherOptions {
  readonly store: Store;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Epoch milliseconds. */
  readonly now?: () => number;
}

const EMPTY: RevocationSnapshot = Object.freeze({
  version: -1,
  tokens: new Map<string, number>(),
  keys: new Set<string>(),
});

export class RevocationWatcher {
  readonly name = 'revocation';
  readonly #o: RevocationWatcherOptions;
  readonly #now: () => number;
  readonly #memory: MemoryStore | undefined;
  #snapshot: RevocationSnapshot = EMPTY;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #polling: Promise<void> | undefined;
  #failingSince: number | null = null;
  #loaded = false;

  constructor(o: RevocationWatcherOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#memory = o.store instanceof MemoryStore ? o.store : undefined;
  }

  async start(): Promise<void> {
    if (this.#memory || this.#running) return;
    this.#running = true;
    await this.refresh();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  status(): ComponentStatus {
    if (this.#memory) return { state: 'ok', detail: 'in-process' };
    const version = this.#snapshot.version;
    if (!this.#loaded)
      return { state: this.#failingSince ? 'error' : 'not_ready', detail: 'revocations not loaded', version };
    if (this.#failingSince !== null) {
      return {
        state: 'warn',
        detail: `revocations stale since ${new Date(this.#failingSince).toISOString()}`,
        version,
      };
    }
    return { state: 'ok', version };
  }

  /** Throws `ERR_AUTHN_UNAVAILABLE` until the revocations have been loaded once. */
  isTokenRevoked(jti: string): boolean {
    const exp = this.#current().tokens.get(jti);
    // Applied past the expiry it was given: the token itself is accepted up to the clock tolerance later.
    return exp !== undefined && (exp + REVOCATION_GRACE_SEC) * 1000 > this.#now();
  }

  /** Throws `ERR_AUTHN_UNAVAILABLE` until the revocations have been loaded once. */
  isKeyRevoked(id: string): boolean {
    return this.#current().keys.has(id);
  }

  /** Polls once now (concurrent calls share one poll). Never throws. */
  refresh(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  #current(): RevocationSnapshot {
    if (this.#memory) return this.#memory.snapshot();
    if (!this.#loaded) throw new AuthnError('ERR_AUTHN_UNAVAILABLE', 'revocation list not loaded yet');
    return this.#snapshot;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      void this.refresh().then(() => this.#schedule());
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    const { store, logger } = this.#o;
    try {
      const version = await store.revocationVersion();
      if (version !== this.#snapshot.version) {
        const next = await store.revocations();
        const previous = this.#snapshot.version;
        this.#snapshot = next;
        if (this.#loaded) {
          logger.debug(
            { version: next.version, previous, tokens: next.tokens.size, keys: next.keys.size },
            'revocations reloaded',
          );
        }
      }
      this.#loaded = true;
      if (this.#failingSince !== null) logger.info('revocation polling recovered');
      this.#failingSince = null;
    } catch (err) {
      if (this.#failingSince === null) {
        this.#failingSince = this.#now();
        // Before the first load there is no snapshot to fall back on: say what is refused meanwhile.
        logger.warn(
          { err: (err as Error).message },
          this.#loaded
            ? 'revocation polling failed; using the last snapshot'
            : 'revocation polling failed; no snapshot loaded yet: API keys and tokens with a jti are refused (503) until a poll succeeds',
        );
      }
    }
  }
}
