import { describe, expect, it, vi } from 'vitest';
import { createRateLimiter, monotonicNow, PROBE_INTERVAL_MS } from '../../../src/ratelimit/create-limiter.js';
import {
  RateLimitBackendError,
  type RateLimitFailureMode,
  type TakeResult,
} from '../../../src/ratelimit/types.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import { StoreError } from '../../../src/store/store-error.js';
import { createLogger, type Logger } from '../../../src/telemetry/logger.js';

const T0 = 1_800_000_000_000;
const SPEC = { capacity: 3, refillPerSecond: 1 };

/** A MemoryStore whose takeToken is counted and can be made to fail like a dead Redis. */
function countingStore(): Store & { calls: number; down: boolean } {
  const inner = new MemoryStore();
  const wrapper = Object.create(inner) as Store & { calls: number; down: boolean };
  wrapper.calls = 0;
  wrapper.down = false;
  // Every take goes through the counted, breakable takeToken: no same-tick answers from the inner store.
  Object.defineProperty(wrapper, 'takeTokenNow', { value: undefined });
  wrapper.takeToken = async (...args) => {
    wrapper.calls++;
    if (wrapper.down) throw new StoreError('takeToken', 'not connected to redis://127.0.0.1:1');
    return inner.takeToken(...args);
  };
  return wrapper;
}

function logs(): { logger: Logger; lines: () => { msg: string; level: string }[] } {
  const raw: string[] = [];
  const logger = createLogger('info', { write: (s: string) => void raw.push(s) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as { msg: string; level: string }) };
}

function setup(failureMode: RateLimitFailureMode = 'local', fastPath = true) {
  const clock = { now: T0 };
  const store = countingStore();
  const log = logs();
  const limiter = createRateLimiter({
    store,
    failureMode,
    logger: log.logger,
    now: () => clock.now,
    fastPath,
  });
  return { clock, store, limiter, log };
}

describe('rate limiter', () => {
  it('answers from the store: a burst of the capacity passes, the next is refused', async () => {
    const { limiter } = setup();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.take('k', SPEC));
    expect(results.map((r) => [r.allowed, r.remaining, r.source])).toEqual([
      [true, 2, 'memory'],
      [true, 1, 'memory'],
      [true, 0, 'memory'],
      [false, 0, 'memory'],
    ]);
    expect(results[3]).toMatchObject({ limit: 3, retryAfterMs: 1_000, resetMs: 3_000 });
    expect(limiter.status().state).toBe('ok');
  });

  it('refuses a bucket known to be empty locally until its next token is due (no store call)', async () => {
    const { clock, store, limiter } = setup();
    for (let i = 0; i < 4; i++) await limiter.take('k', SPEC);
    expect(store.calls).toBe(4);
    clock.now += 400;
    const fast = await limiter.take('k', SPEC);
    expect(fast).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      retryAfterMs: 600,
      resetMs: 2_600,
      source: 'fast-path',
    });
    for (let i = 0; i < 10; i++) await limiter.take('k', SPEC);
    expect(store.calls).toBe(4);
    expect(limiter.stats().fastPathRefusals).toBe(11);
    // Other buckets, a smaller cost or another spec still go to the store.
    await limiter.take('other', SPEC);
    await limiter.take('k', { capacity: 10, refillPerSecond: 1 });
    expect(store.calls).toBe(6);
    clock.now += 600; // the token is due: ask the store again
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'memory' });
    expect(store.calls).toBe(7);
  });

  it('uses the fast path only for the same or a larger cost', async () => {
    const { store, limiter } = setup();
    await limiter.take('k', SPEC, 2);
    expect(await limiter.take('k', SPEC, 2)).toMatchObject({
      allowed: false,
      source: 'memory',
      retryAfterMs: 1_000,
    });
    // One token left: 3 are due a second after the 2 remembered, as the store itself would say.
    expect(await limiter.take('k', SPEC, 3)).toMatchObject({
      allowed: false,
      source: 'fast-path',
      retryAfterMs: 2_000,
    });
    expect(await limiter.take('k', SPEC, 1)).toMatchObject({ allowed: true, source: 'memory' });
    expect(store.calls).toBe(3);
  });

  it('asks the store every time with the fast path off', async () => {
    const { store, limiter } = setup('local', false);
    for (let i = 0; i < 10; i++) await limiter.take('k', SPEC);
    expect(store.calls).toBe(10);
  });

  it('rejects an invalid spec with RangeError before any store call', async () => {
    const { store, limiter } = setup();
    await expect(limiter.take('k', { capacity: 0, refillPerSecond: 1 })).rejects.toThrow(RangeError);
    expect(store.calls).toBe(0);
  });

  describe('takeNow (same-tick answers)', () => {
    it('answers from an in-process store at once, exactly as take would', async () => {
      const limiter = createRateLimiter({
        store: new MemoryStore(),
        failureMode: 'local',
        logger: logs().logger,
        now: () => T0,
      });
      const now = [0, 1, 2, 3].map(() => limiter.takeNow('k', SPEC));
      expect(now.map((r) => [r?.allowed, r?.remaining, r?.source])).toEqual([
        [true, 2, 'memory'],
        [true, 1, 'memory'],
        [true, 0, 'memory'],
        [false, 0, 'memory'],
      ]);
      // The refusal is remembered: take() and takeNow() both refuse on the fast path now.
      expect(limiter.takeNow('k', SPEC)).toMatchObject({ allowed: false, source: 'fast-path' });
      expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: false, source: 'fast-path' });
      expect(() => limiter.takeNow('k', { capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    });

    it('leaves a store without same-tick takes to take(), except for known-empty buckets', async () => {
      const { store, limiter } = setup();
      expect(limiter.takeNow('k', SPEC)).toBeUndefined();
      expect(store.calls).toBe(0);
      for (let i = 0; i < 4; i++) await limiter.take('k', SPEC);
      expect(limiter.takeNow('k', SPEC)).toMatchObject({ allowed: false, source: 'fast-path' });
      expect(store.calls).toBe(4);
    });

    it('answers during an outage between probes, and leaves the probe to take()', async () => {
      const { clock, store, limiter } = setup('local');
      store.down = true;
      expect((await limiter.take('k', SPEC)).source).toBe('local-fallback');
      expect(limiter.takeNow('k', SPEC)).toMatchObject({ allowed: true, source: 'local-fallback' });
      clock.now += PROBE_INTERVAL_MS;
      expect(limiter.takeNow('k', SPEC)).toBeUndefined();
      store.down = false;
      expect((await limiter.take('k', SPEC)).source).toBe('memory');
    });
  });

  it('treats a same-tick store that throws like a failed store call (failure mode, outage)', () => {
    const store = new MemoryStore();
    Object.defineProperty(store, 'takeTokenNow', {
      value: () => {
        throw new StoreError('takeToken', 'buckets unavailable');
      },
    });
    const limiter = createRateLimiter({ store, failureMode: 'local', logger: logs().logger, now: () => T0 });
    expect(limiter.takeNow('k', SPEC)).toMatchObject({ allowed: true, source: 'local-fallback' });
    expect(limiter.outages()).toBe(1);
    expect(limiter.status().state).toBe('warn');
  });

  describe('while the store fails', () => {
    it('local: falls back to in-process buckets, probes once a second, logs the outage once', async () => {
      const { clock, store, limiter, log } = setup('local');
      await limiter.take('k', SPEC);
      store.down = true;
      const during = [];
      for (let i = 0; i < 5; i++) during.push(await limiter.take('k', SPEC));
      expect(during.map((r) => [r.allowed, r.source])).toEqual([
        [true, 'local-fallback'],
        [true, 'local-fallback'],
        [true, 'local-fallback'],
        [false, 'local-fallback'],
        [false, 'local-fallback'],
      ]);
      expect(store.calls).toBe(2); // the first failure, then nothing until the probe is due
      expect(limiter.status()).toMatchObject({ state: 'warn', failureMode: 'local' });
      expect(limiter.outages()).toBe(1);

      clock.now += PROBE_INTERVAL_MS;
      await Promise.all(Array.from({ length: 20 }, () => limiter.take('x', SPEC)));
      expect(store.calls).toBe(3); // one probe, however many requests arrive at once
      expect(limiter.storeErrors()).toBe(2);
      expect(limiter.outages()).toBe(1);

      store.down = false;
      clock.now += PROBE_INTERVAL_MS;
      expect(await limiter.take('y', SPEC)).toMatchObject({ allowed: true, source: 'memory' });
      expect(limiter.status().state).toBe('ok');
      const messages = log.lines().map((l) => l.msg);
      expect(messages.filter((m) => m.startsWith('rate limit store unavailable'))).toHaveLength(1);
      expect(messages.filter((m) => m === 'rate limit store available again')).toHaveLength(1);
      expect(limiter.stats()).toMatchObject({ outages: 1, storeErrors: 2 });
    });

    it('open: allows every request', async () => {
      const { store, limiter } = setup('open');
      store.down = true;
      for (let i = 0; i < 10; i++)
        expect(await limiter.take('k', SPEC)).toMatchObject({
          allowed: true,
          source: 'fail-open',
          remaining: 3,
        });
      expect(limiter.status().state).toBe('warn');
    });

    it('closed: throws RateLimitBackendError, but still refuses known-empty buckets locally', async () => {
      const { store, limiter } = setup('closed');
      for (let i = 0; i < 4; i++) await limiter.take('k', SPEC);
      store.down = true;
      await expect(limiter.take('other', SPEC)).rejects.toThrow(RateLimitBackendError);
      await expect(limiter.take('other', SPEC)).rejects.toBeInstanceOf(RateLimitBackendError);
      expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: false, source: 'fast-path' });
      expect(limiter.status().state).toBe('error');
      expect(store.calls).toBe(5);
    });

    it('closed: probes the store once a second while no request comes (the pod is unready), until it answers or the limiter stops', async () => {
      vi.useFakeTimers();
      try {
        const { store, limiter, log } = setup('closed');
        store.down = true;
        await expect(limiter.take('k', SPEC)).rejects.toThrow(RateLimitBackendError);
        await vi.advanceTimersByTimeAsync(3 * PROBE_INTERVAL_MS);
        expect(store.calls).toBe(4);
        expect(limiter.status().state).toBe('error');
        store.down = false;
        await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
        expect(limiter.status().state).toBe('ok');
        expect(log.lines().filter((l) => l.msg === 'rate limit store available again')).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(3 * PROBE_INTERVAL_MS);
        expect(store.calls).toBe(5); // no outage, no probe

        store.down = true;
        await expect(limiter.take('k', SPEC)).rejects.toThrow(RateLimitBackendError);
        vi.advanceTimersByTime(PROBE_INTERVAL_MS); // a probe under way when the limiter stops
        await limiter.stop();
        await vi.advanceTimersByTimeAsync(3 * PROBE_INTERVAL_MS);
        expect(store.calls).toBe(7);
      } finally {
        vi.useRealTimers();
      }
    });

    it('local: keeps the in-process buckets across a recovery, so a flapping store hands out no fresh bursts', async () => {
      const { clock, store, limiter } = setup('local');
      store.down = true;
      const drained = [];
      for (let i = 0; i < 4; i++) drained.push((await limiter.take('k', SPEC)).allowed);
      expect(drained).toEqual([true, true, true, false]);
      store.down = false;
      clock.now += PROBE_INTERVAL_MS;
      expect(await limiter.take('probe', SPEC)).toMatchObject({ source: 'memory' });
      store.down = true;
      await limiter.take('probe', SPEC);
      expect(limiter.outages()).toBe(2);
      // One second later the bucket has one token again (1/s), not a full burst of 3.
      const again = [];
      for (let i = 0; i < 3; i++) again.push(await limiter.take('k', SPEC));
      expect(again.map((r) => [r.allowed, r.source])).toEqual([
        [true, 'local-fallback'],
        [false, 'local-fallback'],
        [false, 'local-fallback'],
      ]);
    });

    it('counts a new outage after a recovery', async () => {
      const { clock, store, limiter } = setup('local');
      store.down = true;
      await limiter.take('k', SPEC);
      store.down = false;
      clock.now += PROBE_INTERVAL_MS;
      await limiter.take('k', SPEC);
      store.down = true;
      await limiter.take('k', SPEC);
      expect(limiter.outages()).toBe(2);
    });
  });

  it('gives tokens back, and forgets a bucket remembered as empty meanwhile', async () => {
    const { limiter } = setup();
    const spec = { capacity: 2, refillPerSecond: 0.1 };
    const first = await limiter.take('k', spec, 2);
    expect(first.allowed).toBe(true);
    expect(await limiter.take('k', spec, 1)).toMatchObject({ allowed: false, source: 'memory' });
    limiter.giveBack('k', spec, 2, first);
    expect(await limiter.take('k', spec, 1)).toMatchObject({ allowed: true, remaining: 1 });
    // Nothing to give back for a refusal, a fast-path answer or a pass while failing open.
    limiter.giveBack('k', spec, 5, { ...first, allowed: false });
    limiter.giveBack('k', spec, 5, { ...first, source: 'fail-open' });
    expect(await limiter.take('k', spec, 1)).toMatchObject({ allowed: true, remaining: 0 });
  });

  describe('what a bucket holds once tokens went back (audit records show it)', () => {
    it('an in-process store says itself, other takes since included', () => {
      const limiter = createRateLimiter({
        store: new MemoryStore(),
        failureMode: 'local',
        logger: logs().logger,
      });
      const spec = { capacity: 10, refillPerSecond: 0.001 };
      const first = limiter.takeNow('k', spec, 2) as TakeResult;
      expect(limiter.takeNow('k', spec, 3)).toMatchObject({ remaining: 5 });
      expect(limiter.giveBack('k', spec, 2, first)).toBe(7);
    });

    it('with a store not waited for (Redis): what the take left plus what went back, up to the capacity', async () => {
      const { limiter } = setup();
      const first = await limiter.take('k', SPEC, 2);
      expect(first.remaining).toBe(1);
      expect(limiter.giveBack('k', SPEC, 2, first)).toBe(3);
      expect(limiter.giveBack('k', SPEC, 2, { ...first, remaining: 2 })).toBe(3);
    });

    it('in-process fallback buckets say themselves', async () => {
      const { store, limiter } = setup();
      store.down = true;
      const first = await limiter.take('k', SPEC, 2);
      expect(first).toMatchObject({ source: 'local-fallback', remaining: 1 });
      expect(limiter.giveBack('k', SPEC, 1, first)).toBe(2);
    });

    it('undefined when nothing went back: nothing was taken, or the refund failed at once', () => {
      const store = new MemoryStore();
      const limiter = createRateLimiter({ store, failureMode: 'local', logger: logs().logger });
      const first = limiter.takeNow('k', SPEC, 1) as TakeResult;
      expect(limiter.giveBack('k', SPEC, 1, { ...first, allowed: false })).toBeUndefined();
      expect(limiter.giveBack('k', SPEC, 1, { ...first, source: 'fail-open' })).toBeUndefined();
      store.takeTokenNow = () => {
        throw new StoreError('takeToken', 'gone');
      };
      expect(limiter.giveBack('k', SPEC, 1, first)).toBeUndefined();
    });
  });

  describe('a wall clock stepped back', () => {
    /** A limiter whose store sees `wall` and whose in-process state sees `local`. */
    function twoClocks(failureMode: RateLimitFailureMode = 'local') {
      const clock = { wall: T0, local: 5_000 };
      const store = countingStore();
      const limiter = createRateLimiter({
        store,
        failureMode,
        logger: logs().logger,
        now: () => clock.wall,
        localNow: () => clock.local,
      });
      return { clock, store, limiter };
    }

    it('ends a fast-path refusal on the local clock, not an hour later', async () => {
      const { clock, store, limiter } = twoClocks();
      for (let i = 0; i < 4; i++) await limiter.take('k', SPEC);
      expect(store.calls).toBe(4);
      // The wall clock goes back an hour; a second passes. The store is asked again (it decides on its own
      // clock), where a fast path on wall time would refuse locally until the wall clock caught up.
      clock.wall -= 3_600_000;
      clock.local += 1_000;
      await limiter.take('k', SPEC);
      expect(store.calls).toBe(5);
    });

    it('refills in-process fallback buckets on the local clock', async () => {
      const { clock, store, limiter } = twoClocks('local');
      store.down = true;
      for (let i = 0; i < 3; i++) expect((await limiter.take('k', SPEC)).allowed).toBe(true);
      expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: false, source: 'local-fallback' });
      clock.wall -= 3_600_000;
      clock.local += 500; // before the next probe, so the fallback answers
      expect((await limiter.take('k', SPEC)).allowed).toBe(false);
      clock.local += 500;
      expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'local-fallback' });
    });

    it('gives the outage start in wall time', async () => {
      const { store, limiter } = twoClocks('local');
      store.down = true;
      await limiter.take('k', SPEC);
      expect(limiter.status().detail).toContain(new Date(T0).toISOString());
    });
  });

  it('monotonicNow is epoch milliseconds that never go back', () => {
    const a = monotonicNow();
    const b = monotonicNow();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - Date.now())).toBeLessThan(60_000);
  });
});
