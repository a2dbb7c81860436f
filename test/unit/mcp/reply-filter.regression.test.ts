/**
 * Regression test: a pending reply whose `"result"` key is written with a JSON escape is still pruned.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { idKey, ReplyFilter } from '../../../src/mcp/reply-filter.js';

describe('ReplyFilter.rewriteEvent (regressions)', () => {
  it('prunes a pending reply whose "result" key is written with a JSON escape', () => {
    const filter = new ReplyFilter(
      new Map([[idKey(1), 'tools/list']]),
      false,
      () => false,
      new AnnotationCache(),
    );
    const data = '{"jsonrpc":"2.0","id":1,"\\u0072esult":{"tools":[{"name":"secret_admin"}]}}';
    expect(JSON.parse(data).result.tools).toHaveLength(1); // the same reply as {"result":…}
    expect(filter.rewriteEvent({ data })).not.toContain('secret_admin'); // rewriteJson(data) does prune it
  });
});
