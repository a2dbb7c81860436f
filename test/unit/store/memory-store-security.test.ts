import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { type AbuseEvent, HOUR_MS, SECURITY_RETENTION_MS } from '../../../src/store/store.js';
import { expectCostLike } from '../../helpers/linear-time.js';

const T0 = 1_800_000_000_000;

function hit(key: string, count: number, atMs = T0) {
  return { key, count, windowMs: 60_000, threshold: 5, atMs };
}

function block(value: string, untilMs: number) {
  return {
    target: 'subject' as const,
    value,
    reason: 'r',
    until: new Date(untilMs).toISOString(),
    createdAt: new Date(T0).toISOString(),
  };
}

describe('MemoryStore: windows, blocks, security counters', () => {
  it('counts windows and trips once when the threshold is first exceeded', async () => {
    const s = new MemoryStore();
    expect(await s.countInWindows([hit('a', 5), hit('b', 6)], T0)).toEqual([
      { count: 5, tripped: false },
      { count: 6, tripped: true },
    ]);
    expect(await s.countInWindows([hit('a', 1), hit('b', 1)], T0 + 1)).toEqual([
      { count: 6, tripped: true },
      { count: 7, tripped: false },
    ]);
    // After the window, old hits are gone and a new trip is possible.
    expect(await s.countInWindows([hit('b', 6, T0 + 60_001)], T0 + 60_001)).toEqual([
      { count: 6, tripped: true },
    ]);
  });

  it('costs a count in a window of 50,000 counts about what it costs in one of 100 (running sums)', async () => {
    const s = new MemoryStore();
    const day = { windowMs: 86_400_000, threshold: 1e9 };
    const fill = (key: string, members: number) =>
      s.countInWindows(
        Array.from({ length: members }, (_, i) => ({ key, count: 1, atMs: T0 + i, ...day })),
        T0,
      );
    await fill('small', 100);
    expect((await fill('big', 50_000)).at(-1)?.count).toBe(50_000);
    let at = T0 + 50_000;
    const flushes = (key: string) => () => {
      for (let i = 0; i < 2_000; i++) void s.countInWindows([{ key, count: 1, atMs: ++at, ...day }], at);
    };
    // Filtering and summing the whole window on every count took ~100 times as long at 50,000.
    expectCostLike(flushes('big'), flushes('small'), { label: '2,000 counts at 50,000' });
  });

  it('does not count the lift of a block that has ended (not yet pruned) as a lift, as the Redis script does not', async () => {
    const s = new MemoryStore({ now: () => T0 });
    expect(await s.putBlock(block('acme/a', T0 + 1_000))).toBe(true);
    const version = await s.blockVersion();
    expect(await s.liftBlock('subject', 'acme/a', T0 + 2_000)).toBe(false);
    expect(await s.blockVersion()).toBe(version);
  });

  it('puts, lists and lifts blocks, bumping the version; lapsed blocks disappear', async () => {
    const s = new MemoryStore({ now: () => T0 });
    expect(await s.blockVersion()).toBe(0);
    expect(await s.putBlock(block('acme/a', T0 + 1_000))).toBe(true);
    expect(await s.putBlock(block('acme/b', T0 + 5_000))).toBe(true);
    expect(await s.blockVersion()).toBe(2);
    expect((await s.blocks(T0)).entries.map((b) => b.value)).toEqual(['acme/a', 'acme/b']);
    expect((await s.blocks(T0 + 1_000)).entries.map((b) => b.value)).toEqual(['acme/b']);
    expect(await s.liftBlock('subject', 'acme/a', T0 + 1_000)).toBe(false); // already lapsed
    expect(await s.liftBlock('subject', 'acme/b', T0 + 1_000)).toBe(true);
    expect(await s.blockVersion()).toBe(3);
    expect((await s.blocks(T0)).entries).toEqual([]);
  });

  it('extendOnly keeps a longer live block, but replaces a shorter or lapsed one', async () => {
    const s = new MemoryStore();
    await s.putBlock(block('x', T0 + 10_000));
    expect(await s.putBlock(block('x', T0 + 5_000), { extendOnly: true, nowMs: T0 })).toBe(false);
    expect(await s.putBlock(block('x', T0 + 20_000), { extendOnly: true, nowMs: T0 })).toBe(true);
    expect(await s.putBlock(block('x', T0 + 1_000), { extendOnly: true, nowMs: T0 + 30_000 })).toBe(true);
    expect(await s.putBlock(block('x', T0 + 1_000))).toBe(true); // operators replace
  });

  it('sums hourly counters and forgets hours past the retention', async () => {
    const s = new MemoryStore();
    const h0 = Math.floor(T0 / HOUR_MS) * HOUR_MS;
    await s.recordSecurityCounters(
      {
        hours: new Map([
          [h0, new Map([['af|x', 2]])],
          [
            h0 + HOUR_MS,
            new Map([
              ['af|x', 3],
              ['af|y', 1],
            ]),
          ],
        ]),
        anomalies: [],
      },
      T0,
    );
    expect(await s.securityCounters([h0, h0 + HOUR_MS, h0 + HOUR_MS])).toEqual(
      new Map([
        ['af|x', 5],
        ['af|y', 1],
      ]),
    );
    await s.recordSecurityCounters({ hours: new Map(), anomalies: [] }, h0 + SECURITY_RETENTION_MS);
    expect(await s.securityCounters([h0])).toEqual(new Map());
  });

  it('lists anomalies of a period, newest first', async () => {
    const s = new MemoryStore();
    const event = (at: number): AbuseEvent => ({
      rule: 'r',
      kind: 'auth_failures_ip',
      subject: null,
      tenant: null,
      ip: '192.0.2.1',
      tool: null,
      count: 3,
      windowSec: 60,
      action: 'alert',
      blockedUntil: null,
      at: new Date(at).toISOString(),
    });
    await s.recordSecurityCounters(
      { hours: new Map(), anomalies: [event(T0), event(T0 + 2), event(T0 + 1)] },
      T0,
    );
    const got = await s.anomalies(T0 + 1, T0 + 10, 10);
    expect(got.map((e) => Date.parse(e.at) - T0)).toEqual([2, 1]);
    expect(await s.anomalies(T0, T0 + 10, 1)).toHaveLength(1);
  });
});
