import { describe, expect, it } from 'vitest';
import type { JsonRpcId } from '../../../src/mcp/action.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';
import type { ListMethod } from '../../../src/mcp/list-filter.js';
import { idKey } from '../../../src/mcp/reply-filter.js';
import { MAX_FOLLOWED_ID_CHARS, MAX_FOLLOWED_IDS, ToolListIds } from '../../../src/mcp/tool-list-ids.js';

const request = (id: JsonRpcId, method: string): JsonRpcMessage => ({
  kind: 'request',
  id,
  method,
  params: {},
});

/** Sends `messages` as one POST whose allowed list requests are `methods`' list methods. */
function send(ids: ToolListIds, ...messages: JsonRpcMessage[]): string[] {
  const lists = new Map<string, ListMethod>();
  for (const m of messages) {
    if (m.kind === 'request' && m.method.endsWith('/list')) lists.set(idKey(m.id), m.method as ListMethod);
  }
  return ids.sent(messages, lists);
}

describe('ToolListIds', () => {
  it('tells the one response under a tools/list id the session sent, and no other', () => {
    const ids = new ToolListIds(() => 0);
    send(ids, request(1, 'tools/list'), request(2, 'tools/call'), request(3, 'prompts/list'));
    expect(ids.answered(2)).toBe(false);
    expect(ids.answered(3)).toBe(false);
    expect(ids.answered(null)).toBe(false);
    expect(ids.answered([1])).toBe(false);
    expect(ids.answered(1)).toBe(true);
    // A second response under the id answers nothing, under either spelling.
    expect(ids.answered(1)).toBe(false);
    expect(ids.answered('1')).toBe(false);
  });

  it('does not take a tools/list the policy refused (absent from the lists) for one', () => {
    const ids = new ToolListIds(() => 0);
    ids.sent([request(1, 'tools/list')], new Map());
    expect(ids.answered(1)).toBe(false);
  });

  it('lets an id be used again once its response passed', () => {
    const ids = new ToolListIds(() => 0);
    send(ids, request(7, 'tools/call'));
    expect(ids.answered(7)).toBe(false);
    send(ids, request(7, 'tools/list'));
    expect(ids.answered(7)).toBe(true);
    expect(ids.following).toBe(true);
  });

  it.each([
    ['the list first', ['tools/list', 'tools/call']],
    ['the call first', ['tools/call', 'tools/list']],
  ])('teaches nothing more once an id awaiting its response is sent again (%s)', (_order, methods) => {
    const ids = new ToolListIds(() => 0);
    send(ids, request(7, methods[0] as string));
    send(ids, request(7, methods[1] as string));
    expect(ids.following).toBe(false);
    expect(ids.answered(7)).toBe(false);
    expect(ids.answered(7)).toBe(false);
    send(ids, request(8, 'tools/list'));
    expect(ids.answered(8)).toBe(false);
  });

  it.each([
    [1, '1'],
    ['1', 1],
  ])('takes %j and %j for one id: sending both is a reuse', (list, call) => {
    // An upstream writing ids back as the other type would answer the call under the list's id.
    const ids = new ToolListIds(() => 0);
    send(ids, request(list, 'tools/list'));
    send(ids, request(call, 'tools/call'));
    expect(ids.following).toBe(false);
    expect(ids.answered(list)).toBe(false);
    expect(ids.answered(call)).toBe(false);
  });

  it('takes a response under the other spelling of an id for its answer', () => {
    const ids = new ToolListIds(() => 0);
    send(ids, request(1, 'tools/list'));
    expect(ids.answered('1')).toBe(true);
    expect(ids.answered(1)).toBe(false);
  });

  it('teaches nothing more after an id longer than it follows', () => {
    const ids = new ToolListIds(() => 0);
    send(ids, request('x'.repeat(MAX_FOLLOWED_ID_CHARS + 1), 'tools/list'));
    expect(ids.following).toBe(false);
    const short = new ToolListIds(() => 0);
    send(short, request('x'.repeat(MAX_FOLLOWED_ID_CHARS), 'tools/list'));
    expect(short.answered('x'.repeat(MAX_FOLLOWED_ID_CHARS))).toBe(true);
  });

  it('teaches nothing more once more requests than it follows await their responses', () => {
    const ids = new ToolListIds(() => 0);
    for (let i = 0; i < MAX_FOLLOWED_IDS; i++) send(ids, request(i, 'tools/call'));
    expect(ids.following).toBe(true);
    send(ids, request('list', 'tools/list'));
    expect(ids.following).toBe(false);
    expect(ids.answered('list')).toBe(false);
  });

  it('forgets the requests of a POST the upstream never had', () => {
    const ids = new ToolListIds(() => 0);
    const noted = send(ids, request(1, 'tools/list'), { kind: 'notification', method: 'n', params: {} });
    expect(noted).toEqual(['1']);
    ids.unsent(noted);
    // Sent again (not an id reused while awaiting), and answered as a list.
    send(ids, request(1, 'tools/list'));
    expect(ids.following).toBe(true);
    expect(ids.answered(1)).toBe(true);
  });

  it('does not take the reply to a tools/list sent before the upstream said its tools changed', () => {
    let generation = 0;
    const ids = new ToolListIds(() => generation);
    send(ids, request(1, 'tools/list'));
    generation++;
    send(ids, request(2, 'tools/list'));
    expect(ids.answered(1)).toBe(false);
    expect(ids.answered(2)).toBe(true);
    // Still following: the session's later lists teach.
    send(ids, request(3, 'tools/list'));
    expect(ids.answered(3)).toBe(true);
  });
});
