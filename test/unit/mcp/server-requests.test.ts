import { describe, expect, it } from 'vitest';
import {
  chargedUndecided,
  MAX_SERVER_REQUESTS,
  noteServerRequests,
} from '../../../src/mcp/server-requests.js';

describe('server requests and the responses answering them', () => {
  it('frees a response answering a request the server sent, once; charges notifications and other responses', () => {
    const noted = new Set<string>();
    noteServerRequests(noted, { jsonrpc: '2.0', id: 1, method: 'elicitation/create', params: {} });
    noteServerRequests(noted, [
      { jsonrpc: '2.0', id: 'p', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/progress' }, // no id: nothing to answer
      { jsonrpc: '2.0', id: 9, result: {} }, // a response: no request of the server's
    ]);
    expect([...noted]).toEqual(['1', '"p"']);
    const body = {
      batch: true,
      messages: [
        { kind: 'response', id: 1 },
        { kind: 'response', id: '1' }, // another id than 1
        { kind: 'response', id: 'p' },
        { kind: 'notification', method: 'notifications/cancelled', params: {} },
      ],
    } as const;
    expect(chargedUndecided(body, noted)).toBe(2);
    expect(noted.size).toBe(0);
    // Answered once: the same response again is charged.
    expect(chargedUndecided(body, noted)).toBe(4);
    expect(chargedUndecided(body, undefined)).toBe(4);
  });

  it(`remembers at most ${MAX_SERVER_REQUESTS} ids a session, forgetting the oldest`, () => {
    const noted = new Set<string>();
    for (let i = 0; i < MAX_SERVER_REQUESTS + 10; i++) noteServerRequests(noted, { id: i, method: 'ping' });
    expect(noted.size).toBe(MAX_SERVER_REQUESTS);
    expect(noted.has('0')).toBe(false);
    expect(noted.has(String(MAX_SERVER_REQUESTS + 9))).toBe(true);
  });
});
