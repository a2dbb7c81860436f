/**
 * A batch (or an SSE event carrying one) of which one reply is rewritten: the other replies pass as the
 * upstream wrote them, not re-serialised, so an integer beyond 2^53 in them reaches the client unrounded.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { idKey, ReplyFilter } from '../../../src/mcp/reply-filter.js';

const listReply = '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"open"},{"name":"secret_admin"}]}}';
/** A tool's result holding an integer a double cannot hold (JSON.parse reads …992). */
const bigReply = '{ "jsonrpc": "2.0", "id": 2, "result": {"account": 9007199254740993} }';
const updated =
  '{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"crm://secret"}}';

function filter(notifications?: (method: string) => boolean): ReplyFilter {
  return new ReplyFilter(
    new Map([[idKey(1), 'tools/list']]),
    false,
    (item) => !item.name.startsWith('secret'),
    new AnnotationCache(),
    notifications ? { notifications } : {},
  );
}

describe('ReplyFilter on a batch with one reply rewritten', () => {
  it('passes the JSON body’s other replies as written', () => {
    const out = filter().rewriteJson(`[${listReply}, ${bigReply}]`) ?? '';
    expect(out).not.toContain('secret_admin');
    expect(out).toContain(bigReply);
    expect(JSON.parse(out)[0].result.tools).toEqual([{ name: 'open' }]);
  });

  it('passes an SSE event’s other messages as written, a refused notification dropped', () => {
    const out = filter((m) => m !== 'notifications/resources/updated').rewriteEvent({
      data: `[${updated},${listReply},\n${bigReply}]`,
    });
    expect(out).not.toContain('secret_admin');
    expect(out).not.toContain('crm://secret');
    expect(out).toContain(bigReply);
    expect(JSON.parse(out ?? '')).toHaveLength(2);
  });
});
