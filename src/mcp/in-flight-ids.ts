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
 * would crowd other sessions' holds out at the bound (released early, their protection weakened).
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
import { UntaughtSessions } from './untaught-sessions.js';

/** A session holding more ids than this in flight is refused more (a caller's own flood, not a client). */
export const MAX_IN_FLIGHT_PER_SESSION = 10_000;

/**
 * How long the ids of a request cut off before its reply (the client left, the upstream timed out) stay
 * claimed: the upstream may still answer them, and that late reply must not reach a new request reusing
 * the id. MCP clients never reuse ids in a session, so only a caller probing for this waits.
 */
export const LATE_REPLY_GRACE_MS = 5 * 60_000;

/**
 * Ids held for the late-reply grace, in all sessions together; beyond this the oldest are released early
 * (they only matter to a caller reusing an id, which MCP clients never do).
 */
export const MAX_LATE_REPLY_IDS = 100_000;

/** Ids and session ids longer than this are held by their SHA-256 (44 characters) instead. */
export const MAX_HELD_KEY_CHARS = 128;

/** Releases a request's ids, at once or after `delayMs` (cut off: `resumeAt`, its reply's last event id). */
export type Release = (delayMs?: number, resumeAt?: string) => void;

interface LateHold {
  /** Undefined once its session ended: the hold stays in the queue as a tombstone, holding nothing. */
  free: (() => void) | undefined;
  readonly ids: number;
  /** When its grace is over (`performance.now()`: monotonic, unlike the wall clock, which may be stepped). */
  readonly until: number;
  /** The session's held key. */
  readonly session: string;
  /**
   * The next younger hold of the same session; the youngest points back to the oldest (a ring: the session's
   * holds end in the order they came, oldest first, as the queue's do).
   */
  next: LateHold | undefined;
}

/** Swept holds leave the queue's array in one splice once they are this many (and half of it). */
const COMPACT_AT = 1_024;

export class InFlightIds {
  readonly #bySession = new Map<string, Set<string>>();
  /**
   * Holds of cut-off requests waiting out the grace, oldest first, from `#head` on; one timer for them all,
   * set for the oldest (a timer and its closure for each cost more than the ids held).
   */
  readonly #late: (LateHold | undefined)[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #lateIds = 0;
  /** Each session's youngest hold, the way into its ring of holds (`LateHold.next`). */
  readonly #lateBySession = new Map<string, LateHold>();
  /** Tombstones in the queue (holds of sessions that ended); swept out once they are half of it. */
  #dropped = 0;
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
          // Marked before it is held: a hold ended at once (at the bound) must find its ids there to take them out.
          this.#untaught.mark(session, ids, resumeAt === undefined ? undefined : heldKey(resumeAt));
          const ended = () => {
            this.#untaught.released(session, ids);
            free();
          };
          this.#holdLate(session, ended, ids.length, delayMs);
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
    const youngest = this.#lateBySession.get(session);
    if (youngest === undefined) return;
    this.#lateBySession.delete(session);
    let hold = youngest.next;
    youngest.next = undefined;
    while (hold !== undefined) {
      const next = hold.next;
      hold.free = undefined;
      hold.next = undefined;
      this.#lateIds -= hold.ids;
      this.#dropped++;
      hold = next;
    }
    if (this.#lateIds === 0) this.#clearLate();
    else if (this.#dropped >= COMPACT_AT && this.#dropped * 2 >= this.#late.length - this.#head)
      this.#sweep();
  }

  /**
   * The upstream's answer under `id` passed on a stream of the session resumed from event `resumedFrom` (a GET's
   * `Last-Event-ID`): a request cut off under it, still held for its answer, whose reply's last event that was,
   * no longer makes a POST reusing it untaught.
   */
  answered(sessionId: string, id: string, resumedFrom: string): void {
    this.#untaught.answered(heldKey(sessionId), heldKey(id), heldKey(resumedFrom));
  }

  /** Holds in the queue, tombstones of ended sessions' included (tests). */
  get lateQueued(): number {
    return this.#late.length - this.#head;
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
    return this.#lateIds;
  }

  /**
   * Holds `free` until `delayMs` from now. The holds are kept in the order they came, which is the order
   * their graces end in as long as they share one delay (the sidecar's is {@link LATE_REPLY_GRACE_MS}); a
   * shorter one behind a longer one is held until that one ends: longer, never shorter.
   */
  #holdLate(session: string, free: () => void, ids: number, delayMs: number): void {
    const hold: LateHold = { free, ids, until: performance.now() + delayMs, session, next: undefined };
    const youngest = this.#lateBySession.get(session);
    hold.next = youngest?.next ?? hold;
    if (youngest !== undefined) youngest.next = hold;
    this.#lateBySession.set(session, hold);
    this.#late.push(hold);
    this.#lateIds += ids;
    while (this.#lateIds > MAX_LATE_REPLY_IDS) this.#endOldest();
    this.#arm();
  }

  /** Sets the timer for the oldest hold, unless it is set or none is left. */
  #arm(): void {
    const oldest = this.#late[this.#head];
    if (this.#timer !== undefined || oldest === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = performance.now();
        for (let h = this.#late[this.#head]; h !== undefined && h.until <= now; h = this.#late[this.#head]) {
          this.#endOldest();
        }
        this.#arm();
      },
      Math.max(0, oldest.until - performance.now()),
    );
    this.#timer.unref();
  }

  #endOldest(): void {
    const hold = this.#late[this.#head];
    if (hold === undefined) return;
    this.#late[this.#head++] = undefined;
    if (hold.free === undefined) this.#dropped--;
    else {
      this.#lateIds -= hold.ids;
      this.#unring(hold);
      hold.free();
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#late.length) {
      this.#late.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Takes a hold that ends out of its session's ring: it is the session's oldest, as it is the queue's. */
  #unring(hold: LateHold): void {
    const youngest = this.#lateBySession.get(hold.session);
    if (youngest === hold) this.#lateBySession.delete(hold.session);
    else if (youngest !== undefined) youngest.next = hold.next;
    hold.next = undefined;
  }

  /** Drops the tombstones from the queue, keeping the order of the rest (the timer finds its new oldest). */
  #sweep(): void {
    let kept = 0;
    for (let i = this.#head; i < this.#late.length; i++) {
      const hold = this.#late[i];
      if (hold?.free !== undefined) this.#late[kept++] = hold;
    }
    this.#late.length = kept;
    this.#head = 0;
    this.#dropped = 0;
  }

  /** Empties a queue left with tombstones only, and stops its timer. */
  #clearLate(): void {
    this.#late.length = 0;
    this.#head = 0;
    this.#dropped = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
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
