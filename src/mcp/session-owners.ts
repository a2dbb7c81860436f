/**
 * Binds Streamable HTTP sessions to the caller who created them. The upstream issues `Mcp-Session-Id` on
 * `initialize`; from then on only the same caller (auth method, tenant and subject) may use that session —
 * otherwise another caller who learned the id could open its GET stream and read the first caller's
 * server-to-client messages. Unknown ids pass (this replica did not see the session start); the map is
 * bounded and forgets the oldest sessions first.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';

export const MAX_TRACKED_SESSIONS = 100_000;

export function ownerKey(p: Principal): string {
  return `${p.authMethod}:${p.tenant ?? ''}:${p.id ?? ''}`;
}

export class SessionOwners {
  readonly #owners = new Map<string, string>();
  readonly #max: number;

  constructor(max = MAX_TRACKED_SESSIONS) {
    this.#max = max;
  }

  bind(sessionId: string, owner: Principal): void {
    this.#owners.delete(sessionId);
    this.#owners.set(sessionId, ownerKey(owner));
    if (this.#owners.size > this.#max) {
      const oldest = this.#owners.keys().next().value;
      if (oldest !== undefined) this.#owners.delete(oldest);
    }
  }

  /** False only when the session is known to belong to someone else. */
  mayUse(sessionId: string, caller: Principal): boolean {
    const owner = this.#owners.get(sessionId);
    return owner === undefined || owner === ownerKey(caller);
  }

  unbind(sessionId: string): void {
    this.#owners.delete(sessionId);
  }

  get size(): number {
    return this.#owners.size;
  }
}
