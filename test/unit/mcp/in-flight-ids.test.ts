import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InFlightIds,
  LATE_REPLY_GRACE_MS,
  MAX_HELD_KEY_CHARS,
  MAX_IN_FLIGHT_PER_SESSION,
  MAX_LATE_REPLY_IDS,
} from '../../../src/mcp/in-flight-ids.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';

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
