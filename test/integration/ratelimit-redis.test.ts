/**
 * Rate limiting against a REAL `redis-server`: the token-bucket script's arithmetic (same answers as the
 * in-memory store), one shared budget for two limiter "replicas", the local fast path, recovery from
 * NOSCRIPT after `SCRIPT FLUSH`, the three failure modes while Redis is killed and restarted, and a failover
 * behind one address (the old master demoted, answering READONLY).
 * Clocks are injected; real time is only measured to show that no take waits.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createRateLimiter, PROBE_INTERVAL_MS } from '../../src/ratelimit/create-limiter.js';
import { rateLimitHeaders } from '../../src/ratelimit/headers.js';
import {
  RateLimitBackendError,
  type RateLimiter,
  type RateLimitFailureMode,
} from '../../src/ratelimit/types.js';
import { createStore } from '../../src/store/create-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { TOKEN_BUCKET_SCRIPT } from '../../src/store/redis-scripts.js';
import type { Store } from '../../src/store/store.js';
import { createLogger, type Logger, silentLogger } from '../../src/telemetry/logger.js';
import { lineCollector } from '../helpers/log-lines.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const T0 = 1_800_000_000_000;
const SPEC = { capacity: 5, refillPerSecond: 1 };

let redis: RedisServer;
let admin: Redis;
let prefixN = 0;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  // The outage tests kill Redis: the admin client's reconnect errors are expected, not news.
  admin.on('error', () => undefined);
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

/** A store on the test Redis; `now` is its replica's clock (default the host's). */
async function openStore(
  prefix: string,
  logger: Logger = silentLogger(),
  now?: () => number,
): Promise<Store> {
  const config = parseConfig(
    { store: { redisUrl: redis.url, keyPrefix: prefix, commandTimeoutMs: 300 } },
    {},
  );
  const store = createStore(config, { logger, ...(now ? { now } : {}) });
  await store.start();
  cleanup.push(() => store.stop());
  return store;
}

/** The store with its takeToken calls counted. */
function counted(store: Store): Store & { calls: () => number } {
  let calls = 0;
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'calls') return () => calls;
      if (prop === 'takeTokenNow') return undefined;
      if (prop === 'takeToken') {
        return (...args: Parameters<Store['takeToken']>) => {
          calls++;
          return target.takeToken(...args);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Store & { calls: () => number };
}

function limiterOn(
  store: Store,
  clock: { now: number },
  failureMode: RateLimitFailureMode = 'local',
  logger: Logger = silentLogger(),
  fastPath = true,
): RateLimiter {
  return createRateLimiter({ store, failureMode, logger, now: () => clock.now, fastPath });
}

function capture(): { logger: Logger; count: (msg: string) => number } {
  const lines: string[] = [];
  const logger = createLogger('info', lineCollector(lines));
  return {
    logger,
    count: (msg) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg.startsWith(msg)).length,
  };
}

/** Polls `check` until it passes or `ms` elapse. */
async function within(ms: number, check: () => void | Promise<void>): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() - started > ms) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe('token buckets on Redis', () => {
  it('gives the slowest bucket the policy may ask for an expiry Redis accepts (no false outage)', async () => {
    const prefix = `rl${++prefixN}:`;
    const clock = { now: T0 };
    const store = await openStore(prefix);
    const limiter = limiterOn(store, clock, 'closed');
    // A million tokens at 1e-6 per second refill in 1e15 ms, which Lua prints as 1e+15: PEXPIRE refused it.
    const slow = { capacity: 1e9, refillPerSecond: 1e-6 };
    expect(await limiter.take('k', slow, 1_000_000)).toMatchObject({ allowed: true, source: 'redis' });
    expect(limiter.status().state).toBe('ok');
    await admin.connect().catch(() => undefined);
    const ttl = await admin.pttl(`${prefix}{authz}:rl:k`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1e12);
  });

  it('passes a burst of exactly the capacity; the next gets the retry time and headers', async () => {
    const prefix = `rl${++prefixN}:`;
    const clock = { now: T0 };
    const limiter = limiterOn(await openStore(prefix), clock);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await limiter.take('subject:acme/alice', SPEC));
    expect(results.map((r) => [r.allowed, r.remaining, r.source])).toEqual([
      [true, 4, 'redis'],
      [true, 3, 'redis'],
      [true, 2, 'redis'],
      [true, 1, 'redis'],
      [true, 0, 'redis'],
      [false, 0, 'redis'],
    ]);
    const refused = results[5]!;
    expect(refused).toMatchObject({ limit: 5, retryAfterMs: 1_000, resetMs: 5_000 });
    expect(rateLimitHeaders(refused, SPEC)).toEqual({
      'ratelimit-policy': '"default";q=5;w=5',
      ratelimit: '"default";r=0;t=5',
      'retry-after': '1',
    });
    // The bucket lives under the {authz} hash tag and expires when it would be full again.
    await admin.connect().catch(() => undefined);
    const key = `${prefix}{authz}:rl:subject:acme/alice`;
    expect(await admin.hgetall(key)).toEqual({ t: '0', ts: String(T0) });
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('refills at the configured rate', async () => {
    const clock = { now: T0 };
    const limiter = limiterOn(await openStore(`rl${++prefixN}:`), clock, 'local', silentLogger(), false);
    const spec = { capacity: 2, refillPerSecond: 4 };
    await limiter.take('k', spec);
    await limiter.take('k', spec);
    clock.now += 100;
    expect(await limiter.take('k', spec)).toMatchObject({ allowed: false, retryAfterMs: 150 });
    clock.now += 149;
    expect(await limiter.take('k', spec)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.now += 1;
    expect(await limiter.take('k', spec)).toMatchObject({ allowed: true, remaining: 0, source: 'redis' });
    clock.now += 10_000;
    expect(await limiter.take('k', spec)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("never shortens a bucket's expiry: a faster spec's call leaves the state a slower spec needs", async () => {
    const prefix = `rl${++prefixN}:`;
    const store = await openStore(prefix);
    const strict = { capacity: 5, refillPerSecond: 0.1 };
    for (let i = 0; i < 5; i++) await store.takeToken('shared', strict, 1, T0);
    // A refused call under a spec that refills in 100 ms set the expiry to 100 ms: the strict caller then
    // found a full bucket 100 ms later (the in-memory store kept the state and answered otherwise).
    expect(await store.takeToken('shared', { capacity: 10, refillPerSecond: 100 }, 1, T0)).toMatchObject({
      allowed: false,
    });
    await admin.connect().catch(() => undefined);
    const ttl = await admin.pttl(`${prefix}{authz}:rl:shared`);
    expect(ttl).toBeGreaterThan(45_000);
    // Nor is the state dropped when the faster spec finds the bucket full by its own measure.
    expect(await store.takeToken('shared', { capacity: 1, refillPerSecond: 100 }, -1, T0)).toMatchObject({
      allowed: true,
    });
    expect(await admin.pttl(`${prefix}{authz}:rl:shared`)).toBeGreaterThan(45_000);
    expect(await store.takeToken('shared', strict, 1, T0)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('gives exactly the same answers as the in-memory store, refunds included', async () => {
    const redisStore = await openStore(`rl${++prefixN}:`);
    const memory = new MemoryStore();
    const specs = [
      { capacity: 5, refillPerSecond: 1 },
      { capacity: 3, refillPerSecond: 0.7 },
      { capacity: 10, refillPerSecond: 12.5 },
      // Huge and slow: refills below a double's step at its count must add up alike in Lua and here.
      { capacity: 1e9, refillPerSecond: 1e-6 },
    ];
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let now = T0;
    for (let i = 0; i < 400; i++) {
      now += rand(700);
      const key = `k${rand(4)}`;
      const spec = specs[Number(key[1])]!;
      // One in five gives tokens back (a refused batch's refund), which must stop at the capacity.
      const cost = key === 'k3' ? (rand(5) === 0 ? 1e9 : 1e7) : rand(5) === 0 ? -(1 + rand(3)) : 1 + rand(3);
      const [a, b] = await Promise.all([
        redisStore.takeToken(key, spec, cost, now),
        memory.takeToken(key, spec, cost, now),
      ]);
      expect(a, `step ${i}`).toEqual(b);
    }
  });

  it('two replicas sharing one Redis enforce ONE budget', async () => {
    const prefix = `rl${++prefixN}:`;
    const clock = { now: T0 };
    const a = limiterOn(await openStore(prefix), clock);
    const b = limiterOn(await openStore(prefix), clock);
    const spec = { capacity: 10, refillPerSecond: 1 };
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take('tenant:acme', spec)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const sequential = [];
    clock.now += 2_000; // two tokens back
    for (let i = 0; i < 4; i++) sequential.push((await (i % 2 ? a : b).take('tenant:acme', spec)).allowed);
    expect(sequential).toEqual([true, true, false, false]);
  });

  it('refills nothing while handed a time before its last refill (an offset to Redis corrected), as the memory store', async () => {
    const redisStore = await openStore(`rl${++prefixN}:`);
    const memory = new MemoryStore();
    const spec = { capacity: 3, refillPerSecond: 1 };
    // [now, cost]: drained at T0 + 10 s, then asked 60 s and 1 s before that, then on again.
    const takes: [number, number][] = [
      [T0 + 10_000, 3],
      [T0 - 50_000, 1],
      [T0 + 9_000, 1],
      [T0 + 10_000, 1],
      [T0 + 11_000, 1],
      [T0 + 11_000, 1],
    ];
    const got: unknown[] = [];
    for (const [now, cost] of takes) {
      const [r, m] = await Promise.all([
        redisStore.takeToken('tenant:acme', spec, cost, now),
        memory.takeToken('tenant:acme', spec, cost, now),
      ]);
      expect(r).toEqual(m);
      got.push([r.allowed, r.remaining]);
    }
    expect(got).toEqual([
      [true, 0],
      [false, 0],
      [false, 0],
      [false, 0],
      [true, 0],
      [false, 0],
    ]);
  });

  it("puts a replica whose clock runs 60 s ahead on Redis's clock: one budget, one window", async () => {
    const prefix = `rl${++prefixN}:`;
    const ahead = () => Date.now() + 60_000;
    const onTime = await openStore(prefix);
    const early = await openStore(prefix, silentLogger(), ahead);
    const limiter = (store: Store, now: () => number) =>
      createRateLimiter({ store, failureMode: 'closed', logger: silentLogger(), now, fastPath: false });
    const [a, b] = [limiter(onTime, Date.now), limiter(early, ahead)];
    // One token per 5 s: none in the test's own time, the whole bucket in 60 s.
    const spec = { capacity: 10, refillPerSecond: 0.2 };
    const allowed: number[] = [];
    for (const replica of [a, b, a, b]) {
      let n = 0;
      for (let i = 0; i < 10; i++) if ((await replica.take('tenant:acme', spec)).allowed) n++;
      allowed.push(n);
    }
    // On each replica's own clock, the one ahead found the bucket refilled by 60 s: 10 more calls.
    expect(allowed).toEqual([10, 0, 0, 0]);

    const window = { key: 'rule:ip/203.0.113.7', windowMs: 60_000, threshold: 100 };
    await onTime.countInWindows([{ ...window, count: 5, atMs: Date.now() }], Date.now());
    // On its own clock the replica ahead dropped the other's counts as a minute old.
    const [count] = await early.countInWindows([{ ...window, count: 1, atMs: ahead() }], ahead());
    expect(count?.count).toBe(6);
  });

  it('refuses a bucket known to be empty without asking Redis until its token is due', async () => {
    const clock = { now: T0 };
    const store = counted(await openStore(`rl${++prefixN}:`));
    const limiter = limiterOn(store, clock);
    for (let i = 0; i < 6; i++) await limiter.take('k', SPEC);
    expect(store.calls()).toBe(6);
    for (let i = 0; i < 100; i++) {
      clock.now += 9;
      expect((await limiter.take('k', SPEC)).source).toBe('fast-path');
    }
    expect(store.calls()).toBe(6);
    clock.now += 100; // 1 000 ms after the refusal
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'redis' });
    expect(store.calls()).toBe(7);
  });

  it('recovers from NOSCRIPT after SCRIPT FLUSH without an error', async () => {
    const clock = { now: T0 };
    const limiter = limiterOn(await openStore(`rl${++prefixN}:`), clock);
    await limiter.take('k', SPEC);
    await admin.connect().catch(() => undefined);
    expect(await admin.script('EXISTS', TOKEN_BUCKET_SCRIPT.sha)).toEqual([1]);
    await admin.script('FLUSH');
    expect(await admin.script('EXISTS', TOKEN_BUCKET_SCRIPT.sha)).toEqual([0]);
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, remaining: 3, source: 'redis' });
    expect(await admin.script('EXISTS', TOKEN_BUCKET_SCRIPT.sha)).toEqual([1]);
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, remaining: 2, source: 'redis' });
    expect(limiter.storeErrors()).toBe(0);
  });
});

describe('Redis outage', () => {
  afterEach(async () => {
    // Each test may leave Redis dead; the next starts with a live (empty) one.
    await redis.restart();
    await admin.connect().catch(() => undefined);
  });

  it('local: keeps answering from in-process buckets (no throw, no wait), logs once, returns to Redis', async () => {
    const log = capture();
    const clock = { now: T0 };
    const store = await openStore(`rl${++prefixN}:`, log.logger);
    const limiter = limiterOn(store, clock, 'local', log.logger);
    expect((await limiter.take('k', SPEC)).source).toBe('redis');

    admin.disconnect();
    await redis.kill();
    const sources = new Set<string>();
    let slowest = 0;
    for (let i = 0; i < 60; i++) {
      clock.now += 100; // probes fall due every 10 takes
      const started = performance.now();
      const r = await limiter.take(`k${i % 3}`, SPEC);
      slowest = Math.max(slowest, performance.now() - started);
      sources.add(r.source);
    }
    expect([...sources]).toEqual(['local-fallback']);
    expect(slowest).toBeLessThan(1_000);
    expect(limiter.status()).toMatchObject({ state: 'warn' });
    expect(limiter.outages()).toBe(1);
    expect(limiter.storeErrors()).toBeGreaterThanOrEqual(2);
    expect(log.count('rate limit store unavailable')).toBe(1);

    await redis.restart();
    await within(5_000, () => expect(store.status().state).toBe('ok'));
    clock.now += PROBE_INTERVAL_MS;
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'redis' });
    expect((await limiter.take('k', SPEC)).source).toBe('redis');
    expect(limiter.status().state).toBe('ok');
    expect(log.count('rate limit store available again')).toBe(1);
    expect(log.count('rate limit store unavailable')).toBe(1);
  });

  it('closed: throws RateLimitBackendError at once', async () => {
    const clock = { now: T0 };
    const store = await openStore(`rl${++prefixN}:`);
    const limiter = limiterOn(store, clock, 'closed');
    await limiter.take('k', SPEC);
    await redis.kill();
    await within(2_000, () => expect(store.status().state).toBe('warn')); // lost after it was reachable
    const started = performance.now();
    await expect(limiter.take('k', SPEC)).rejects.toBeInstanceOf(RateLimitBackendError);
    await expect(limiter.take('k', SPEC)).rejects.toThrow(RateLimitBackendError);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(limiter.status().state).toBe('error');
  });

  it('closed: reports ok again once Redis is back, though no request came to probe it (unready meanwhile)', async () => {
    const clock = { now: T0 };
    const store = await openStore(`rl${++prefixN}:`);
    const limiter = limiterOn(store, clock, 'closed');
    cleanup.push(() => limiter.stop());
    await limiter.take('k', SPEC);
    await redis.kill();
    await within(2_000, () => expect(store.status().state).toBe('warn'));
    await expect(limiter.take('k', SPEC)).rejects.toThrow(RateLimitBackendError);
    // /readyz fails on this 'error': the Service sends the pod no more requests, so none will probe the store.
    expect(limiter.status().state).toBe('error');
    await redis.restart();
    await within(5_000, () => expect(store.status().state).toBe('ok'));
    await within(5_000, () => expect(limiter.status().state).toBe('ok'));
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'redis' });
  });

  it('open: allows every request while Redis is down', async () => {
    const clock = { now: T0 };
    const store = await openStore(`rl${++prefixN}:`);
    const limiter = limiterOn(store, clock, 'open');
    for (let i = 0; i < 6; i++) await limiter.take('k', SPEC); // the 6th is refused: known empty for 1 s
    await redis.kill();
    await within(2_000, () => expect(store.status().state).toBe('warn')); // lost after it was reachable
    clock.now += 500;
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: false, source: 'fast-path' });
    for (let i = 0; i < 10; i++)
      expect(await limiter.take(`other${i}`, SPEC)).toMatchObject({ allowed: true, source: 'fail-open' });
  });
});

/**
 * A TCP forwarder standing for an address that follows the master (a managed Redis's primary endpoint, a
 * Service whose selector moves): new connections go to `target()`; open ones stay where they were.
 */
async function endpoint(target: () => number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Redis failover behind one address', () => {
  it('leaves a master demoted to a replica (READONLY) and reconnects to the new one, without a restart', async () => {
    const next = await startRedis();
    let master = redis.port;
    const address = await endpoint(() => master);
    await admin.connect().catch(() => undefined);
    cleanup.push(async () => {
      await admin.call('REPLICAOF', 'NO', 'ONE');
      await address.close();
      await next.stop();
    });
    const config = parseConfig(
      {
        store: {
          redisUrl: `redis://127.0.0.1:${address.port}`,
          keyPrefix: `rl${++prefixN}:`,
          commandTimeoutMs: 300,
        },
      },
      {},
    );
    const store = createStore(config, { logger: silentLogger() });
    await store.start();
    cleanup.push(() => store.stop());
    const clock = { now: T0 };
    const limiter = limiterOn(store, clock, 'closed');
    expect(await limiter.take('k', SPEC)).toMatchObject({ allowed: true, source: 'redis' });

    // The failover: the address now leads to the new master, and the old one follows it.
    master = next.port;
    await admin.call('REPLICAOF', '127.0.0.1', String(next.port));
    await expect(limiter.take('k', SPEC)).rejects.toThrow(RateLimitBackendError);
    await within(5_000, async () => {
      clock.now += PROBE_INTERVAL_MS; // a probe each time
      expect(await limiter.take('k', SPEC).catch((err: Error) => err.message)).toMatchObject({
        allowed: true,
        source: 'redis',
      });
    });
    expect(limiter.status().state).toBe('ok');
  });
});
