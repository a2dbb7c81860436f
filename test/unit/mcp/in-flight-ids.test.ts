import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InFlightIds,
  LATE_REPLY_GRACE_MS,
  MAX_HELD_KEY_CHARS,
  MAX_IN_FLIGHT_PER_SESSION,
  MAX_LATE_REPLY_IDS,
} from '../../../src/mcp/in-flight-ids.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';
import { MAX_TAINTED_IDS_PER_SESSION, MAX_UNTAUGHT_SESSIONS } from '../../../src/mcp/untaught-sessions.js';

const req = (id: string | number): JsonRpcMessage => ({
  kind: 'request',
  id,
  method: 'tools/list',
  params: {},
});
const note: JsonRpcMessage = { kind: 'notification', method: 'notifications/initialized', params: undefined };

afterEach(() => {
  vi.useRealTimers();
});

describe('InFlightIds', () => {
  it('refuses an id in flight in the same session, not in another, and frees it on release', () => {
    const ids = new InFlightIds();
    const a = ids.claim('s1', [req(1), req(2)]);
    expect('release' in a).toBe(true);
    expect(ids.claim('s1', [req(3), req('1')])).toEqual({
      refused: 'request id 1 is already in flight in this session',
    });
    // Nothing of a refused claim is held: 3 is still free.
    const c = ids.claim('s1', [req(3)]);
    expect('release' in c).toBe(true);
    expect('release' in ids.claim('s2', [req(1)])).toBe(true);
    if ('release' in a) a.release();
    expect('release' in ids.claim('s1', [req(1)])).toBe(true);
  });

  it('claims nothing for notifications and forgets a session once its ids are released', () => {
    const ids = new InFlightIds();
    const n = ids.claim('s', [note]);
    expect('release' in n).toBe(true);
    expect(ids.sessions).toBe(0);
    const a = ids.claim('s', [req(1)]);
    expect(ids.sessions).toBe(1);
    if ('release' in a) {
      a.release();
      a.release(); // twice is harmless
    }
    expect(ids.sessions).toBe(0);
  });

  it('holds the ids of a request cut off before its reply until the delay is over', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    const a = ids.claim('s', [req(7)]);
    if ('release' in a) a.release(60_000);
    expect(ids.claim('s', [req(7)])).toHaveProperty('refused');
    vi.advanceTimersByTime(60_000);
    expect(ids.claim('s', [req(7)])).toHaveProperty('release');
  });

  it('refuses more than the per-session bound in flight', () => {
    const ids = new InFlightIds();
    const many = Array.from({ length: MAX_IN_FLIGHT_PER_SESSION }, (_, i) => req(i));
    expect(ids.claim('s', many)).toHaveProperty('release');
    expect(ids.claim('s', [req('x')])).toEqual({
      refused: `over ${MAX_IN_FLIGHT_PER_SESSION} requests are in flight in this session`,
    });
  });
});

describe('InFlightIds bounds', () => {
  it('holds at most MAX_LATE_REPLY_IDS ids of cut-off requests, releasing the oldest early', () => {
    // Real timers: fake ones scan every timer on each step (100,000 of them here). Unref'd, they keep
    // nothing alive.
    const ids = new InFlightIds();
    // A caller cutting requests off in ever new sessions (or an upstream that is down: every forward a 502).
    const over = MAX_LATE_REPLY_IDS + 10;
    for (let i = 0; i <= over; i++) {
      const c = ids.claim(`s-${i}`, [req(i)]);
      if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
    }
    expect(ids.lateIds).toBe(MAX_LATE_REPLY_IDS);
    expect(ids.sessions).toBe(MAX_LATE_REPLY_IDS);
    // The oldest were released early; the newest are still held.
    expect(ids.claim('s-0', [req(0)])).toHaveProperty('release');
    expect(ids.claim(`s-${over}`, [req(over)])).toHaveProperty('refused');
  });

  it('counts a late hold until its grace is over', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    const a = ids.claim('s', [req(1)]);
    if ('release' in a) a.release(LATE_REPLY_GRACE_MS);
    expect(ids.lateIds).toBe(1);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(0);
  });

  it('keeps one timer for any number of late holds, and ends each hold once its grace is over', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    // A timer and a closure for each hold cost more than the ids they hold (about 1.4 KB a hold, measured).
    for (let i = 0; i < 1_000; i++) {
      const c = ids.claim(`s-${i}`, [req(i)]);
      if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
      vi.advanceTimersByTime(10);
    }
    expect(vi.getTimerCount()).toBe(1);
    // The first 500 holds' grace is over 10 s after the first; the rest are still held.
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 10_000 + 5_000 - 10);
    expect(ids.lateIds).toBe(500);
    expect(ids.claim('s-499', [req(499)])).toHaveProperty('release');
    expect(ids.claim('s-500', [req(500)])).toHaveProperty('refused');
    vi.advanceTimersByTime(10_000);
    expect(ids.lateIds).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('times the grace on a monotonic clock: a wall clock stepped forward releases nothing early', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    for (const id of [1, 2]) {
      const c = ids.claim('s', [req(id)]);
      if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
      vi.advanceTimersByTime(60_000);
    }
    // An NTP step or a resumed VM: with the wall clock, hold 2 went when hold 1's timer fired, 3 min early.
    vi.setSystemTime(Date.now() + LATE_REPLY_GRACE_MS);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 120_000);
    expect(ids.lateIds).toBe(1);
    expect(ids.claim('s', [req(2)])).toHaveProperty('refused');
    vi.advanceTimersByTime(60_000);
    expect(ids.lateIds).toBe(0);
  });

  it('holds a long id and a long session id by their digest, and still refuses the id reused', () => {
    const ids = new InFlightIds();
    const session = 's'.repeat(10_000);
    const long = 'x'.repeat(1_000_000);
    const a = ids.claim(session, [req(long)]);
    expect(a).toHaveProperty('release');
    expect(ids.heldChars).toBeLessThanOrEqual(2 * MAX_HELD_KEY_CHARS);
    const again = ids.claim(session, [req(long)]);
    expect(again).toHaveProperty('refused');
    // The refusal names the id cut short, not a megabyte of it.
    expect((again as { refused: string }).refused.length).toBeLessThan(200);
    // Another long id sharing the prefix is another id.
    expect(ids.claim(session, [req(`${long}y`)])).toHaveProperty('release');
  });
});

describe('InFlightIds.endSession', () => {
  /** Claims `reqIds` in `session` and releases them at once, held for the late-reply grace. */
  function cutOff(ids: InFlightIds, session: string, reqIds: (string | number)[]): void {
    const c = ids.claim(session, reqIds.map(req));
    if (!('release' in c)) throw new Error(c.refused);
    c.release(LATE_REPLY_GRACE_MS);
  }

  it("drops the ended session's holds and ids, not another's, whose hold still ends on the one timer", () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    cutOff(ids, 'a', [1, 2]);
    vi.advanceTimersByTime(1_000);
    cutOff(ids, 'b', [1]);
    cutOff(ids, 'a', [3]);
    const running = ids.claim('a', [req(4)]);
    expect(ids.lateIds).toBe(4);

    ids.endSession('a');
    expect(ids.lateIds).toBe(1);
    expect(ids.sessions).toBe(1);
    expect(ids.claim('b', [req(1)])).toHaveProperty('refused');
    // The ended session's ids are free (only a caller probing could name it again, and nothing is held).
    const again = ids.claim('a', [req(1), req(3), req(4)]);
    expect(again).toHaveProperty('release');
    if ('release' in again) again.release();
    // Its request still running when it ended holds nothing once cut off.
    if ('release' in running) running.release(LATE_REPLY_GRACE_MS);
    expect(ids.lateIds).toBe(1);
    expect(ids.sessions).toBe(1);

    // The timer was set for a's first hold, dropped: it still ends b's when its grace is over.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 1_000);
    expect(ids.lateIds).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(0);
    expect(ids.claim('b', [req(1)])).toHaveProperty('release');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops the timer when no hold is left, and knows a session nobody held anything in', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    ids.endSession('never');
    cutOff(ids, 'a', [1]);
    cutOff(ids, 'a', [2]);
    ids.endSession('a');
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // Holds made afterwards are timed as before.
    cutOff(ids, 'b', [1]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(ids.lateIds).toBe(0);
  });

  it('drops the holds left of a session some of whose holds already ended', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    for (const id of [1, 2, 3]) {
      cutOff(ids, 's', [id]);
      cutOff(ids, `other-${id}`, [id]);
      vi.advanceTimersByTime(10_000);
    }
    // The grace of s's first hold (and other-1's) is over; two of s's are left.
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 30_000);
    expect(ids.lateIds).toBe(4);
    ids.endSession('s');
    expect(ids.lateIds).toBe(2);
    expect(ids.claim('s', [req(2)])).toHaveProperty('release');
    expect(ids.claim('other-2', [req(2)])).toHaveProperty('refused');
    vi.advanceTimersByTime(20_000);
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(1); // s: the claim of id 2 above, never released
  });

  it('sweeps the dropped holds out of the queue, keeping the rest in order and on time', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    // 3,000 sessions a hold each, 10 ms apart; every other one ends (over a thousand dropped: swept).
    for (let i = 0; i < 3_000; i++) {
      cutOff(ids, `s-${i}`, [i]);
      vi.advanceTimersByTime(10);
    }
    for (let i = 0; i < 2_000; i += 2) ids.endSession(`s-${i}`);
    // Fewer than COMPACT_AT tombstones wait for their turn in the queue.
    expect(ids.lateQueued).toBe(3_000);
    for (let i = 2_000; i < 3_000; i += 2) ids.endSession(`s-${i}`);
    expect(ids.lateIds).toBe(1_500);
    expect(ids.lateQueued).toBe(1_500);
    // The first 1,000 holds' grace is over 10 s after the first's: 500 of them were left.
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 30_000 + 10_000 - 10);
    expect(ids.lateIds).toBe(1_000);
    expect(ids.claim('s-999', [req(999)])).toHaveProperty('release');
    expect(ids.claim('s-1001', [req(1001)])).toHaveProperty('refused');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(ids.lateIds).toBe(0);
    expect(ids.lateQueued).toBe(0);
    expect(ids.sessions).toBe(1); // s-999: the claim above, never released
    expect(vi.getTimerCount()).toBe(0);
  });

  it("frees its room at the bound: other sessions' holds are not released early for it", () => {
    // Real timers, as in the bound test above (unref'd, they keep nothing alive).
    const ids = new InFlightIds();
    const half = MAX_LATE_REPLY_IDS / 2;
    // Sessions cutting off as many requests as each may have in flight take half the bound.
    const ended = Array.from({ length: half / MAX_IN_FLIGHT_PER_SESSION }, (_, i) => `ended-${i}`);
    for (const s of ended)
      cutOff(
        ids,
        s,
        Array.from({ length: MAX_IN_FLIGHT_PER_SESSION }, (_, i) => i),
      );
    for (let i = 0; i < half; i++) cutOff(ids, `s-${i}`, [i]);
    expect(ids.lateIds).toBe(MAX_LATE_REPLY_IDS);
    for (const s of ended) ids.endSession(s);
    expect(ids.lateIds).toBe(half);
    for (let i = half; i < MAX_LATE_REPLY_IDS; i++) cutOff(ids, `s-${i}`, [i]);
    expect(ids.lateIds).toBe(MAX_LATE_REPLY_IDS);
    // The oldest of the others is still held: the ended sessions' holds made the room.
    expect(ids.claim('s-0', [req(0)])).toHaveProperty('refused');
    expect(ids.sessions).toBe(MAX_LATE_REPLY_IDS);
  });
});

describe('InFlightIds untaught requests', () => {
  /** Cuts `reqIds` off in `session`, its reply's last event `resumeAt` (where a GET resumes its stream). */
  const cutOff = (ids: InFlightIds, session: string, reqIds: (string | number)[], resumeAt = 'ev'): void => {
    const c = ids.claim(session, reqIds.map(req));
    if (!('release' in c)) throw new Error(c.refused);
    c.release(LATE_REPLY_GRACE_MS, resumeAt);
  };
  /** Whether a request of `session` sending `reqIds` (free, not held) is untaught; released at once. */
  const untaught = (ids: InFlightIds, session: string, reqIds: (string | number)[]): boolean | undefined => {
    const c = ids.claim(session, reqIds.map(req));
    if (!('release' in c)) throw new Error(c.refused);
    c.release();
    return c.untaught;
  };

  it('marks a request reusing the id of one cut off, for good: its hold ending frees the id, not the mark', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    const a = ids.claim('s', [req(7)]);
    if ('release' in a) a.release();
    expect(untaught(ids, 's', [7])).toBe(false);
    const b = ids.claim('s', [req(8)]);
    if ('release' in b) b.release(LATE_REPLY_GRACE_MS);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    // Id 8 is free again, while the upstream may still owe its answer: whatever reuses it (`"8"` alike, one of
    // a batch) teaches nothing.
    expect(untaught(ids, 's', [8])).toBe(true);
    expect(untaught(ids, 's', ['8'])).toBe(true);
    expect(untaught(ids, 's', [20, 8])).toBe(true);
    // Nor, once more, later.
    expect(untaught(ids, 's', [8])).toBe(true);
    // Other ids of the session still teach, and the id in another session.
    expect(untaught(ids, 's', [9, 'probe'])).toBe(false);
    expect(untaught(ids, 'other', [8])).toBe(false);
  });

  it('keeps the mark of an id whose hold was released early at the bound', () => {
    const ids = new InFlightIds();
    cutOff(ids, 's', [1]);
    for (let i = 0; i < MAX_LATE_REPLY_IDS; i++) cutOff(ids, `flood-${i % 10}`, [i]);
    expect(ids.claim('s', [req(1)])).toMatchObject({ untaught: true });
    expect(untaught(ids, 's', [2])).toBe(false);
  });

  it('forgets the marks with their session, and a session that ended meanwhile is not marked', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    cutOff(ids, 's', [1]);
    ids.endSession('s');
    expect(untaught(ids, 's', [1])).toBe(false);
    const c = ids.claim('t', [req(1)]);
    ids.endSession('t');
    if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(untaught(ids, 't', [1])).toBe(false);
    expect(ids.untaughtSessions).toBe(0);
  });

  it('forgets the mark of an id once its late answer passed on a stream of the session, while it was held', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    // SSE polling: each call's stream ends before its answer, which comes on a GET resuming it.
    cutOff(ids, 's', [1, 'two']);
    ids.answered('s', '1', 'ev');
    ids.answered('s', 'two', 'ev');
    // An answer under an id not cut off, in another session, or replayed, forgets nothing.
    cutOff(ids, 's', [3]);
    ids.answered('s', '4', 'ev');
    ids.answered('other', '3', 'ev');
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(untaught(ids, 's', [1])).toBe(false);
    expect(untaught(ids, 's', ['two'])).toBe(false);
    expect(untaught(ids, 's', [3])).toBe(true);
    // Once its hold ended, an answer no longer forgets it: nothing says which request it answered.
    ids.answered('s', '3', 'ev');
    expect(untaught(ids, 's', [3])).toBe(true);
  });

  it('keeps a polled session learning past its bound of cut-off ids, as their answers come', () => {
    const ids = new InFlightIds();
    for (let i = 0; i < 3 * MAX_TAINTED_IDS_PER_SESSION; i++) {
      cutOff(ids, 's', [i]);
      ids.answered('s', String(i), 'ev');
    }
    expect(ids.untaughtSessions).toBe(0);
    expect(untaught(ids, 's', ['fresh'])).toBe(false);
  });

  it('frees a held id once its late answer passed, and ends the hold when all of its ids were answered', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    cutOff(ids, 's', [1, 2]);
    cutOff(ids, 's', [3]);
    expect(ids.lateIds).toBe(3);
    ids.answered('s', '1', 'ev');
    // Answered: no longer counted toward the bound, and free to be reused at once.
    expect(ids.lateIds).toBe(2);
    expect('release' in ids.claim('s', [req(1)])).toBe(true);
    expect(ids.claim('s', [req(2)])).toEqual({
      refused: 'request id 2 is already in flight in this session',
    });
    // The reuse of 1 is not freed when the hold of the first request (2 still owed) ends.
    ids.answered('s', '3', 'ev');
    ids.answered('s', '2', 'ev');
    expect([ids.lateIds, ids.lateQueued]).toEqual([0, 0]);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(ids.claim('s', [req(1)])).toEqual({
      refused: 'request id 1 is already in flight in this session',
    });
    expect('release' in ids.claim('s', [req(2)])).toBe(true);
  });

  it('keeps the other holds of a session in order when one in the middle was answered', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    cutOff(ids, 's', [1]);
    vi.advanceTimersByTime(1_000);
    cutOff(ids, 's', [2]);
    vi.advanceTimersByTime(1_000);
    cutOff(ids, 's', [3]);
    ids.answered('s', '2', 'ev');
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS - 2_000);
    expect(ids.lateIds).toBe(1);
    expect(ids.claim('s', [req(3)])).toEqual({
      refused: 'request id 3 is already in flight in this session',
    });
    ids.endSession('s');
    expect([ids.lateIds, ids.lateQueued, ids.sessions]).toEqual([0, 0, 0]);
  });

  it('forgets a mark only on a stream resumed from its own reply’s last event, long event ids too', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    const long = `${'e'.repeat(MAX_HELD_KEY_CHARS)}-2`;
    cutOff(ids, 's', [7], long);
    // The answer of an earlier request under id 7, replayed on a GET resuming that request's stream.
    ids.answered('s', '7', `${'e'.repeat(MAX_HELD_KEY_CHARS)}-1`);
    ids.answered('s', '7', 'ev');
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(untaught(ids, 's', [7])).toBe(true);
    cutOff(ids, 's', [8], long);
    ids.answered('s', '8', long);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(untaught(ids, 's', [8])).toBe(false);
  });

  it('remembers at most MAX_UNTAUGHT_SESSIONS, the least recently used dropped first', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    for (let i = 0; i < MAX_UNTAUGHT_SESSIONS; i++) cutOff(ids, `s-${i}`, ['x']);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    // s-0 used again: the youngest.
    expect(untaught(ids, 's-0', ['x'])).toBe(true);
    cutOff(ids, 'new', ['y']);
    expect(ids.untaughtSessions).toBe(MAX_UNTAUGHT_SESSIONS);
    expect(untaught(ids, 's-1', ['x'])).toBe(false);
    expect(untaught(ids, 's-0', ['x'])).toBe(true);
    vi.advanceTimersByTime(LATE_REPLY_GRACE_MS);
    expect(untaught(ids, 'new', ['y'])).toBe(true);
  });
});
