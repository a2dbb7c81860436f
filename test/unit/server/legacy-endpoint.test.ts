import { describe, expect, it } from 'vitest';
import { legacyEndpoint } from '../../../src/server/legacy-endpoint.js';

const ORIGIN = 'http://127.0.0.1:8081';

describe('legacyEndpoint', () => {
  it.each([
    [
      'the TypeScript SDK',
      '/messages?sessionId=abc-1',
      { sessionId: 'abc-1', path: '/messages?sessionId=abc-1' },
    ],
    [
      'the Python SDK',
      '/messages/?session_id=9f3e',
      { sessionId: '9f3e', path: '/messages/?session_id=9f3e' },
    ],
    [
      'an absolute URL',
      'http://127.0.0.1:8081/m?x=1&sessionId=s%202 ',
      { sessionId: 's 2', path: '/m?x=1&sessionId=s%202' },
    ],
  ])("reads the session of %s's endpoint event", (_label, data, want) => {
    expect(legacyEndpoint(data, ORIGIN)).toEqual(want);
  });

  it.each([
    ['a bare query (the Kotlin SDK)', '?sessionId=k-1', '/v1/sse?sessionId=k-1'],
    ['a path relative to the stream', 'messages?sessionId=k-1', '/v1/messages?sessionId=k-1'],
  ])('resolves %s against the stream URL', (_label, data, path) => {
    expect(legacyEndpoint(data, `${ORIGIN}/v1/sse`)).toEqual({ sessionId: 'k-1', path });
  });

  it.each([['/messages'], ['/messages?sessionId='], ['/messages?sid=1'], ['http://[bad']])(
    'finds no session in %s',
    (data) => {
      expect(legacyEndpoint(data, ORIGIN)).toBeUndefined();
    },
  );
});
