import { describe, expect, it } from 'vitest';
import type { ListItem } from '../../../src/mcp/list-filter.js';
import { MAX_NAMED_HIDDEN, showAllButReport } from '../../../src/server/dry-run.js';

const tool = (name: string): ListItem => ({ kind: 'tool', name, annotations: undefined });

describe('showAllButReport (policy.dryRun list replies)', () => {
  it('shows every item and reports those the policy would hide once per reply', async () => {
    const reports: Array<{ count: number; names: readonly string[] }> = [];
    const visible = showAllButReport(
      (i) => i.name.startsWith('ok'),
      (r) => reports.push(r),
    );
    // One reply: its items are decided in one synchronous pass.
    expect(['ok-1', 'no-1', 'ok-2', 'no-2'].map((n) => visible(tool(n)))).toEqual([true, true, true, true]);
    await Promise.resolve();
    expect(reports).toEqual([{ count: 2, names: ['tool:no-1', 'tool:no-2'] }]);
    // A later reply of the same stream gets a line of its own; one hiding nothing gets none.
    visible(tool('ok-3'));
    await Promise.resolve();
    visible(tool('no-3'));
    await Promise.resolve();
    expect(reports).toEqual([
      { count: 2, names: ['tool:no-1', 'tool:no-2'] },
      { count: 1, names: ['tool:no-3'] },
    ]);
  });

  it('counts every hidden item but names at most MAX_NAMED_HIDDEN', async () => {
    const reports: Array<{ count: number; names: readonly string[] }> = [];
    const visible = showAllButReport(
      () => false,
      (r) => reports.push(r),
    );
    for (let i = 0; i < MAX_NAMED_HIDDEN + 7; i++) visible(tool(`t${i}`));
    await Promise.resolve();
    expect(reports[0]?.count).toBe(MAX_NAMED_HIDDEN + 7);
    expect(reports[0]?.names).toHaveLength(MAX_NAMED_HIDDEN);
  });
});
