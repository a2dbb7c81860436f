import { describe, expect, it } from 'vitest';
import { chargedUndecided, MAX_SERVER_REQUESTS, ServerRequestIds } from '../../../src/mcp/server-requests.js';

const responses = (...ids: (string | number)[]) => ({
  batch: ids.length > 1,
  messages: ids.map((id) => ({ kind: 'response', id }) as const),
});

describe('server requests and the responses answering them', () => {
  it('frees the first response answering a request the server sent; charges notifications and other responses', () => {
    const ids = new ServerRequestIds();
    ids.note({ jsonrpc: '2.0', id: 1, method: 'elicitation/create', params: {} });
    ids.note([
      { jsonrpc: '2.0', id: 'p', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/progress' }, // no id: nothing to answer
      { jsonrpc: '2.0', id: 9, result: {} }, // a response: no request of the server's
    ]);
    const body = {
      batch: true,
      messages: [
        { kind: 'response', id: 1 },
        { kind: 'response', id: 1 }, // the same answer twice in one body: the second is charged
        { kind: 'response', id: '1' }, // another id than 1
        { kind: 'response', id: 'p' },
        { kind: 'response', id: 9 },
        { kind: 'notification', method: 'notifications/cancelled', params: {} },
      ],
    } as const;
    expect(chargedUndecided(body, ids)).toBe(4);
    // Counting takes nothing: a body refused (rate limit) leaves the answers free for its retry.
    expect(chargedUndecided(body, ids)).toBe(4);
    expect(chargedUndecided(body, undefined)).toBe(6);
  });

  it('charges an answer once it was forwarded, also when a resumed stream replays the request', () => {
    const ids = new ServerRequestIds();
    const ask = { jsonrpc: '2.0', id: 0, method: 'elicitation/create', params: {} };
    ids.note(ask);
    expect(chargedUndecided(responses(0), ids)).toBe(0);
    ids.answered(responses(0));
    expect(chargedUndecided(responses(0), ids)).toBe(1);
    ids.note(ask); // replayed (Last-Event-ID)
    expect(chargedUndecided(responses(0), ids)).toBe(1);
  });

  it('frees an answer again when the body carrying it was never forwarded, and only the answers it took', () => {
    const ids = new ServerRequestIds();
    ids.note([
      { jsonrpc: '2.0', id: 0, method: 'elicitation/create', params: {} },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
    ]);
    expect(ids.answered(responses(1))).toEqual(['1']);
    // A body answering 0, and 1 again (answered by the body before): it takes only 0's answer.
    const taken = ids.answered(responses(0, 1));
    expect(taken).toEqual(['0']);
    ids.unanswered(taken ?? []);
    expect(chargedUndecided(responses(0), ids)).toBe(0);
    expect(chargedUndecided(responses(1), ids)).toBe(1);
    expect(ids.answered({ batch: false, messages: [] })).toBeUndefined();
  });

  it(`remembers at most ${MAX_SERVER_REQUESTS} ids a session, forgetting the oldest`, () => {
    const ids = new ServerRequestIds();
    for (let i = 0; i < MAX_SERVER_REQUESTS + 10; i++) ids.note({ id: i, method: 'ping' });
    expect(ids.awaits('0')).toBe(false);
    expect(ids.awaits(String(MAX_SERVER_REQUESTS + 9))).toBe(true);
    expect(ids.awaits('10')).toBe(true);
  });
});
