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
 * An id is forgotten once the upstream delivered the answer owed under it on a stream of the session (a GET
 * resuming the POST's stream with `Last-Event-ID`, as a 2025-11-25 server polling over SSE has its clients do
 * after closing each POST's stream early): nothing is owed under it any more. Only an id still held for its late
 * answer is forgotten so (its exact key is kept while it is held, {@link UntaughtSessions.released}), only on a
 * GET resuming its own POST's stream (from the last event id that POST's reply passed: a stream replays only its
 * own events, so an answer there is that request's), and a digest marked for several ids stays until each was
 * answered: an answer under another id of the same digest, one replayed, or an earlier request's answer under
 * the same id replayed from its own stream, forgets nothing. Without this a busy polled session passed its bound
 * within 1,024 calls and learnt no tool again.
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

/**
 * A cut-off request's ids still held for their answer: the (held key of the) event id a GET resumes its POST's
 * stream from, and what its answer passing there does besides (frees the id's hold).
 */
export interface Owed {
  /** Moves on when a GET resuming from it is cut off again ({@link UntaughtSessions.resumedAt}). */
  resumeAt: string;
  readonly answered: (id: string) => void;
}

/** A session untaught whole (no digest is negative). */
const WHOLE = -1;

/**
 * One session's cut-off ids: one digest marked once (the usual case), digests with the times each was marked,
 * or {@link WHOLE}.
 */
type Tainted = number | Map<number, number>;

export class UntaughtSessions {
  /** By held session key, least recently used first. */
  readonly #sessions = new Map<string, Tainted>();
  /** Digests in the sessions' maps and single entries together. */
  #ids = 0;
  /** By held session key, the held keys marked whose late answer is still held for (and owed). */
  readonly #owed = new Map<string, Map<string, Owed>>();

  /**
   * A request of `session` with these held ids was cut off before its answer (held for it from now on);
   * `owed`: where its answer can be told (none when it cannot be told on a resumed stream).
   */
  mark(session: string, ids: readonly string[], owed?: Owed): void {
    let tainted = this.#take(session);
    for (const id of ids) {
      if (tainted === WHOLE) break;
      tainted = withDigest(tainted, digestOf(id));
      if (count(tainted) > MAX_TAINTED_IDS_PER_SESSION || this.#ids + count(tainted) > MAX_TAINTED_IDS)
        tainted = WHOLE;
    }
    if (tainted === undefined) return;
    this.#sessions.set(session, tainted);
    this.#ids += count(tainted);
    if (tainted === WHOLE) this.#owed.delete(session);
    else if (owed !== undefined) {
      const byId = this.#owed.get(session) ?? new Map<string, Owed>();
      for (const id of ids) byId.set(id, owed);
      this.#owed.set(session, byId);
    }
    if (this.#sessions.size > MAX_UNTAUGHT_SESSIONS) this.end(this.#sessions.keys().next().value as string);
  }

  /** The hold of these marked ids ended: they stay marked, but an answer no longer forgets them. */
  released(session: string, ids: readonly string[]): void {
    const owed = this.#owed.get(session);
    if (owed === undefined) return;
    for (const id of ids) owed.delete(id);
    if (owed.size === 0) this.#owed.delete(session);
  }

  /**
   * The upstream's answer under held key `id` passed on a stream of `session` resumed from event `resumedFrom`
   * (held key): a mark of it still held for its answer, whose POST's stream that resumes, is forgotten (and its
   * hold told). True when one was.
   */
  answered(session: string, id: string, resumedFrom: string): boolean {
    const byId = this.#owed.get(session);
    const owed = byId?.get(id);
    if (byId === undefined || owed?.resumeAt !== resumedFrom) return false;
    byId.delete(id);
    if (byId.size === 0) this.#owed.delete(session);
    owed.answered(id);
    const tainted = this.#sessions.get(session);
    if (tainted === undefined || tainted === WHOLE) return false;
    const digest = digestOf(id);
    const times = typeof tainted === 'number' ? (tainted === digest ? 1 : 0) : (tainted.get(digest) ?? 0);
    if (times > 1) (tainted as Map<number, number>).set(digest, times - 1);
    else if (times === 1) {
      this.#ids--;
      if (typeof tainted === 'number') this.#sessions.delete(session);
      else {
        tainted.delete(digest);
        if (tainted.size === 0) this.#sessions.delete(session);
      }
    }
    return times > 0;
  }

  /**
   * A GET of `session` resuming a stream from event `from` (held key) ended having passed events up to `to`:
   * the marks still owed at `from` are owed at `to`, where a GET resuming it (cut off again) starts. Without
   * this they stayed until their session ended (safe, but a session polled so filled its bound again).
   */
  resumedAt(session: string, from: string, to: string): void {
    if (from === to) return;
    const byId = this.#owed.get(session);
    if (byId === undefined) return;
    for (const owed of byId.values()) if (owed.resumeAt === from) owed.resumeAt = to;
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
    this.#owed.delete(session);
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

/** The ids an entry holds (its distinct digests). */
function count(tainted: Tainted): number {
  if (tainted === WHOLE) return 0;
  return typeof tainted === 'number' ? 1 : tainted.size;
}

/** `tainted` (undefined: nothing yet) with `digest` marked once more. */
function withDigest(tainted: Tainted | undefined, digest: number): Tainted {
  if (tainted === undefined) return digest;
  const times = typeof tainted === 'number' ? new Map([[tainted, 1]]) : tainted;
  times.set(digest, (times.get(digest) ?? 0) + 1);
  return times;
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
