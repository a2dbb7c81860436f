import { describe, expect, it } from 'vitest';
import { createAbuseDetector, MAX_LIVE_BLOCKS } from '../../../src/abuse/detector.js';
import { MAX_TARGET_TOOL_CHARS, parseSubjectArg, UNLISTED_TOOLS } from '../../../src/abuse/targets.js';
import type { AbuseEvent, AbuseRule } from '../../../src/abuse/types.js';
import { ANONYMOUS, type Principal } from '../../../src/authn/principal.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { Store, WindowHit } from '../../../src/store/store.js';
import { StoreError } from '../../../src/store/store-error.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';

const T0 = 1_800_000_000_000;
const IP = '203.0.113.7';

function principal(tenant: string | null, id: string): Principal {
  return { ...ANONYMOUS, tenant, id, authMethod: 'jwt' };
}
const alice = principal('acme', 'alice');

/** A memory store whose window writes land but, while `flag.loseAnswer`, answer a timeout. */
function answerLostStore(): { store: Store; flag: { loseAnswer: boolean } } {
  const inner = new MemoryStore();
  const flag = { loseAnswer: true };
  const store = delegate(inner, {
    countInWindows: async (hits: WindowHit[], now: number) => {
      const counted = await inner.countInWindows(hits, now);
      if (flag.loseAnswer) throw new StoreError('countInWindows', 'Command timed out');
      return counted;
    },
  });
  return { store, flag };
}

/** `inner` with some methods replaced (the others bound to it, so its private fields work). */
function delegate(inner: Store, overrides: Partial<Record<keyof Store, unknown>>): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** A memory store whose window writes fail (not connected) while `flag.down`. */
function windowsDownStore(down: boolean): { store: Store; flag: { down: boolean } } {
  const inner = new MemoryStore();
  const flag = { down };
  const store = delegate(inner, {
    countInWindows: async (hits: WindowHit[], now: number) => {
      if (flag.down) throw new StoreError('countInWindows', 'not connected');
      return inner.countInWindows(hits, now);
    },
  });
  return { store, flag };
}

function setup(rules: AbuseRule[], store: Store = new MemoryStore()) {
  const clock = { now: T0 };
  const events: AbuseEvent[] = [];
  const detector = createAbuseDetector({
    store,
    rules,
    logger: silentLogger(),
    now: () => clock.now,
    onTrip: (e) => events.push(e),
  });
  return { clock, events, detector, store };
}

const QUERY_RULE: AbuseRule = {
  name: 'query-flood',
  kind: 'tool_calls',
  tool: 'query_*',
  threshold: 100,
  windowSec: 300,
  action: 'alert',
};

/**
 * A detector blocking a caller at its first `query_*` call, over a memory store that refuses block writes
 * (Redis lost, or read-only) while `flag.refuse`.
 */
function writesRefused() {
  const inner = new MemoryStore();
  const flag = { refuse: true };
  const store = delegate(inner, {
    putBlock: (...args: Parameters<Store['putBlock']>) =>
      flag.refuse ? Promise.reject(new StoreError('putBlock', 'not connected')) : inner.putBlock(...args),
  });
  const { detector } = setup([{ ...QUERY_RULE, threshold: 0, action: 'block', blockSec: 600 }], store);
  return { inner, flag, detector };
}

describe('abuse detector', () => {
  it('writes at stop the counts made while a flush was under way, not only that flush', async () => {
    const { detector, store } = setup([{ ...QUERY_RULE, threshold: 1 }]);
    const written: number[] = [];
    const count = store.countInWindows.bind(store);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    store.countInWindows = async (hits, now) => {
      written.push(hits.reduce((n, h) => n + h.count, 0));
      if (written.length === 1) await held;
      return count(hits, now);
    };
    detector.recordCall(alice, 'query_a', IP);
    const first = detector.flush();
    detector.recordCall(alice, 'query_a', IP);
    const stopped = detector.stop();
    release();
    await Promise.all([first, stopped]);
    expect(written).toEqual([1, 1]);
  });

  it('counts calls of tool names the upstream never listed together, under one window', async () => {
    const { events, detector, store } = setup([QUERY_RULE]);
    const spy = { keys: new Set<string>() };
    const count = store.countInWindows.bind(store);
    store.countInWindows = async (hits, now) => {
      for (const h of hits) spy.keys.add(h.key);
      return count(hits, now);
    };
    // 101 invented names, one call each: one window, which trips; listed names each keep their own.
    for (let i = 0; i <= 100; i++) detector.recordCall(alice, `query_x${i}`, IP, false);
    detector.recordCall(alice, 'query_customer_data', IP);
    await detector.flush();
    expect(spy.keys.size).toBe(2);
    expect(events).toMatchObject([{ rule: 'query-flood', tool: UNLISTED_TOOLS, count: 101 }]);
    // The rule's glob still sees each real name: a name it does not match is not counted.
    detector.recordCall(alice, 'export_all', IP, false);
    await detector.flush();
    expect(spy.keys.size).toBe(2);
  });

  it('trips at exactly threshold + 1 calls, not before, and once per window', async () => {
    const { clock, events, detector } = setup([QUERY_RULE]);
    for (let i = 0; i < 100; i++) detector.recordCall(alice, 'query_customer_data', IP);
    await detector.flush();
    expect(events).toEqual([]);
    clock.now += 1_000;
    detector.recordCall(alice, 'query_customer_data', IP);
    await detector.flush();
    expect(events).toEqual([
      {
        rule: 'query-flood',
        kind: 'tool_calls',
        subject: 'alice',
        tenant: 'acme',
        ip: IP,
        tool: 'query_customer_data',
        count: 101,
        windowSec: 300,
        action: 'alert',
        blockedUntil: null,
        at: new Date(T0 + 1_000).toISOString(),
      },
    ]);
    for (let i = 0; i < 50; i++) {
      detector.recordCall(alice, 'query_customer_data', IP);
      await detector.flush();
    }
    expect(events).toHaveLength(1);
    expect(detector.stats().trips).toBe(1);
    expect(detector.isBlocked(alice, IP)).toBeNull(); // alert only
  });

  it('counts a sliding window: old calls drop out', async () => {
    const { clock, events, detector } = setup([{ ...QUERY_RULE, threshold: 2, windowSec: 60 }]);
    for (let i = 0; i < 3; i++) {
      detector.recordCall(alice, 'query_x', IP);
      await detector.flush();
      if (i < 2) clock.now += 30_000;
    }
    // t=60 s: the call at t=0 has left the window (calls at 30 s and 60 s remain): 2, not 3.
    expect(events).toEqual([]);
    detector.recordCall(alice, 'query_x', IP);
    await detector.flush();
    expect(events.map((e) => e.count)).toEqual([3]);
  });

  it('trips again after a window has passed if the abuse goes on', async () => {
    const { clock, events, detector } = setup([{ ...QUERY_RULE, threshold: 1, windowSec: 10 }]);
    detector.recordCall(alice, 'query_x', IP);
    detector.recordCall(alice, 'query_x', IP);
    await detector.flush();
    clock.now += 10_000;
    detector.recordCall(alice, 'query_x', IP);
    detector.recordCall(alice, 'query_x', IP);
    await detector.flush();
    expect(events.map((e) => e.at)).toEqual([
      new Date(T0).toISOString(),
      new Date(T0 + 10_000).toISOString(),
    ]);
  });

  it('counts per subject × tool, only tools matching the glob', async () => {
    const { events, detector } = setup([{ ...QUERY_RULE, threshold: 2 }]);
    const bob = principal('acme', 'bob');
    for (const [p, tool] of [
      [alice, 'query_a'],
      [alice, 'query_b'],
      [bob, 'query_a'],
      [alice, 'delete_all'],
      [alice, 'delete_all'],
      [alice, 'delete_all'],
      [principal('other', 'alice'), 'query_a'],
      [alice, 'query_a'],
    ] as const)
      detector.recordCall(p, tool, IP);
    await detector.flush();
    expect(events).toEqual([]);
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(events.map((e) => [e.tenant, e.subject, e.tool, e.count])).toEqual([
      ['acme', 'alice', 'query_a', 3],
    ]);
  });

  it('ignores anonymous callers for tool_calls rules', async () => {
    const { events, detector } = setup([{ ...QUERY_RULE, threshold: 0 }]);
    detector.recordCall(ANONYMOUS, 'query_a', IP);
    await detector.flush();
    expect(events).toEqual([]);
  });

  it('blocks the subject (tenant + subject) for blockSec, then lets it go', async () => {
    const { clock, events, detector } = setup([
      { ...QUERY_RULE, threshold: 1, action: 'block', blockSec: 60 },
    ]);
    await detector.start();
    detector.recordCall(alice, 'query_a', IP);
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    const until = new Date(T0 + 60_000).toISOString();
    expect(events[0]).toMatchObject({ action: 'block', blockedUntil: until });
    expect(detector.isBlocked(alice, '198.51.100.1')).toMatchObject({
      target: 'subject',
      value: 'acme/alice',
      until,
      reason: 'abuse rule query-flood: 2 calls of query_* in 300 s',
    });
    expect(detector.isBlocked(principal('other', 'alice'), IP)).toBeNull();
    expect(detector.isBlocked(null, IP)).toBeNull();
    expect(detector.currentBlocks()).toHaveLength(1);
    clock.now += 60_000;
    expect(detector.isBlocked(alice, IP)).toBeNull();
    expect(detector.currentBlocks()).toEqual([]);
    await detector.stop();
  });

  it('blocks an address after too many failed authentications from it', async () => {
    const { events, detector } = setup([
      { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 2, windowSec: 60, action: 'block' },
    ]);
    detector.recordAuthFailure(null, '::ffff:192.0.2.1', 'invalid_token');
    detector.recordAuthFailure({ subject: 'alice', tenant: 'acme' }, '192.0.2.1', 'invalid_token');
    detector.recordAuthFailure(null, '192.0.2.1 ', 'expired');
    await detector.flush();
    expect(events).toMatchObject([{ kind: 'auth_failures_ip', ip: '192.0.2.1', count: 3, subject: null }]);
    expect(detector.isBlocked(null, '::ffff:192.0.2.1')).toMatchObject({ target: 'ip', value: '192.0.2.1' });
    expect(detector.isBlocked(alice, '192.0.2.2')).toBeNull();
    // Default block length: 15 minutes.
    expect(events[0]?.blockedUntil).toBe(new Date(T0 + 900_000).toISOString());
  });

  it('counts and blocks an IPv6 client by its /64, so rotating through it gains nothing', async () => {
    const { events, detector } = setup([
      { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 2, windowSec: 60, action: 'block' },
    ]);
    for (const host of ['a', 'b', 'c'])
      detector.recordAuthFailure(null, `2001:db8:0:1::${host}`, 'invalid_token');
    await detector.flush();
    expect(events).toMatchObject([{ ip: '2001:db8:0:1::/64', count: 3 }]);
    expect(detector.isBlocked(null, '2001:0db8:0000:0001:ffff::1')).toMatchObject({
      target: 'ip',
      value: '2001:db8:0:1::/64',
    });
    expect(detector.isBlocked(null, '2001:db8:0:2::a')).toBeNull();
  });

  it('blocks a client behind a NAT64 gateway by the IPv4 address it carries, as it counts it', async () => {
    const { events, detector } = setup([
      { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 2, windowSec: 60, action: 'block' },
    ]);
    for (let i = 0; i < 3; i++) detector.recordAuthFailure(null, '64:ff9b::192.0.2.7', 'invalid_token');
    await detector.flush();
    expect(events).toMatchObject([{ ip: '192.0.2.7', count: 3 }]);
    for (const ip of ['64:ff9b::192.0.2.7', '64:ff9b::c000:207', '192.0.2.7'])
      expect(detector.isBlocked(null, ip)).toMatchObject({ target: 'ip', value: '192.0.2.7' });
    // Another client behind the same gateway is not blocked.
    expect(detector.isBlocked(null, '64:ff9b::192.0.2.8')).toBeNull();
  });

  it(`only reports trips once ${MAX_LIVE_BLOCKS} blocks are held, so a spray of addresses cannot grow the list without bound`, async () => {
    const { events, detector, clock } = setup([
      { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 1, windowSec: 60, action: 'block' },
    ]);
    const address = (n: number) => `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
    for (let n = 0; n <= MAX_LIVE_BLOCKS; n++) {
      detector.recordAuthFailure(null, address(n), 'invalid_token');
      detector.recordAuthFailure(null, address(n), 'invalid_token');
    }
    await detector.flush();
    expect(events).toHaveLength(MAX_LIVE_BLOCKS + 1);
    expect(detector.currentBlocks()).toHaveLength(MAX_LIVE_BLOCKS);
    expect(events.filter((e) => e.blockedUntil === null)).toHaveLength(1);
    expect(detector.isBlocked(null, address(MAX_LIVE_BLOCKS))).toBeNull();
    // Blocks that ended make room again, with no other change to the store's list.
    clock.now += 86_400_000;
    await detector.refresh();
    const next = '192.0.2.200';
    detector.recordAuthFailure(null, next, 'invalid_token');
    detector.recordAuthFailure(null, next, 'invalid_token');
    await detector.flush();
    expect(events.at(-1)).toMatchObject({ ip: next });
    expect(events.at(-1)?.blockedUntil).not.toBeNull();
    expect(detector.isBlocked(null, next)).toMatchObject({ value: next });
  });

  it('still blocks a subject while the address blocks are at their cap', async () => {
    const { events, detector } = setup([
      { name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 1, windowSec: 60, action: 'block' },
      { ...QUERY_RULE, threshold: 0, action: 'block' },
    ]);
    for (let n = 0; n < MAX_LIVE_BLOCKS + 1; n++) {
      const ip = `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
      detector.recordAuthFailure(null, ip, 'invalid_token');
      detector.recordAuthFailure(null, ip, 'invalid_token');
    }
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(events.at(-1)).toMatchObject({ subject: 'alice' });
    expect(events.at(-1)?.blockedUntil).not.toBeNull();
    expect(detector.isBlocked(alice, '192.0.2.99')).toMatchObject({ target: 'subject' });
  });

  it('blocks a subject of its tenant only after too many failed authentications as it', async () => {
    const { events, detector } = setup([
      {
        name: 'subject-bruteforce',
        kind: 'auth_failures_subject',
        threshold: 2,
        windowSec: 60,
        action: 'block',
      },
    ]);
    const acmeAlice = { subject: 'alice', tenant: 'acme' };
    detector.recordAuthFailure(acmeAlice, '192.0.2.1', 'bad_key');
    detector.recordAuthFailure(acmeAlice, '192.0.2.9', 'bad_key');
    // Another tenant's alice: counted on her own, not pooled with acme's.
    detector.recordAuthFailure({ subject: 'alice', tenant: 'globex' }, '192.0.2.9', 'bad_key');
    detector.recordAuthFailure({ subject: 'alice', tenant: 'globex' }, '192.0.2.9', 'bad_key');
    detector.recordAuthFailure(null, '192.0.2.9', 'bad_key');
    await detector.flush();
    expect(events).toEqual([]);
    detector.recordAuthFailure(acmeAlice, '192.0.2.1', 'bad_key');
    await detector.flush();
    expect(events).toMatchObject([
      { kind: 'auth_failures_subject', subject: 'alice', tenant: 'acme', count: 3 },
    ]);
    expect(detector.isBlocked(alice, '10.0.0.1')).toMatchObject({ target: 'subject', value: 'acme/alice' });
    expect(detector.isBlocked(principal('globex', 'alice'), '10.0.0.1')).toBeNull();
    expect(detector.isBlocked(principal(null, 'alice'), '10.0.0.1')).toBeNull();
    expect(detector.isBlocked(principal('acme', 'bob'), '192.0.2.1')).toBeNull();
  });

  it('reloads the block list once per flush, however many addresses trip in it', async () => {
    const inner = new MemoryStore();
    const reads = { blocks: 0 };
    const store = delegate(inner, {
      blocks: (now: number) => {
        reads.blocks++;
        return inner.blocks(now);
      },
    });
    const { detector, events } = setup(
      [{ name: 'ip-bruteforce', kind: 'auth_failures_ip', threshold: 2, windowSec: 60, action: 'block' }],
      store,
    );
    await detector.start();
    const loaded = reads.blocks;
    for (let a = 0; a < 200; a++) {
      for (let i = 0; i < 3; i++) detector.recordAuthFailure(null, `198.51.100.${a}`, 'invalid_token');
    }
    await detector.flush();
    await detector.refresh();
    expect(events).toHaveLength(200);
    expect(detector.currentBlocks()).toHaveLength(200);
    expect(reads.blocks - loaded).toBe(1);
    await detector.stop();
  });

  it('keeps a block the store failed to take through later reloads, and stores it once the store takes writes', async () => {
    const { inner, flag, detector } = writesRefused();
    await detector.start();
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(detector.isBlocked(alice, IP)).toMatchObject({ value: 'acme/alice' });
    // Another block changes the version: the reload replaced the whole snapshot with the store's.
    const other = { target: 'ip', value: '198.51.100.9', reason: 'operator', createdAt: '' } as const;
    await inner.putBlock({ ...other, until: new Date(T0 + 3_600_000).toISOString() });
    await detector.refresh();
    expect(detector.isBlocked(null, '198.51.100.9')).not.toBeNull();
    expect(detector.isBlocked(alice, IP)).toMatchObject({ value: 'acme/alice' });
    expect((await inner.blocks(T0)).entries.map((e) => e.value)).toEqual(['198.51.100.9']);
    // The store takes writes again: the next poll writes the block, for every replica to load.
    flag.refuse = false;
    await detector.refresh();
    expect((await inner.blocks(T0)).entries.map((e) => e.value).sort()).toEqual([
      '198.51.100.9',
      'acme/alice',
    ]);
    expect(detector.isBlocked(alice, IP)).toMatchObject({ value: 'acme/alice' });
    await detector.stop();
  });

  it('drops a block it could not store once an operator lifts that subject, and writes the others at stop', async () => {
    const { inner, flag, detector } = writesRefused();
    await detector.start();
    const bob = principal('acme', 'bob');
    detector.recordCall(alice, 'query_a', IP);
    detector.recordCall(bob, 'query_a', IP);
    await detector.flush();
    // Another replica's block of alice reaches the store, and this replica loads it.
    const until = new Date(T0 + 300_000).toISOString();
    await inner.putBlock({ target: 'subject', value: 'acme/alice', reason: 'other', until, createdAt: '' });
    await detector.refresh();
    // The operator lifts it: this replica's own block of alice must not undo the lift.
    expect(await inner.liftBlock('subject', 'acme/alice', T0)).toBe(true);
    await detector.refresh();
    expect(detector.isBlocked(alice, '198.51.100.1')).toBeNull();
    expect(detector.isBlocked(bob, '198.51.100.1')).toMatchObject({ value: 'acme/bob' });
    // Stopped before its next poll, with the store taking writes again: bob's block is written, not lost.
    flag.refuse = false;
    await detector.stop();
    expect((await inner.blocks(T0)).entries.map((e) => e.value)).toEqual(['acme/bob']);
  });

  it('sees a lift made once the store is back before it writes the block it could not store', async () => {
    const { inner, flag, detector } = writesRefused();
    const until = new Date(T0 + 300_000).toISOString();
    await inner.putBlock({ target: 'subject', value: 'acme/alice', reason: 'other', until, createdAt: '' });
    await detector.start(); // loads the other replica's block of alice
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush(); // its own block of alice: not stored
    flag.refuse = false; // the store is back, and the operator lifts alice before this replica's next poll
    expect(await inner.liftBlock('subject', 'acme/alice', T0)).toBe(true);
    await detector.refresh();
    expect(detector.isBlocked(alice, IP)).toBeNull();
    expect((await inner.blocks(T0)).entries).toEqual([]);
    await detector.stop();
  });

  it("enforces an operator's block of a subject in every tenant (a bare --subject), in each tenant", async () => {
    const store = new MemoryStore();
    const { detector } = setup([QUERY_RULE], store);
    await store.putBlock({
      target: 'subject',
      value: parseSubjectArg('alice'),
      reason: 'operator',
      until: new Date(T0 + 60_000).toISOString(),
      createdAt: new Date(T0).toISOString(),
    });
    await detector.start();
    expect(detector.isBlocked(alice, '198.51.100.1')).toMatchObject({ reason: 'operator', value: '*/alice' });
    expect(detector.isBlocked(principal('other', 'alice'), '198.51.100.1')).toMatchObject({
      reason: 'operator',
    });
    expect(detector.isBlocked(principal(null, 'alice'), '198.51.100.1')).toMatchObject({
      reason: 'operator',
    });
    expect(detector.isBlocked(principal('acme', 'bob'), '198.51.100.1')).toBeNull();
    await detector.stop();
  });

  it('matches a tool glob against the whole name: a rule on query_a does not count query_ab or xquery_a', async () => {
    const { events, detector } = setup([{ ...QUERY_RULE, tool: 'query_a', threshold: 1 }]);
    for (const tool of ['query_ab', 'query_ab', 'xquery_a', 'xquery_a', 'query_a'])
      detector.recordCall(alice, tool, IP);
    await detector.flush();
    expect(events).toEqual([]);
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(events.map((e) => [e.tool, e.count])).toEqual([['query_a', 2]]);
  });

  it('times a count merged before its flush by its latest call, so it stays in the window that long', async () => {
    const { clock, events, detector } = setup([{ ...QUERY_RULE, threshold: 2, windowSec: 60 }]);
    detector.recordCall(alice, 'query_x', IP);
    clock.now += 50_000;
    detector.recordCall(alice, 'query_x', IP);
    clock.now += 5_000;
    await detector.flush(); // 2 at t=55 s: no trip
    expect(events).toEqual([]);
    clock.now += 15_000;
    detector.recordCall(alice, 'query_x', IP);
    await detector.flush();
    // t=70 s: the merged count's latest call (t=50 s) is inside the 60 s window: 3 > 2.
    expect(events.map((e) => e.count)).toEqual([3]);
  });

  it('never shortens a longer block an operator set', async () => {
    const store = new MemoryStore();
    const { detector } = setup([{ ...QUERY_RULE, threshold: 0, action: 'block', blockSec: 60 }], store);
    const until = new Date(T0 + 86_400_000).toISOString();
    await store.putBlock({
      target: 'subject',
      value: 'acme/alice',
      reason: 'operator',
      until,
      createdAt: '',
    });
    await detector.start();
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect((await store.blocks(T0)).entries).toMatchObject([{ reason: 'operator', until }]);
    expect(detector.isBlocked(alice, IP)).toMatchObject({ reason: 'operator', until });
    await detector.stop();
  });

  it('logs a failed poll before the first load as such, not as falling back on a snapshot', async () => {
    const inner = new MemoryStore();
    const flag = { down: true };
    const store = delegate(inner, {
      blockVersion: async () => {
        if (flag.down) throw new StoreError('blockVersion', 'not connected');
        return inner.blockVersion();
      },
    });
    const lines: string[] = [];
    const detector = createAbuseDetector({
      store,
      rules: [QUERY_RULE],
      logger: createLogger('info', { write: (s: string) => void lines.push(s) }),
      now: () => T0,
      pollIntervalMs: 60_000,
    });
    const messages = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    await detector.start();
    expect(detector.status().state).toBe('error');
    expect(messages()).toEqual([
      'block polling failed; no snapshot loaded yet: only blocks this replica trips are enforced until a poll succeeds',
    ]);
    flag.down = false;
    await detector.refresh();
    flag.down = true;
    await detector.refresh();
    expect(messages().slice(1)).toEqual([
      'block polling recovered',
      'block polling failed; using the last snapshot',
    ]);
    flag.down = false;
    await detector.stop();
  });

  it('keeps counts while the store fails, logs once, and trips after it is back', async () => {
    const { store, flag } = windowsDownStore(true);
    const lines: string[] = [];
    const clock = { now: T0 };
    const events: AbuseEvent[] = [];
    const detector = createAbuseDetector({
      store,
      rules: [{ ...QUERY_RULE, threshold: 2 }],
      logger: createLogger('info', { write: (s: string) => void lines.push(s) }),
      now: () => clock.now,
      onTrip: (e) => events.push(e),
    });
    await detector.start();
    for (let i = 0; i < 3; i++) {
      detector.recordCall(alice, 'query_a', IP);
      await detector.flush();
    }
    expect(events).toEqual([]);
    expect(detector.status().state).toBe('warn');
    expect(lines.filter((l) => l.includes('abuse counts not written'))).toHaveLength(1);
    flag.down = false;
    await detector.flush();
    expect(events.map((e) => e.count)).toEqual([3]);
    expect(detector.status().state).toBe('ok');
    expect(detector.stats().storeErrors).toBe(3);
    await detector.stop();
  });

  it('does not send the counts of an outage longer than the window as one burst when the store is back', async () => {
    const { store, flag } = windowsDownStore(false);
    const rule: AbuseRule = {
      name: 'ip-bruteforce',
      kind: 'auth_failures_ip',
      threshold: 20,
      windowSec: 60,
      action: 'block',
    };
    const { clock, events, detector } = setup([rule], store);
    // One failed login every 10 s (6 a minute, under 20), flushed every second, through 5 minutes of outage.
    const failSlowly = async (seconds: number) => {
      for (let s = 0; s < seconds; s++) {
        if (s % 10 === 0) detector.recordAuthFailure(null, IP, 'invalid_token');
        clock.now += 1_000;
        await detector.flush();
      }
    };
    await failSlowly(120);
    flag.down = true;
    await failSlowly(300);
    flag.down = false;
    await detector.flush();
    expect(events).toEqual([]);
    expect(detector.isBlocked(null, IP)).toBeNull();
    // The five failures of the outage's last minute did count: sixteen more make 21, past the threshold.
    for (let i = 0; i < 16; i++) detector.recordAuthFailure(null, IP, 'invalid_token');
    await detector.flush();
    expect(events.map((e) => e.count)).toEqual([21]);
  });

  it('does not count twice a write that landed but whose answer was lost (a timeout)', async () => {
    const { store, flag } = answerLostStore();
    const { detector, events } = setup([{ ...QUERY_RULE, threshold: 3 }], store);
    for (let i = 0; i < 2; i++) detector.recordCall(alice, 'query_a', IP);
    await detector.flush(); // the two calls reach the window; the detector hears of a failure
    flag.loseAnswer = false;
    detector.recordCall(alice, 'query_a', IP); // sent with the two being retried
    await detector.flush();
    // Three calls: at the threshold, not past it (five, had the retry been added to the landed write).
    expect(events).toEqual([]);
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(events.map((e) => e.count)).toEqual([4]);
  });

  it('acts on a trip whose answer was lost: the retried write trips again', async () => {
    const { store, flag } = answerLostStore();
    const { detector, events } = setup([{ ...QUERY_RULE, threshold: 3 }], store);
    for (let i = 0; i < 5; i++) detector.recordCall(alice, 'query_a', IP);
    await detector.flush(); // crosses the threshold in the store; the detector hears a failure
    expect(events).toEqual([]);
    flag.loseAnswer = false;
    await detector.flush();
    expect(events.map((e) => e.count)).toEqual([5]);
    // Once per window still: later calls do not trip again.
    detector.recordCall(alice, 'query_a', IP);
    await detector.flush();
    expect(events).toHaveLength(1);
  });

  it('survives an onTrip handler that throws', async () => {
    const detector = createAbuseDetector({
      store: new MemoryStore(),
      rules: [{ ...QUERY_RULE, threshold: 0 }],
      logger: silentLogger(),
      onTrip: () => {
        throw new Error('boom');
      },
    });
    detector.recordCall(alice, 'query_a', IP);
    await expect(detector.flush()).resolves.toBeUndefined();
    expect(detector.stats().trips).toBe(1);
  });

  it('rejects invalid rules with every problem listed', () => {
    expect(() =>
      setup([
        { ...QUERY_RULE, threshold: -1 },
        { ...QUERY_RULE, kind: 'auth_failures_ip' },
      ]),
    ).toThrow(/rules\[0\]\[threshold\][\s\S]*rules\[1\]\[tool\][\s\S]*rules\[1\]\[name\]: duplicate/);
  });
});

describe('abuse detector bounds', () => {
  it('counts a long tool name under a short key and reports it cut short', async () => {
    const keys: string[] = [];
    const inner = new MemoryStore();
    const store = delegate(inner, {
      countInWindows: async (hits: WindowHit[], now: number) => {
        keys.push(...hits.map((h) => h.key));
        return inner.countInWindows(hits, now);
      },
    });
    const { events, detector } = setup(
      [{ name: 'burst', kind: 'tool_calls', threshold: 2, windowSec: 300, action: 'alert' }],
      store,
    );
    // A caller with a wildcard grant inventing megabyte tool names: each one is a window in the store for
    // the rule's window (and, the store down, a pending count for as long).
    const long = (i: number) => `${'n'.repeat(1_000_000)}${i}`;
    for (let i = 0; i < 3; i++) detector.recordCall(alice, long(i), IP);
    for (let i = 0; i < 3; i++) detector.recordCall(alice, long(0), IP);
    await detector.flush();
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(key.length).toBeLessThanOrEqual(2 * MAX_TARGET_TOOL_CHARS);
    // Still one count per name: the same long name trips, the other two do not.
    expect(events).toHaveLength(1);
    expect(events[0]?.count).toBe(4);
    expect(events[0]?.tool?.length).toBeLessThanOrEqual(MAX_TARGET_TOOL_CHARS + 1);
  });
});
