/**
 * Tests of `connectionClosed` (src/errors/errors.ts): the error of a request whose connection closed says what
 * happened. The client gone: 499. Node's HTTP server refusing the connection mid-body: its answer, the body's
 * fault. Node refusing what came after a request that had arrived whole (a request pipelined behind it, whose
 * answer the client reads as this one's): its answer, saying it was the request behind.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { connectionClosed } from '../../../src/errors/errors.js';

const closedWith = (code: string) => ({ errored: Object.assign(new Error('node'), { code }) });
/** A request on `socket`, arrived whole or not. */
const on = (socket: { readonly errored?: unknown } | null, complete = false) => ({ socket, complete });

describe('connectionClosed', () => {
  it('is the client gone when Node did not close the connection, or its client ended it mid-request', () => {
    for (const socket of [null, {}, closedWith('ECONNRESET'), closedWith('HPE_INVALID_EOF_STATE')]) {
      for (const whole of [false, true]) {
        expect(connectionClosed(on(socket, whole), 'after x')).toMatchObject({
          code: 'ERR_CLIENT_CLOSED',
          message: 'Client Closed Request: the connection closed after x',
        });
      }
    }
  });

  it('blames the body when Node refused the request before it had arrived whole', () => {
    expect(connectionClosed(on(closedWith('HPE_INVALID_CHUNK_SIZE')), 'before x')).toMatchObject({
      code: 'ERR_REQUEST_FRAMING',
      message:
        "Bad Request: the body's HTTP framing is broken, HPE_INVALID_CHUNK_SIZE (answered by Node's HTTP server)",
    });
    expect(connectionClosed(on(closedWith('HPE_HEADER_OVERFLOW')), 'before x').message).toBe(
      "Request Header Fields Too Large: the trailer fields are too large (answered by Node's HTTP server)",
    );
  });

  it('names the request pipelined behind when the request had arrived whole (no word of its body)', () => {
    const cases = [
      ['HPE_INVALID_METHOD', 'ERR_REQUEST_FRAMING', 'Bad Request'],
      ['HPE_HEADER_OVERFLOW', 'ERR_REQUEST_HEADERS', 'Request Header Fields Too Large'],
      ['ERR_HTTP_REQUEST_TIMEOUT', 'ERR_REQUEST_TIMEOUT', 'Request Timeout'],
    ] as const;
    for (const [node, code, status] of cases) {
      const e = connectionClosed(on(closedWith(node), true), 'after x');
      expect(e.code).toBe(code);
      expect(e.message).toBe(
        `${status}: Node's HTTP server refused the request pipelined behind this one on its connection, ${node}, answered it and closed the connection; the client reads that answer as this request's reply`,
      );
    }
  });
});
