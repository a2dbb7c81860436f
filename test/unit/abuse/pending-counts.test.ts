/**
 * Pending abuse counts are bounded per rule: a flood of targets for one rule (invented tool names) fills
 * only that rule's budget, so another rule (failed logins per address) keeps counting.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_TARGETS, PendingCounts } from '../../../src/abuse/pending-counts.js';
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
    expect(p.drain()).toHaveLength(MAX_PENDING_TARGETS + 1);
    expect(p.add(calls, 'alice:one-more', who, 1, 0)).toBe(true);
  });
});
