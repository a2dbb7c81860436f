/**
 * Abuse detection, blocks and the security report against a REAL `redis-server`, with two detector
 * instances standing for two sidecar replicas: a rule trips exactly when its threshold is exceeded
 * (counting calls from both), once; the block reaches the other replica within a second and expires;
 * operators list, add and lift blocks with the CLI; the report (API and CLI) shows the trip and the counts.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createAbuseDetector } from '../../src/abuse/detector.js';
import type { AbuseDetector, AbuseEvent, AbuseRule } from '../../src/abuse/types.js';
import { ANONYMOUS, type Principal } from '../../src/authn/principal.js';
import { register as registerBlocks } from '../../src/cli/blocks.js';
import { register as registerReport } from '../../src/cli/report.js';
import { buildReport, type SecurityReport } from '../../src/report/build.js';
import { createSecurityCounters } from '../../src/report/counters.js';
import { reportRoute } from '../../src/report/route.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { keyLayout } from '../../src/store/redis-keys.js';
import type { BlockEntry, Store, WindowHit } from '../../src/store/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { cliRun } from '../helpers/cli.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { tempDir } from '../helpers/temp-dir.js';

const IP = '203.0.113.7';
const T0 = 1_800_000_000_000;
const RULES: AbuseRule[] = [
  {
    name: 'query-flood',
    kind: 'tool_calls',
    tool: 'query_customer_data',
    threshold: 100,
    windowSec: 300,
    action: 'block',
    blockSec: 60,
  },
  { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 20, windowSec: 60, action: 'alert' },
];

const suite = redisSuite();
const { openStore } = suite;

function principal(tenant: string, id: string): Principal {
  return { ...ANONYMOUS, tenant, id, authMethod: 'jwt' };
}
const alice = principal('acme', 'alice');

/** One "replica": its own store connection and detector; trips go to `events` and `onTrip`. */
async function replica(
  prefix: string,
  clock: { now: number },
  events: AbuseEvent[],
  onTrip: (e: AbuseEvent) => void = () => undefined,
): Promise<{ store: Store; detector: AbuseDetector }> {
  const store = await openStore(prefix);
  const detector = createAbuseDetector({
    store,
    rules: RULES,
    logger: silentLogger(),
    now: () => clock.now,
    onTrip: (e) => {
      events.push(e);
      onTrip(e);
    },
  });
  await detector.start();
  suite.cleanup(() => detector.stop());
  return { store, detector };
}

/** Polls `check` until it passes or `ms` elapse; returns the time it took. */
async function within(ms: number, check: () => void): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      check();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > ms) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function cli(prefix: string) {
  const dir = tempDir('abuse-cli');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\n`);
  return async (...args: string[]) => {
    const c = cliRun(registerBlocks, registerReport);
    await c.run(...args, '--config', file);
    return { out: c.out.join(''), err: c.err.join(''), exits: c.exits };
  };
}

describe('abuse detection across replicas', () => {
  it('trips exactly at threshold + 1 (calls counted on both replicas), once; the block reaches the other replica within 1 s and expires', async () => {
    const prefix = suite.prefix('ab');
    const clock = { now: Date.now() };
    const events: AbuseEvent[] = [];
    const a = await replica(prefix, clock, events);
    const b = await replica(prefix, clock, events);

    for (let i = 0; i < 60; i++) a.detector.recordCall(alice, 'query_customer_data', IP);
    for (let i = 0; i < 40; i++) b.detector.recordCall(alice, 'query_customer_data', IP);
    for (let i = 0; i < 500; i++) b.detector.recordCall(alice, 'other_tool', IP);
    await Promise.all([a.detector.flush(), b.detector.flush()]);
    expect(events).toEqual([]); // 100 calls: not more than the threshold
    expect(a.detector.isBlocked(alice, IP)).toBeNull();

    clock.now += 1_000;
    b.detector.recordCall(alice, 'query_customer_data', IP); // the 101st
    await b.detector.flush();
    expect(events).toHaveLength(1);
    const until = new Date(clock.now + 60_000).toISOString();
    expect(events[0]).toEqual({
      rule: 'query-flood',
      kind: 'tool_calls',
      subject: 'alice',
      tenant: 'acme',
      ip: IP,
      tool: 'query_customer_data',
      count: 101,
      windowSec: 300,
      action: 'block',
      blockedUntil: until,
      at: new Date(clock.now).toISOString(),
    });
    // The replica that tripped enforces at once; the other within a poll.
    expect(b.detector.isBlocked(alice, '198.51.100.1')).toMatchObject({
      target: 'subject',
      value: 'acme/alice',
      until,
    });
    const took = await within(1_000, () => expect(a.detector.isBlocked(alice, IP)).not.toBeNull());
    expect(took).toBeLessThanOrEqual(1_000);
    expect(a.detector.isBlocked(principal('acme', 'bob'), IP)).toBeNull();

    // More calls in the same window: no second trip, from either replica.
    for (let i = 0; i < 20; i++) a.detector.recordCall(alice, 'query_customer_data', IP);
    for (let i = 0; i < 20; i++) b.detector.recordCall(alice, 'query_customer_data', IP);
    await Promise.all([a.detector.flush(), b.detector.flush()]);
    expect(events).toHaveLength(1);
    expect(a.detector.stats().trips + b.detector.stats().trips).toBe(1);

    clock.now += 60_000; // the block lapses
    expect(a.detector.isBlocked(alice, IP)).toBeNull();
    expect(b.detector.isBlocked(alice, IP)).toBeNull();
    expect((await a.store.blocks(clock.now)).entries).toEqual([]);
  });

  it('lists, adds and lifts blocks with the CLI; replicas follow within 1 s', async () => {
    const prefix = suite.prefix('ab');
    const clock = { now: Date.now() };
    const { detector, store } = await replica(prefix, clock, []);
    const run = cli(prefix);
    const bob = principal('acme', 'bob');

    const added = await run(
      'blocks',
      'add',
      '--subject',
      'acme/bob',
      '--for',
      '1h',
      '--reason',
      'incident 42',
      '--json',
    );
    expect(added.exits).toEqual([]);
    expect(JSON.parse(added.out)).toMatchObject({
      target: 'subject',
      value: 'acme/bob',
      reason: 'incident 42',
    });
    await within(1_000, () => expect(detector.isBlocked(bob, IP)).toMatchObject({ reason: 'incident 42' }));
    expect(detector.isBlocked(principal('other', 'bob'), IP)).toBeNull();

    expect((await run('blocks', 'add', '--ip', '::ffff:192.0.2.9', '--for', '15m')).out).toMatch(
      /^blocked ip 192\.0\.2\.9 until \d{4}-/,
    );
    await within(1_000, () => expect(detector.isBlocked(null, '192.0.2.9')).not.toBeNull());

    const list = await run('blocks', 'list');
    expect(list.out).toMatch(/^TARGET\s+VALUE\s+UNTIL\s+CREATED\s+REASON\n/);
    expect(list.out).toMatch(/subject\s+acme\/bob\s+\S+\s+\S+\s+incident 42/);
    expect(list.out).toMatch(/ip\s+192\.0\.2\.9\s/);
    const json = JSON.parse((await run('blocks', 'list', '--json')).out) as BlockEntry[];
    expect(json.map((b) => b.value).sort()).toEqual(['192.0.2.9', 'acme/bob']);

    expect((await run('blocks', 'lift', 'acme/bob')).out).toBe('lifted block of subject acme/bob\n');
    await within(1_000, () => expect(detector.isBlocked(bob, IP)).toBeNull());
    expect((await run('blocks', 'lift', '192.0.2.9', '--json')).out).toContain('"value": "192.0.2.9"');
    await within(1_000, () => expect(detector.isBlocked(null, '192.0.2.9')).toBeNull());

    const again = await run('blocks', 'lift', 'acme/bob');
    expect(again.exits).toEqual([1]);
    expect(again.err).toBe('mcp-authz: no live block for acme/bob\n');
    const bad = await run('blocks', 'add', '--subject', 'x', '--ip', '10.0.0.1', '--for', '1h');
    expect(bad.err).toBe('mcp-authz: give --subject or --ip (one of them)\n');
    expect((await run('blocks', 'add', '--ip', '10.0.0.0/8', '--for', '1h')).err).toMatch(
      /not an IP address/,
    );
    for (const tooLong of ['99000000d', '99999999d']) {
      expect((await run('blocks', 'add', '--ip', '10.0.0.1', '--for', tooLong)).err).toBe(
        `mcp-authz: --for ${tooLong} is longer than the limit of 10 years\n`,
      );
    }
    // A rule blocks an IPv6 client by its /64: lifted by any address in it, or as `blocks list` shows it.
    for (const arg of ['2001:db8:0:7::99', '2001:db8:0:7::/64']) {
      const until = new Date(Date.now() + 3_600_000).toISOString();
      await store.putBlock({
        target: 'ip',
        value: '2001:db8:0:7::/64',
        reason: 'rule',
        until,
        createdAt: '',
      });
      expect((await run('blocks', 'lift', arg)).out).toBe('lifted block of ip 2001:db8:0:7::/64\n');
    }
    expect((await run('blocks', 'list')).out).toBe('no blocks\n');
  });

  it('lifts the block of the IPv4 address a NAT64 client carries, with its own, given the NAT64 address', async () => {
    const prefix = suite.prefix('ab');
    const { detector, store } = await replica(prefix, { now: Date.now() }, []);
    const run = cli(prefix);
    const client = '64:ff9b::192.0.2.33';
    const block = (value: string) => {
      const until = new Date(Date.now() + 3_600_000).toISOString();
      return store.putBlock({ target: 'ip', value, reason: 'r', until, createdAt: '' });
    };
    // What auth_failures_ip writes for the client (its IPv4 address), and an operator's block of the address.
    await block('192.0.2.33');
    await block('64:ff9b::c000:221');
    await within(1_000, () => expect(detector.isBlocked(null, client)).not.toBeNull());
    expect((await run('blocks', 'lift', client)).out).toBe(
      'lifted block of ip 64:ff9b::c000:221\nlifted block of ip 192.0.2.33\n',
    );
    await within(1_000, () => expect(detector.isBlocked(null, client)).toBeNull());
    await block('192.0.2.33');
    expect(JSON.parse((await run('blocks', 'lift', client, '--json')).out)).toEqual({
      lifted: { target: 'ip', value: '192.0.2.33' },
    });
    expect((await run('blocks', 'list')).out).toBe('no blocks\n');
  });

  it("enforces an operator's block of a subject in any tenant (bare --subject) on a replica, in every tenant", async () => {
    const prefix = suite.prefix('ab');
    const clock = { now: Date.now() };
    const { detector } = await replica(prefix, clock, []);
    const run = cli(prefix);
    const added = await run('blocks', 'add', '--subject', 'mallory', '--for', '1h', '--reason', 'everywhere');
    expect(added.exits).toEqual([]);
    for (const tenant of ['acme', 'globex']) {
      await within(1_000, () =>
        expect(detector.isBlocked(principal(tenant, 'mallory'), IP)).toMatchObject({
          target: 'subject',
          value: '*/mallory',
          reason: 'everywhere',
        }),
      );
    }
    expect(detector.isBlocked(principal('acme', 'alice'), IP)).toBeNull();
  });

  it('lifts a block an abuse rule set; the report (API and CLI) shows the trip, the block and the counts', async () => {
    const prefix = suite.prefix('ab');
    const clock = { now: Date.now() };
    const events: AbuseEvent[] = [];
    const store = await openStore(prefix);
    const counters = createSecurityCounters({ store, logger: silentLogger(), now: () => clock.now });
    suite.cleanup(() => counters.stop());
    const { detector } = await replica(prefix, clock, events, (e) => counters.anomaly(e));

    for (let i = 0; i < 101; i++) detector.recordCall(alice, 'query_customer_data', IP);
    for (let i = 0; i < 21; i++) {
      detector.recordAuthFailure(null, '198.51.100.66', 'invalid_token');
      counters.authFailure('invalid_token', '198.51.100.66');
    }
    counters.authFailure('expired', '198.51.100.67');
    counters.denial('delete_customer', 'acme/alice', 'not_in_role');
    counters.rateLimited('acme/alice', 'query_customer_data');
    await detector.flush();
    await counters.flush();
    expect(events.map((e) => [e.rule, e.count])).toEqual([
      ['query-flood', 101],
      ['ip-bruteforce', 21],
    ]);

    const report: SecurityReport = await buildReport(store, clock.now - 86_400_000, clock.now);
    expect(report.totals).toEqual({ authFailures: 22, denials: 1, rateLimited: 1, anomalies: 2, blocks: 1 });
    expect(report.authFailures).toEqual([
      { reason: 'invalid_token', count: 21 },
      { reason: 'expired', count: 1 },
    ]);
    expect(report.authFailuresByIp[0]).toEqual({ ip: '198.51.100.66', count: 21 });
    expect(report.denials).toEqual([{ tool: 'delete_customer', count: 1 }]);
    expect(report.deniedSubjects).toEqual([{ subject: 'acme/alice', count: 1 }]);
    expect(report.rateLimited).toEqual([{ subject: 'acme/alice', count: 1 }]);
    expect(report.anomalies.map((e) => e.rule).sort()).toEqual(['ip-bruteforce', 'query-flood']);
    expect(report.blocks).toMatchObject([{ target: 'subject', value: 'acme/alice' }]);

    const route = await reportRoute(
      store,
      () => clock.now,
    )(new URL('http://admin/report?since=1h&format=text'));
    expect(route.status).toBe(200);
    expect(route.body).toContain('Failed authentications: 22');
    expect(route.body).toMatch(
      /query-flood\s+tool_calls\s+acme\s+alice\s+203\.0\.113\.7\s+query_customer_data\s+101/,
    );

    const run = cli(prefix);
    const viaCli = await run('report', '--since', '24h', '--json');
    expect(viaCli.exits).toEqual([]);
    expect(JSON.parse(viaCli.out)).toMatchObject({ totals: report.totals, anomalies: report.anomalies });
    expect((await run('report')).out).toMatch(/^Security report .*\n\nFailed authentications: 22\n/);
    expect((await run('report', '--since', 'tomorrow')).err).toMatch(/^mcp-authz: bad since "tomorrow"/);

    expect((await run('blocks', 'lift', 'acme/alice')).exits).toEqual([]);
    await within(1_000, () => expect(detector.isBlocked(alice, IP)).toBeNull());
    const after = JSON.parse((await run('report', '--json')).out) as SecurityReport;
    expect(after.blocks).toEqual([]);
    expect(after.anomalies).toHaveLength(2);
  });

  it('keeps a block it could not store while Redis was down, and stores it for the other replicas once Redis is back', async () => {
    const prefix = suite.prefix('unstored');
    const inner = await openStore(prefix);
    let crashed = false;
    // Redis goes down between the count that trips the rule and the block's write.
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'putBlock' && !crashed)
          return async (...args: Parameters<Store['putBlock']>) => {
            crashed = true;
            await suite.redis.kill();
            return target.putBlock(...args);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Store;
    const detector = createAbuseDetector({
      store,
      rules: [{ ...(RULES[0] as AbuseRule), threshold: 1, blockSec: 600 }],
      logger: silentLogger(),
      pollIntervalMs: 50,
    });
    await detector.start();
    suite.cleanup(() => detector.stop());
    for (let i = 0; i < 2; i++) detector.recordCall(alice, 'query_customer_data', IP);
    await detector.flush();
    expect(crashed).toBe(true);
    expect(detector.isBlocked(alice, IP)).not.toBeNull();
    await suite.redis.restart();
    const other = await openStore(prefix);
    // Back: the next poll writes the block, where the other replicas load it from.
    await expect
      .poll(async () => (await other.blocks(Date.now())).entries.map((e) => e.value), { timeout: 5_000 })
      .toContain('acme/alice');
    // Another block changes the version; the reload keeps alice blocked (it is in the store now too).
    await other.putBlock({
      target: 'ip',
      value: '198.51.100.9',
      reason: 'operator',
      until: new Date(Date.now() + 3_600_000).toISOString(),
      createdAt: new Date().toISOString(),
    });
    await expect.poll(() => detector.isBlocked(null, '198.51.100.9'), { timeout: 5_000 }).not.toBeNull();
    expect(detector.isBlocked(alice, IP)).not.toBeNull();
  });
});

describe('sliding windows on Redis', () => {
  it('replaces a hit sent again with its id (a retried count), as the memory store does', async () => {
    const redisStore = await openStore('win1:');
    const memory = new MemoryStore();
    const hit = { key: 'rule:acme/alice', windowMs: 60_000, threshold: 100 };
    const steps: WindowHit[] = [
      { ...hit, count: 2, atMs: T0, id: 'a' },
      // The same two, sent again with one more merged in: replaces, does not add.
      { ...hit, count: 3, atMs: T0 + 10, id: 'a' },
      { ...hit, count: 1, atMs: T0 + 20, id: 'b' },
      { ...hit, count: 1, atMs: T0 + 30 },
    ];
    const counts: number[][] = [];
    for (const [i, h] of steps.entries()) {
      const now = T0 + 10 * i;
      const [r, m] = await Promise.all([
        redisStore.countInWindows([h], now),
        memory.countInWindows([h], now),
      ]);
      counts.push([r[0]?.count ?? -1, m[0]?.count ?? -1]);
    }
    expect(counts).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
  });

  it('keeps a re-sent count once through its window, as the memory store does (running sums)', async () => {
    const redisStore = await openStore('win3:');
    const memory = new MemoryStore();
    const hit = { key: 'rule:acme/carol', windowMs: 60_000, threshold: 100 };
    const steps: [number, WindowHit][] = [
      [T0, { ...hit, count: 2, atMs: T0, id: 'a' }],
      [T0 + 10, { ...hit, count: 3, atMs: T0 + 10, id: 'b' }],
      // a, sent again with more merged in, then once more (its answer lost): replaced, not added.
      [T0 + 20, { ...hit, count: 5, atMs: T0 + 20, id: 'a' }],
      [T0 + 20, { ...hit, count: 5, atMs: T0 + 20, id: 'a' }],
      // Past a's first time: what a replaced leaves nothing to take off again.
      [T0 + 60_005, { ...hit, count: 1, atMs: T0 + 60_005, id: 'c' }],
      [T0 + 60_015, { ...hit, count: 1, atMs: T0 + 60_015, id: 'd' }], // b leaves
      // a sent again after its time left the window: counted now, gone at the next count.
      [T0 + 60_025, { ...hit, count: 5, atMs: T0 + 20, id: 'a' }],
      [T0 + 60_030, { ...hit, count: 1, atMs: T0 + 60_030, id: 'e' }],
    ];
    const counts: number[][] = [];
    for (const [now, h] of steps) {
      const [r, m] = await Promise.all([
        redisStore.countInWindows([h], now),
        memory.countInWindows([h], now),
      ]);
      counts.push([r[0]?.count ?? -1, m[0]?.count ?? -1]);
    }
    expect(counts).toEqual([2, 5, 8, 8, 9, 7, 7, 3].map((n) => [n, n]));
  });

  it('agrees with the memory store on a table of batches: replaced, expired and re-sent in one call, 0, trips', async () => {
    const redisStore = await openStore(suite.prefix('win'));
    const memory = new MemoryStore();
    const w = { key: 'rule:acme/dave', windowMs: 60_000, threshold: 10 };
    const hit = (id: string, count: number, atMs: number): WindowHit => ({ ...w, id, count, atMs });
    // [now, one call's hits (a flush: failed slices with their ids first, then new counts), expected]
    const table: [number, WindowHit[], [number, boolean][]][] = [
      [T0, [hit('a', 3, T0)], [[3, false]]],
      [T0 + 100, [hit('b', 0, T0 + 100)], [[3, false]]], // a count of 0
      // a again (its answer lost) beside a new count: replaced, not added.
      [
        T0 + 200,
        [hit('a', 3, T0), hit('c', 4, T0 + 200)],
        [
          [3, false],
          [7, false],
        ],
      ],
      [T0 + 300, [hit('d', 4, T0 + 300)], [[11, true]]],
      [T0 + 300, [hit('d', 4, T0 + 300)], [[11, true]]], // the tripping count again: trips again
      [T0 + 400, [hit('e', 1, T0 + 400)], [[12, false]]],
      // a leaves the window and is sent again in the same call, at its own time: counted by this hit
      // only, gone again for the next one.
      [
        T0 + 60_000,
        [hit('a', 3, T0), hit('f', 1, T0 + 60_000)],
        [
          [12, false],
          [10, false],
        ],
      ],
      // b, c and d leave (the marker of d's trip has ended): g trips.
      [T0 + 60_300, [hit('g', 9, T0 + 60_300)], [[11, true]]],
      // d, the earlier trip, sent again after it left: counted, but no trip (g's marker).
      [
        T0 + 60_301,
        [hit('d', 4, T0 + 300), hit('h', 0, T0 + 60_301)],
        [
          [15, false],
          [11, false],
        ],
      ],
      [T0 + 60_399, [hit('e', 1, T0 + 60_399)], [[11, false]]], // e again, later: replaced, moved
      [T0 + 60_400, [hit('j', 0, T0 + 60_400)], [[11, false]]], // e's first time passes: nothing taken off
      [T0 + 200_000, [hit('i', 2, T0 + 200_000)], [[2, false]]],
    ];
    const got: [number, boolean][][][] = [];
    for (const [now, hits] of table) {
      const [r, m] = await Promise.all([
        redisStore.countInWindows(hits, now),
        memory.countInWindows(hits, now),
      ]);
      got.push([r.map((x) => [x.count, x.tripped]), m.map((x) => [x.count, x.tripped])]);
    }
    expect(got).toEqual(table.map(([, , want]) => [want, want]));
  });

  it('restarts a window whose counts or ids Redis evicted (allkeys-lru): never a sum of counts it no longer holds', async () => {
    const prefix = suite.prefix('win');
    const redisStore = await openStore(prefix);
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    suite.cleanup(async () => admin.disconnect());
    const keys = keyLayout(prefix);
    const w = { key: 'rule:acme/erin', windowMs: 60_000, threshold: 1e9 };
    const count = async (now: number, id: string, n: number, atMs = now) =>
      (await redisStore.countInWindows([{ ...w, id, count: n, atMs }], now))[0]?.count;
    expect(await count(T0, 'a', 3)).toBe(3);
    expect(await count(T0 + 10, 'b', 4)).toBe(7);
    // The hash (counts and sum) evicted, the zset of ids kept: a and b are lost (as a lost zset lost them
    // before), and taking them off as they leave must not push the sum below what is held.
    await admin.del(keys.windowCounts(w.key));
    expect(await count(T0 + 20, 'c', 1)).toBe(1);
    expect(await count(T0 + 30, 'a', 2, T0)).toBe(3); // a again: nothing held to replace
    expect(await count(T0 + 60_015, 'd', 1)).toBe(2); // a and b leave, c stays: c + d
    // The zset evicted, the hash kept: the hash is dropped (sum and counts), so d sent again replaces nothing.
    await admin.del(keys.window(w.key));
    expect(await count(T0 + 60_020, 'd', 5, T0 + 60_015)).toBe(5);
    expect(await count(T0 + 120_025, 'f', 1)).toBe(1);
    expect(await count(T0 + 120_030, 'c', 1)).toBe(2); // c's lost count is not taken off either
    expect(await admin.hget(keys.windowCounts(w.key), ':sum')).toBe('2');
  });

  it('trips again when the tripping hit is sent again, and only then, as the memory store does', async () => {
    const redisStore = await openStore('win2:');
    const memory = new MemoryStore();
    const hit = { key: 'rule:acme/bob', windowMs: 60_000, threshold: 2 };
    const steps: WindowHit[] = [
      { ...hit, count: 3, atMs: T0, id: 'x' }, // trips
      { ...hit, count: 3, atMs: T0 + 10, id: 'x' }, // the same, sent again: trips again
      { ...hit, count: 1, atMs: T0 + 20, id: 'y' }, // another hit in the same window: no second trip
    ];
    const results: [boolean, boolean][] = [];
    for (const [i, h] of steps.entries()) {
      const now = T0 + 10 * i;
      const [r, m] = await Promise.all([
        redisStore.countInWindows([h], now),
        memory.countInWindows([h], now),
      ]);
      results.push([r[0]?.tripped ?? false, m[0]?.tripped ?? false]);
    }
    expect(results).toEqual([
      [true, true],
      [true, true],
      [false, false],
    ]);
  });
});
