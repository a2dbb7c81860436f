/**
 * The request ids of a Streamable HTTP session whose answers may still come late, so that a `tools/list`
 * reusing one teaches nothing. A request cut off before its answer (its client left, the upstream ended
 * its reply early) is held for the late answer a while (in-flight-ids.ts); once the hold ends its id may be
 * reused while the upstream still owes that answer (a tool running longer, or holds released early at their
 * bound), and the upstream sends it to the POST that sent the id last: a `tools/list` reusing the id of a
 * caller's echo call would learn the echo as its list. Only a POST reusing such an id can get that answer
 * under its own id (the upstream routes answers by id, `1` and `"1"` alike as here), so only such a POST is
 * untaught: the session's other `tools/list` replies still teach (an MCP client never reuses an id, and
 * clients cut requests off as a matter of course: a user's cancel, SSE polling's early-ended streams).
 *
 * Each id is kept as a 30-bit digest of its held key: two ids with one digest only make a POST untaught
 * that could have taught, never the other way round. Bounded: {@link MAX_TAINTED_IDS_PER_SESSION} per
 * session and {@link MAX_TAINTED_IDS} in all; a session that would go past either is untaught whole, as
 * every session with a request cut off was before. At most {@link MAX_UNTAUGHT_SESSIONS} sessions (the
 * session table's bound), least recently used dropped first: a session dropped so (by a flood of sessions,
 * possible with `unknownSessions: forward`) forgets its cut-off ids, and the ids are per replica and lost
 * on a restart; where those apply, the protection left is the hold's (five minutes).
 *
 * @module
 */
import { MAX_TRACKED_SESSIONS } from '../config/defaults.js';

/** Sessions remembered (each by its held key): as many as the session table holds. */
export const MAX_UNTAUGHT_SESSIONS = MAX_TRACKED_SESSIONS;

/** Ids of cut-off requests remembered per session; a session with more is untaught whole. */
export const MAX_TAINTED_IDS_PER_SESSION = 1_024;

/** Ids of cut-off requests remembered in all sessions together; beyond, a session marked is untaught whole. */
export const MAX_TAINTED_IDS = 100_000;

/** A session untaught whole (no digest is negative). */
const WHOLE = -1;

/** One session's cut-off ids: one digest (the usual case), several, or {@link WHOLE}. */
type Tainted = number | Set<number>;

export class UntaughtSessions {
  /** By held session key, least recently used first. */
  readonly #sessions = new Map<string, Tainted>();
  /** Digests in the sessions' sets and single entries together. */
  #ids = 0;

  /** A request of `session` with these held ids was cut off before its answer. */
  mark(session: string, ids: readonly string[]): void {
    let tainted = this.#take(session);
    for (const id of ids) {
      if (tainted === WHOLE) break;
      const digest = digestOf(id);
      if (tainted === undefined) tainted = digest;
      else if (typeof tainted === 'number') {
        if (tainted !== digest) tainted = new Set([tainted, digest]);
      } else tainted.add(digest);
      if (count(tainted) > MAX_TAINTED_IDS_PER_SESSION || this.#ids + count(tainted) > MAX_TAINTED_IDS)
        tainted = WHOLE;
    }
    if (tainted === undefined) return;
    this.#sessions.set(session, tainted);
    this.#ids += count(tainted);
    if (this.#sessions.size > MAX_UNTAUGHT_SESSIONS) this.#take(this.#sessions.keys().next().value as string);
  }

  /** Whether a POST of `session` sending these held ids teaches nothing: one of them was cut off. */
  untaught(session: string, ids: readonly string[]): boolean {
    const tainted = this.#sessions.get(session);
    if (tainted === undefined) return false;
    // In use: the last to be dropped.
    this.#sessions.delete(session);
    this.#sessions.set(session, tainted);
    if (tainted === WHOLE) return true;
    for (const id of ids) {
      const digest = digestOf(id);
      if (typeof tainted === 'number' ? tainted === digest : tainted.has(digest)) return true;
    }
    return false;
  }

  /** Forgets a session that ended: no id can be reused in it any more. */
  end(session: string): void {
    this.#take(session);
  }

  /** Sessions remembered (tests). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Ids remembered, all sessions together (tests). */
  get ids(): number {
    return this.#ids;
  }

  /** Removes a session's entry, returning it. */
  #take(session: string): Tainted | undefined {
    const tainted = this.#sessions.get(session);
    if (tainted === undefined) return undefined;
    this.#sessions.delete(session);
    this.#ids -= count(tainted);
    return tainted;
  }
}

/** The ids an entry holds. */
function count(tainted: Tainted): number {
  if (tainted === WHOLE) return 0;
  return typeof tainted === 'number' ? 1 : tainted.size;
}

/** A held id's 30-bit FNV-1a digest: a small integer, as cheap to keep as a number gets. */
function digestOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h & 0x3fffffff;
}
