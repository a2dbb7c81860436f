/**
 * Request ids in flight per Streamable HTTP session. MCP forbids reusing a request id within a session,
 * and the upstream routes each reply to the POST that sent its id last: a caller who sent `tools/call`
 * with the id of its own pending `tools/list` got the list reply on that POST, where no list request was
 * pending and nothing was pruned. A request whose id is still in flight in its session is therefore
 * refused; ids are released when the request finishes.
 *
 * Bounded: an id or session id longer than {@link MAX_HELD_KEY_CHARS} is held by its SHA-256 (a request id
 * may be a string as long as the body), and the ids held on after their request was cut off (the late-reply
 * grace) are at most {@link MAX_LATE_REPLY_IDS} in all, the oldest released early beyond that: without
 * either, a caller cutting requests off (or an upstream that is down, every forward a 502) had the sidecar
 * keep every id it sent for five minutes, whatever their number and size.
 *
 * A session that ended (its DELETE, the upstream's 404 for it, or its eviction from the session table) can
 * never have an id reused in it, so {@link InFlightIds.endSession} drops its ids and holds at once: kept, they
 * would crowd other sessions' holds out at the bound (released early, their protection weakened). Likewise
 * an id whose late answer passed on a GET resuming its request's stream ({@link InFlightIds.answered}) is
 * freed then: nothing is owed under it any more, and held on it only counted toward the bound
 * (late-holds.ts keeps the holds).
 *
 * A hold ends while the upstream may still be at work (a tool running past the grace, or holds released early
 * at the bound): its id may then be reused with a late answer still owed, which that POST would take for its
 * own. So a POST reusing the id of a request cut off is untaught: its `tools/list` replies teach nothing
 * (reply-filter.ts), as a legacy session reusing an id (tool-list-ids.ts); see untaught-sessions.ts.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { cutText } from '../cut-text.js';
import type { JsonRpcMessage } from './jsonrpc.js';
import { type LateHold, LateHolds } from './late-holds.js';
import { UntaughtSessions } from './untaught-sessions.js';

export { MAX_LATE_REPLY_IDS } from './late-holds.js';

/** A session holding more ids than this in flight is refused more (a caller's own flood, not a client). */
export const MAX_IN_FLIGHT_PER_SESSION = 10_000;

/**
 * How long the ids of a request cut off before its reply (the client left, the upstream timed out) stay
 * claimed: the upstream may still answer them, and that late reply must not reach a new request reusing
 * the id. MCP clients never reuse ids in a session, so only a caller probing for this waits.
 */
export const LATE_REPLY_GRACE_MS = 5 * 60_000;

/** Ids and session ids longer than this are held by their SHA-256 (44 characters) instead. */
export const MAX_HELD_KEY_CHARS = 128;

/** Releases a request's ids, at once or after `delayMs` (cut off: `resumeAt`, its reply's last event id). */
export type Release = (delayMs?: number, resumeAt?: string) => void;

/** A GET resuming a stream of a session ({@link InFlightIds.resumed}). */
export interface ResumedStream {
  /** The upstream's answer under request id `id` passed on it. */
  answered(id: string): void;
  /**
   * It ended having passed events up to `lastEventId`, from where a GET resumes it when it was cut off: the
   * answers still owed where it began are owed there.
   */
  passedTo(lastEventId: string): void;
}

export class InFlightIds {
  readonly #bySession = new Map<string, Set<string>>();
  /** Holds of cut-off requests waiting out the grace. */
  readonly #holds = new LateHolds();
  /** The ids of requests cut off, whose reuse teaches nothing. */
  readonly #untaught = new UntaughtSessions();

  /**
   * Claims the request ids of `messages` for `session`; returns a refusal (the id already in flight, or
   * that the session is full) and claims nothing then, or a function that releases what was claimed, and
   * whether the request is untaught (it reuses the id of one cut off: its list replies teach nothing).
   */
  claim(
    sessionId: string,
    messages: readonly JsonRpcMessage[],
  ): { readonly release: Release; readonly untaught?: boolean } | { readonly refused: string } {
    const sent: string[] = [];
    for (const m of messages) if (m.kind === 'request') sent.push(String(m.id));
    if (sent.length === 0) return { release: noop };
    const ids = sent.map(heldKey);
    const session = heldKey(sessionId);
    let set = this.#bySession.get(session);
    for (const [i, id] of ids.entries()) {
      if (set?.has(id))
        return { refused: `request id ${shown(sent[i] ?? '')} is already in flight in this session` };
    }
    if ((set?.size ?? 0) + ids.length > MAX_IN_FLIGHT_PER_SESSION) {
      return { refused: `over ${MAX_IN_FLIGHT_PER_SESSION} requests are in flight in this session` };
    }
    if (!set) {
      set = new Set();
      this.#bySession.set(session, set);
    }
    for (const id of ids) set.add(id);
    const untaught = this.#untaught.untaught(session, ids);
    const held = set;
    let released = false;
    const free = () => {
      for (const id of ids) held.delete(id);
      if (held.size === 0 && this.#bySession.get(session) === held) this.#bySession.delete(session);
    };
    return {
      release: (delayMs = 0, resumeAt?: string) => {
        if (released) return;
        released = true;
        // A session that ended meanwhile holds nothing more (its set is no longer the session's).
        if (delayMs > 0 && this.#bySession.get(session) === held) {
          let hold: LateHold | undefined;
          // Its answer passing on a GET resuming its stream frees an id before the grace ends (nothing is owed).
          const owed =
            resumeAt === undefined
              ? undefined
              : {
                  resumeAt: heldKey(resumeAt),
                  answered: (id: string) => {
                    const before = ids.length;
                    for (let i = ids.indexOf(id); i !== -1; i = ids.indexOf(id)) ids.splice(i, 1);
                    if (hold === undefined || ids.length === before) return;
                    held.delete(id);
                    if (held.size === 0 && this.#bySession.get(session) === held)
                      this.#bySession.delete(session);
                    this.#holds.shrink(hold, before - ids.length);
                  },
                };
          // Marked before it is held: a hold ended at once (at the bound) must find its ids there to take them out.
          this.#untaught.mark(session, ids, owed);
          const ended = () => {
            this.#untaught.released(session, ids);
            free();
          };
          hold = this.#holds.hold(session, ended, ids.length, delayMs);
        } else free();
      },
      untaught,
    };
  }

  /**
   * Forgets a session that ended: its ids in flight and its late-reply holds go at once, in the time of its
   * own holds (plus, amortised, the sweep of their tombstones). A request of it still running is released
   * as usual, and holds nothing when cut off.
   */
  endSession(sessionId: string): void {
    const session = heldKey(sessionId);
    this.#bySession.delete(session);
    this.#untaught.end(session);
    this.#holds.endSession(session);
  }

  /**
   * A GET of the session resuming a stream from event `resumedFrom` (its `Last-Event-ID`): each upstream answer
   * passing on it, under `id`, forgets a request cut off under it, still held for its answer, whose reply's
   * last event that was (it is freed, and a POST reusing the id is no longer untaught). The held keys of the
   * session and event id (SHA-256 when long) are made once for the stream, not for each answer.
   */
  resumed(sessionId: string, resumedFrom: string): ResumedStream {
    const session = heldKey(sessionId);
    const from = heldKey(resumedFrom);
    return {
      answered: (id) => {
        this.#untaught.answered(session, heldKey(id), from);
      },
      passedTo: (lastEventId) => {
        this.#untaught.resumedAt(session, from, heldKey(lastEventId));
      },
    };
  }

  /** One answer passing on a resumed stream ({@link InFlightIds.resumed}). */
  answered(sessionId: string, id: string, resumedFrom: string): void {
    this.resumed(sessionId, resumedFrom).answered(id);
  }

  /** Holds in the queue, tombstones of ended sessions' included (tests). */
  get lateQueued(): number {
    return this.#holds.queued;
  }

  /** Sessions with requests in flight (tests). */
  get sessions(): number {
    return this.#bySession.size;
  }

  /** Characters of the session ids and request ids held (tests). */
  get heldChars(): number {
    let n = 0;
    for (const [session, set] of this.#bySession) {
      n += session.length;
      for (const id of set) n += id.length;
    }
    return n;
  }

  /** Sessions with cut-off requests remembered (tests). */
  get untaughtSessions(): number {
    return this.#untaught.size;
  }

  /** Ids held for the late-reply grace (tests). */
  get lateIds(): number {
    return this.#holds.ids;
  }
}

/** What an id or session id is held by: itself, or its SHA-256 when it is long. */
function heldKey(value: string): string {
  if (value.length <= MAX_HELD_KEY_CHARS) return value;
  return `sha256:${createHash('sha256').update(value).digest('base64url')}`;
}

/** A request id as a refusal names it: cut to a readable length. */
function shown(id: string): string {
  return cutText(id, 64);
}

function noop(): void {}
