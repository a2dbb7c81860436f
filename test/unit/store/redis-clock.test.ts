import { ReplyError } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLOCK_CHECK_INTERVAL_MS, RedisClock } from '../../../src/store/redis-clock.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';

const T0 = 1_800_000_000_000;

/** A client whose Redis clock reads `redisMs()`; a measurement takes `rtt` ms of the replica's clock. */
function fakeRedis(clock: { now: number }, redisMs: () => number, rtt = 2) {
  const client = {
    status: 'ready' as const,
    calls: 0,
    fail: false as boolean | Error,
    eval: async () => {
      client.calls++;
      if (client.fail) throw client.fail === true ? new Error('Command timed out') : client.fail;
      clock.now += rtt / 2;
      const t = redisMs();
      clock.now += rtt / 2;
      return [String(Math.floor(t / 1000)), String(Math.round((t % 1000) * 1000))];
    },
  };
  return client;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RedisClock', () => {
  it("measures the replica's offset to Redis's clock, keeps it within a round trip, and again on a timer", async () => {
    vi.useFakeTimers();
    const clock = { now: T0 };
    let skew = -60_000; // this replica runs 60 s ahead of Redis
    const redis = fakeRedis(clock, () => clock.now + skew);
    const c = new RedisClock(() => clock.now, 'k', silentLogger());
    expect(c.offsetMs).toBe(0);
    await c.start(() => redis as never);
    expect(c.offsetMs).toBe(-60_000);

    skew = -60_001; // within the round trip: kept, so buckets see no millisecond jumps
    await c.measure(redis as never);
    expect(c.offsetMs).toBe(-60_000);

    skew = -500; // the replica's clock corrected: the timer measures again
    await vi.advanceTimersByTimeAsync(CLOCK_CHECK_INTERVAL_MS);
    expect(redis.calls).toBe(3);
    expect(c.offsetMs).toBe(-500);

    redis.fail = true; // an outage keeps the last offset
    await vi.advanceTimersByTimeAsync(CLOCK_CHECK_INTERVAL_MS);
    expect(redis.calls).toBe(4);
    expect(c.offsetMs).toBe(-500);

    c.stop();
    await vi.advanceTimersByTimeAsync(3 * CLOCK_CHECK_INTERVAL_MS);
    expect(redis.calls).toBe(4);
  });

  it('says once that Redis refuses the check (not a timeout, not a failover), and again only after a success', async () => {
    const clock = { now: T0 };
    const redis = fakeRedis(clock, () => clock.now);
    const lines: string[] = [];
    const c = new RedisClock(() => clock.now, 'k', createLogger('warn', lineCollector(lines)));
    const refused = () => lines.filter((l) => l.includes('not measured')).length;
    for (const fail of [
      new Error('Command timed out'),
      new ReplyError("READONLY You can't write against a read only replica."),
      new ReplyError("NOPERM User app has no permissions to run the 'time' command"),
      new ReplyError("NOPERM User app has no permissions to run the 'time' command"),
    ]) {
      redis.fail = fail;
      await c.measure(redis as never);
    }
    expect(refused()).toBe(1);
    redis.fail = false;
    await c.measure(redis as never);
    redis.fail = new ReplyError("NOPERM User app has no permissions to run the 'time' command");
    await c.measure(redis as never);
    expect(refused()).toBe(2);
  });
});
