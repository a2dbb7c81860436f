import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { checkBucket, TokenBuckets, takeFromBucket } from '../../../src/store/token-bucket.js';

const T0 = 1_800_000_000_000;
const SPEC = { capacity: 5, refillPerSecond: 1 };

describe('token bucket arithmetic (MemoryStore.takeToken)', () => {
  it('passes a burst of exactly the capacity and refuses the next with the time until a token is due', async () => {
    const s = new MemoryStore();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await s.takeToken('k', SPEC, 1, T0));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
    expect(results[0]).toEqual({ allowed: true, remaining: 4, retryAfterMs: 0, resetMs: 1_000 });
    expect(results[5]).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1_000, resetMs: 5_000 });
  });

  it('gives tokens back with a negative cost, never past the capacity', async () => {
    const s = new MemoryStore();
    for (let i = 0; i < 4; i++) await s.takeToken('k', SPEC, 1, T0);
    expect(await s.takeToken('k', SPEC, -2, T0)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await s.takeToken('k', SPEC, -10, T0)).toEqual({
      allowed: true,
      remaining: 5,
      retryAfterMs: 0,
      resetMs: 0,
    });
    for (let i = 0; i < 5; i++) expect((await s.takeToken('k', SPEC, 1, T0)).allowed).toBe(true);
    expect((await s.takeToken('k', SPEC, 1, T0)).allowed).toBe(false);
  });

  it('refills at the configured rate', async () => {
    const s = new MemoryStore();
    const spec = { capacity: 2, refillPerSecond: 4 }; // one token every 250 ms
    await s.takeToken('k', spec, 1, T0);
    await s.takeToken('k', spec, 1, T0);
    expect(await s.takeToken('k', spec, 1, T0 + 100)).toMatchObject({ allowed: false, retryAfterMs: 150 });
    expect(await s.takeToken('k', spec, 1, T0 + 249)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect(await s.takeToken('k', spec, 1, T0 + 250)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await s.takeToken('k', spec, 1, T0 + 250)).toMatchObject({ allowed: false, retryAfterMs: 250 });
    // Never more than the capacity, however long the wait.
    expect(await s.takeToken('k', spec, 1, T0 + 3_600_000)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('counts 10 takes a second at 10/s over a long run, without drift', async () => {
    const s = new MemoryStore();
    const spec = { capacity: 1, refillPerSecond: 10 };
    let allowed = 0;
    for (let t = 0; t < 10_000; t += 10) if ((await s.takeToken('k', spec, 1, T0 + t)).allowed) allowed++;
    expect(allowed).toBe(100);
  });

  it('handles fractional rates and costs above one', async () => {
    const s = new MemoryStore();
    const spec = { capacity: 3, refillPerSecond: 0.5 };
    expect(await s.takeToken('k', spec, 3, T0)).toMatchObject({
      allowed: true,
      remaining: 0,
      resetMs: 6_000,
    });
    expect(await s.takeToken('k', spec, 2, T0 + 1_000)).toMatchObject({
      allowed: false,
      retryAfterMs: 3_000,
    });
    expect(await s.takeToken('k', spec, 2, T0 + 4_000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('loses no refill too small to change a huge count, however often the bucket is asked', () => {
    // 1e9 tokens at 1e-6 per second, 1e8 short of full: each millisecond adds 1e-9, below a double's step
    // at 9e8. Asked every millisecond for 100 s, the bucket must still have refilled 1e-4 tokens' worth.
    const spec = { capacity: 1e9, refillPerSecond: 1e-6 };
    let state = takeFromBucket(undefined, spec, 1e8, T0).next;
    const before = takeFromBucket(state, spec, 1e9, T0).take.retryAfterMs;
    for (let ms = 1; ms <= 100_000; ms++) state = takeFromBucket(state, spec, 1e9, T0 + ms).next;
    const after = takeFromBucket(state, spec, 1e9, T0 + 100_000).take.retryAfterMs;
    expect(before - after).toBeGreaterThan(99_000);
    expect(before - after).toBeLessThan(101_000);
  });

  it('refuses a cost above the capacity (it can never pass)', async () => {
    const s = new MemoryStore();
    expect(await s.takeToken('k', SPEC, 6, T0)).toMatchObject({
      allowed: false,
      remaining: 5,
      retryAfterMs: 1_000,
    });
  });

  it('refills nothing when the clock goes backwards (a lagging replica)', async () => {
    const s = new MemoryStore();
    for (let i = 0; i < 5; i++) await s.takeToken('k', SPEC, 1, T0);
    expect(await s.takeToken('k', SPEC, 1, T0 - 10_000)).toMatchObject({
      allowed: false,
      retryAfterMs: 1_000,
    });
    expect(await s.takeToken('k', SPEC, 1, T0 + 1_000)).toMatchObject({ allowed: true });
  });

  it('caps the tokens when the capacity shrinks', async () => {
    const s = new MemoryStore();
    await s.takeToken('k', { capacity: 100, refillPerSecond: 1 }, 1, T0);
    expect(await s.takeToken('k', { capacity: 2, refillPerSecond: 1 }, 1, T0)).toMatchObject({
      allowed: true,
      remaining: 1,
    });
  });

  it('keeps buckets apart by key', async () => {
    const s = new MemoryStore();
    for (let i = 0; i < 5; i++) await s.takeToken('a', SPEC, 1, T0);
    expect((await s.takeToken('a', SPEC, 1, T0)).allowed).toBe(false);
    expect((await s.takeToken('b', SPEC, 1, T0)).allowed).toBe(true);
  });

  it('keeps no state for a full bucket', () => {
    const { next } = takeFromBucket(undefined, SPEC, 1, T0);
    expect(next).toEqual({ tokens: 4, ts: T0, fullAt: T0 + 1_000 });
    expect(takeFromBucket(next, SPEC, 1, T0 + 2_000).next).toEqual({
      tokens: 4,
      ts: T0 + 2_000,
      fullAt: T0 + 3_000,
    });
    const full = takeFromBucket(
      { tokens: 0, ts: T0, fullAt: T0 + 5_000 },
      { capacity: 1, refillPerSecond: 1 },
      1,
      T0 + 2_000,
    );
    // The earlier state asked to be kept until T0 + 5 s (another spec's refill): it is, not to T0 + 3 s.
    expect(full.next).toEqual({ tokens: 0, ts: T0 + 2_000, fullAt: T0 + 5_000 });
  });

  it('keeps state as long as any earlier take asked, whatever the spec of the last one', () => {
    const strict = { capacity: 5, refillPerSecond: 0.1 };
    let state = takeFromBucket(undefined, strict, 5, T0).next;
    expect(state?.fullAt).toBe(T0 + 50_000);
    // A faster spec refills in 100 ms: it must not bring the moment the state may go forward.
    state = takeFromBucket(state, { capacity: 10, refillPerSecond: 100 }, 1, T0).next;
    expect(state?.fullAt).toBe(T0 + 50_000);
    // Full by a smaller capacity's measure: kept all the same.
    state = takeFromBucket(state, { capacity: 1, refillPerSecond: 100 }, -1, T0).next;
    expect(state).toEqual({ tokens: 1, ts: T0, fullAt: T0 + 50_000 });
    expect(takeFromBucket(state, strict, 2, T0).take.allowed).toBe(false);
  });

  it('forgets a state past its expiry, as Redis does, whether or not a sweep ran', () => {
    const fast = { capacity: 10, refillPerSecond: 1_000 };
    const drained = takeFromBucket(undefined, fast, 10, T0).next;
    expect(drained?.fullAt).toBe(T0 + 10);
    // 150 ms later under a slow spec: the bucket is full (the key would have expired), not refilled from 0.
    const later = takeFromBucket(drained, { capacity: 10, refillPerSecond: 1 }, 1, T0 + 150);
    expect(later.take).toMatchObject({ allowed: true, remaining: 9 });
  });

  it('sweeps refilled buckets, so memory stays bounded', () => {
    const b = new TokenBuckets();
    for (let i = 0; i < 10_000; i++) b.take(`k${i}`, { capacity: 2, refillPerSecond: 1 }, 1, T0 + i);
    expect(b.size).toBeLessThan(5_000);
  });

  it('rejects specs no bucket can serve', () => {
    expect(() => checkBucket({ capacity: 0, refillPerSecond: 1 }, 1)).toThrow(RangeError);
    expect(() => checkBucket({ capacity: 1, refillPerSecond: 0 }, 1)).toThrow(RangeError);
    expect(() => checkBucket({ capacity: Number.POSITIVE_INFINITY, refillPerSecond: 1 }, 1)).toThrow(
      RangeError,
    );
    expect(() => checkBucket(SPEC, 0)).toThrow(RangeError);
    expect(() => checkBucket(SPEC, Number.NaN)).toThrow(RangeError);
    expect(() => checkBucket(SPEC, 6)).not.toThrow();
  });
});
