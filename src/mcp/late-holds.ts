/**
 * The late-reply holds of {@link InFlightIds}: the ids of requests cut off before their answer, each request's
 * held until its grace ends, at most {@link MAX_LATE_REPLY_IDS} in all (the oldest ended early beyond that).
 * One queue in the order they came, with one timer for them all (a timer and its closure for each cost more
 * than the ids held), and each session's holds in a ring, so that a session that ended drops its own at once.
 * A hold whose answers all came ({@link LateHolds.shrink}) ends before its grace: it held nothing any more.
 *
 * @module
 */

/**
 * Ids held for the late-reply grace, in all sessions together; beyond this the oldest are released early
 * (they only matter to a caller reusing an id, which MCP clients never do).
 */
export const MAX_LATE_REPLY_IDS = 100_000;

/** Ended holds leave the queue's array in one splice once they are this many (and half of it). */
const COMPACT_AT = 1_024;

export interface LateHold {
  /** Undefined once it ended before its turn (its session ended, its answers came): a tombstone in the queue. */
  free: (() => void) | undefined;
  /** Ids it holds still. */
  ids: number;
  /** When its grace is over (`performance.now()`: monotonic, unlike the wall clock, which may be stepped). */
  readonly until: number;
  /** The session's held key. */
  readonly session: string;
  /** The session's next younger and next older holds (a ring: the youngest's next is the oldest). */
  next: LateHold | undefined;
  prev: LateHold | undefined;
}

export class LateHolds {
  /** Holds waiting out the grace, oldest first, from `#head` on. */
  readonly #late: (LateHold | undefined)[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #ids = 0;
  /** Each session's youngest hold, the way into its ring of holds. */
  readonly #bySession = new Map<string, LateHold>();
  /** Tombstones in the queue; swept out once they are half of it. */
  #dropped = 0;

  /**
   * Holds `free` (of `ids` ids) until `delayMs` from now. The holds are kept in the order they came, which is
   * the order their graces end in as long as they share one delay; a shorter one behind a longer one is held
   * until that one ends: longer, never shorter.
   */
  hold(session: string, free: () => void, ids: number, delayMs: number): LateHold {
    const hold: LateHold = {
      free,
      ids,
      until: performance.now() + delayMs,
      session,
      next: undefined,
      prev: undefined,
    };
    const youngest = this.#bySession.get(session);
    if (youngest === undefined) {
      hold.next = hold;
      hold.prev = hold;
    } else {
      const oldest = youngest.next as LateHold;
      hold.next = oldest;
      hold.prev = youngest;
      oldest.prev = hold;
      youngest.next = hold;
    }
    this.#bySession.set(session, hold);
    this.#late.push(hold);
    this.#ids += ids;
    while (this.#ids > MAX_LATE_REPLY_IDS) this.#endOldest();
    this.#arm();
    return hold;
  }

  /**
   * `hold` holds `by` ids fewer (their answers came, and they were freed): once it holds none it ends,
   * without calling its `free`.
   */
  shrink(hold: LateHold, by: number): void {
    if (hold.free === undefined) return;
    hold.ids -= by;
    this.#ids -= by;
    if (hold.ids > 0) return;
    this.#drop(hold);
    this.#compact();
  }

  /** Drops a session's holds at once, without calling their `free` (what they held went with the session). */
  endSession(session: string): void {
    const youngest = this.#bySession.get(session);
    if (youngest === undefined) return;
    this.#bySession.delete(session);
    let hold: LateHold | undefined = youngest;
    while (hold !== undefined) {
      const next: LateHold | undefined = hold.next === youngest ? undefined : hold.next;
      hold.free = undefined;
      hold.next = undefined;
      hold.prev = undefined;
      this.#ids -= hold.ids;
      this.#dropped++;
      hold = next;
    }
    this.#compact();
  }

  /** Holds in the queue, tombstones included (tests). */
  get queued(): number {
    return this.#late.length - this.#head;
  }

  /** Ids held (tests). */
  get ids(): number {
    return this.#ids;
  }

  /** Makes `hold` a tombstone, out of its session's ring. */
  #drop(hold: LateHold): void {
    hold.free = undefined;
    this.#ids -= hold.ids;
    this.#unring(hold);
    this.#dropped++;
  }

  /** Empties a queue left with tombstones only, or sweeps them out once they are half of it. */
  #compact(): void {
    if (this.#ids === 0) this.#clear();
    else if (this.#dropped >= COMPACT_AT && this.#dropped * 2 >= this.#late.length - this.#head)
      this.#sweep();
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
    const free = hold.free;
    if (free === undefined) this.#dropped--;
    else {
      hold.free = undefined;
      this.#ids -= hold.ids;
      this.#unring(hold);
      free();
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#late.length) {
      this.#late.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Takes `hold` out of its session's ring. */
  #unring(hold: LateHold): void {
    const { next, prev } = hold;
    hold.next = undefined;
    hold.prev = undefined;
    if (next === undefined || prev === undefined) return;
    if (next === hold) {
      this.#bySession.delete(hold.session);
      return;
    }
    prev.next = next;
    next.prev = prev;
    if (this.#bySession.get(hold.session) === hold) this.#bySession.set(hold.session, prev);
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
  #clear(): void {
    this.#late.length = 0;
    this.#head = 0;
    this.#dropped = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
