/**
 * Pending abuse counts are bounded per rule: a flood of targets for one rule (invented tool names) fills
 * only that rule's budget, so another rule (failed logins per address) keeps counting. A failed flush's
 * counts come back as slices of their own, never merged with newer ones, and only while inside their window.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_TARGETS, PendingCounts, toWindowHits } from '../../../src/abuse/pending-counts.js';
import { compileRules } from '../../../src/abuse/rules.js';

const [calls, logins] = compileRules([
  { name: 'burst', kind: 'tool_calls', threshold: 100, windowSec: 60, action: 'alert' },
  {
    name: 'guessing',
    kind: 'auth_failures_ip',
    threshold: 20,
    windowSec: 60,
    action: 'block',
    blockSec: 900,
  },
]);
const who = { subject: null, tenant: null, tool: null, ip: null };

describe('PendingCounts', () => {
  it('caps each rule on its own', () => {
    if (!calls || !logins) throw new Error('rules');
    const p = new PendingCounts();
    for (let i = 0; i < MAX_PENDING_TARGETS; i++)
      expect(p.add(calls, `alice:tool${i}`, who, 1, 0)).toBe(true);
    expect(p.add(calls, 'alice:one-more', who, 1, 0)).toBe(false);
    // A target already waiting still counts, and the other rule has its whole budget.
    expect(p.add(calls, 'alice:tool0', who, 1, 0)).toBe(true);
    expect(p.add(logins, '203.0.113.9', who, 1, 0)).toBe(true);
    // A flush frees the budget.
    expect(p.drain(0)).toHaveLength(MAX_PENDING_TARGETS + 1);
    expect(p.add(calls, 'alice:one-more', who, 1, 0)).toBe(true);
  });

  it('hands a failed flush back as slices of their own, each dropped once past its window', () => {
    if (!logins) throw new Error('rules');
    const p = new PendingCounts();
    p.add(logins, '203.0.113.9', who, 6, 1_000);
    const first = p.drain(1_000);
    const [sent] = toWindowHits(first);
    expect(p.requeue(first, 1_000)).toBe(0);
    // Newer counts for the same target stay apart: the retried slice keeps its time and its id.
    p.add(logins, '203.0.113.9', who, 6, 30_000);
    const second = p.drain(30_000);
    expect(toWindowHits(second).map((h) => [h.count, h.atMs, h.id === sent?.id])).toEqual([
      [6, 1_000, true],
      [6, 30_000, false],
    ]);
    // That flush fails too, and a minute passes: the first slice has left the window, the second has not.
    p.requeue(second, 30_000);
    expect(p.drain(61_000).map((s) => [s.count, s.atMs])).toEqual([[6, 30_000]]);
  });
});
