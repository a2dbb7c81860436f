// BUG REPRO — not committed. See the report: src/mcp/list-filter.ts L38 (doc) vs L41/L43 (code).
import { describe, expect, it } from 'vitest';
import { filterListResult } from '../../../src/mcp/list-filter.js';

const nothingVisible = () => false;

describe('filterListResult (bug)', () => {
  it('BUG: a tools/list result whose tools field is not an array is emptied, not passed through', () => {
    const result = { tools: { secret_admin: { description: 'drop all tables' } } };
    const out = filterListResult('tools/list', result, nothingVisible);
    expect(JSON.stringify(out.result)).not.toContain('secret_admin');
  });

  it('BUG: a non-object tools/list result is emptied, not passed through', () => {
    const out = filterListResult('tools/list', ['secret_admin'], nothingVisible);
    expect(JSON.stringify(out.result)).not.toContain('secret_admin');
  });
});
