/**
 * The status of a decided request that never reached the upstream because its connection closed first
 * (src/server/pipelined.ts `unforwardedStatus`), on a real `node:http` server: the client leaving is 499; Node's
 * HTTP server answering a malformed request pipelined behind it (a 400 the client reads as this request's reply)
 * and closing the connection is recorded as that 400, as a call forwarded before the close already is.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageDecision, RequestContext } from '../../../src/pipeline/context.js';
import {
  CLIENT_GONE_REASON,
  NODE_ANSWERED_REASON,
  unforwardedStatus,
} from '../../../src/server/pipelined.js';
import { contextFor } from '../pipeline/fake-request.js';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

const BODY = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const POST = `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;

/**
 * Sends `bytes` on one connection (closing its side after them when `leave`), and resolves with what the
 * server's `unforwardedStatus` made of the first request once its connection had closed, and what the client read.
 */
async function afterClose(bytes: string, leave: boolean) {
  let seen: (v: { status: number; ctx: RequestContext }) => void = () => undefined;
  const outcome = new Promise<{ status: number; ctx: RequestContext }>((r) => {
    seen = r;
  });
  let first = true;
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!first) return;
    first = false;
    // Its stages still at work when the connection closes: found unforwarded once it has.
    req.socket.once('close', () => {
      const ctx = contextFor(req);
      ctx.decisions.push({
        index: 0,
        decisionId: 'd1',
        action: { method: 'ping' },
        decision: { allow: true, reasons: [], obligations: {} },
      } as unknown as MessageDecision);
      seen({ status: unforwardedStatus(ctx, res), ctx });
    });
  });
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (leave) socket.destroy();
    });
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
  return { answer, ...(await outcome) };
}

describe('unforwardedStatus when the connection closed before the forward', () => {
  it("records Node's 400 to a malformed request pipelined behind it as 400, not 499", async () => {
    const { answer, status, ctx } = await afterClose(`${POST}BAD REQUEST LINE\r\n\r\n`, false);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(status).toBe(400);
    expect(ctx.refusedLate).toMatchObject({ code: 'ERR_REQUEST_FRAMING', status: 400 });
    expect(ctx.refusedLate?.message).toContain('the request pipelined behind this one');
    expect(ctx.decisions[0]?.lateRefusal).toEqual({
      code: 'ERR_REQUEST_FRAMING',
      reason: NODE_ANSWERED_REASON,
    });
  });

  it('records a client that left as 499', async () => {
    const { status, ctx } = await afterClose(POST, true);
    expect(status).toBe(499);
    expect(ctx.refusedLate).toMatchObject({ code: 'ERR_CLIENT_CLOSED' });
    expect(ctx.decisions[0]?.lateRefusal).toEqual({ code: 'ERR_CLIENT_CLOSED', reason: CLIENT_GONE_REASON });
  });
});
