/**
 * The in-memory store's Streamable HTTP session bindings (`Store.claimSessionOwner`), with the Redis store's
 * semantics: a TTL per binding, another owner's binding kept, an ended session marked so that a refresh does
 * not bring it back. Bounded: beyond the session table's size the oldest go first.
 *
 * @module
 */
import { MAX_TRACKED_SESSIONS } from '../config/defaults.js';

/** A session's binding once it ended (owner keys are JSON arrays). */
const ENDED = 'ended';

export class SessionBindings {
  readonly #entries = new Map<string, { owner: string; untilMs: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  claim(sessionId: string, owner: string, ttlMs: number, refresh: boolean): boolean {
    const current = this.#held(sessionId);
    const free = current === null || (current === ENDED && !refresh);
    if (!free && current !== owner) return false;
    this.#set(sessionId, owner, ttlMs);
    return true;
  }

  owner(sessionId: string): string | null {
    const current = this.#held(sessionId);
    return current === ENDED ? null : current;
  }

  end(sessionId: string, ttlMs: number): void {
    this.#set(sessionId, ENDED, ttlMs);
  }

  #held(sessionId: string): string | null {
    const s = this.#entries.get(sessionId);
    if (s === undefined) return null;
    if (s.untilMs > this.#now()) return s.owner;
    this.#entries.delete(sessionId);
    return null;
  }

  #set(sessionId: string, owner: string, ttlMs: number): void {
    this.#entries.delete(sessionId);
    if (this.#entries.size >= MAX_TRACKED_SESSIONS) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(sessionId, { owner, untilMs: this.#now() + ttlMs });
  }
}
