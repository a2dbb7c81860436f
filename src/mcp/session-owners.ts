/**
 * Binds Streamable HTTP sessions to the caller who created them. The upstream issues `Mcp-Session-Id` on
 * `initialize`; from then on only the same caller (auth method, tenant and subject) may use that session —
 * otherwise another caller who learned the id could open its GET stream and read the first caller's
 * server-to-client messages. An id this sidecar never saw issued (it restarted, the session started on
 * another replica, or the bounded map — least recently used first — forgot it) is refused by default, as any other
 * unknown session would be: the MCP spec has clients start a new session on 404. `forward` lets such
 * requests through for the upstream to decide (replicas sharing sessions without sticky routing).
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';

export const MAX_TRACKED_SESSIONS = 100_000;
/**
 * Sessions one caller may hold in the table; its oldest go first beyond that. So a caller creating
 * sessions in a loop evicts its own, and pushing out other callers' bindings (who would then get 404 and
 * have to start over) takes ten such callers, not one.
 */
export const MAX_SESSIONS_PER_CALLER = MAX_TRACKED_SESSIONS / 10;

/**
 * Who owns a session: auth method, issuer (for tokens: with several issuers configured, one's `alice` is
 * not another's), tenant and subject, as JSON so that no value containing a separator can pose as another
 * (`a:b` + `c` against `a` + `b:c`).
 */
export function ownerKey(p: Principal): string {
  const iss = p.authMethod === 'jwt' && typeof p.claims.iss === 'string' ? p.claims.iss : null;
  return JSON.stringify([p.authMethod, iss, p.tenant, p.id]);
}

/** The legacy HTTP+SSE session a messages-endpoint URL names (its `sessionId` query), or null. */
export function legacySessionId(url: string | undefined): string | null {
  return new URL(url ?? '/', 'http://sidecar').searchParams.get('sessionId');
}

/** What happens to a request naming a session this sidecar never saw issued. */
export type UnknownSessions = 'reject' | 'forward';

export class SessionOwners {
  readonly #owners = new Map<string, string>();
  /** Each caller's sessions, least recently used first. */
  readonly #byOwner = new Map<string, Set<string>>();
  readonly #max: number;
  readonly #perOwner: number;
  readonly #unknown: UnknownSessions;

  constructor(
    opts: { readonly max?: number; readonly perCaller?: number; readonly unknown?: UnknownSessions } = {},
  ) {
    this.#max = opts.max ?? MAX_TRACKED_SESSIONS;
    this.#perOwner = opts.perCaller ?? MAX_SESSIONS_PER_CALLER;
    this.#unknown = opts.unknown ?? 'reject';
  }

  bind(sessionId: string, owner: Principal): void {
    this.unbind(sessionId);
    const key = ownerKey(owner);
    this.#owners.set(sessionId, key);
    let mine = this.#byOwner.get(key);
    if (!mine) {
      mine = new Set();
      this.#byOwner.set(key, mine);
    }
    mine.add(sessionId);
    if (mine.size > this.#perOwner) this.unbind(mine.values().next().value as string);
    if (this.#owners.size > this.#max) this.unbind(this.#owners.keys().next().value as string);
  }

  /** True when `caller` owns the session, or when it is unknown here and unknown sessions are forwarded. */
  mayUse(sessionId: string, caller: Principal): boolean {
    const owner = this.#owners.get(sessionId);
    if (owner === undefined) return this.#unknown === 'forward';
    if (owner !== ownerKey(caller)) return false;
    // In use: move it to the young end, so a flood of new sessions evicts idle ones first.
    this.#owners.delete(sessionId);
    this.#owners.set(sessionId, owner);
    const mine = this.#byOwner.get(owner);
    mine?.delete(sessionId);
    mine?.add(sessionId);
    return true;
  }

  unbind(sessionId: string): void {
    const owner = this.#owners.get(sessionId);
    if (owner === undefined) return;
    this.#owners.delete(sessionId);
    const mine = this.#byOwner.get(owner);
    mine?.delete(sessionId);
    if (mine?.size === 0) this.#byOwner.delete(owner);
  }

  get size(): number {
    return this.#owners.size;
  }
}
