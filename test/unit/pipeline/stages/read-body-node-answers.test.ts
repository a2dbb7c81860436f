/**
 * The read-body stage on a real `node:http` server when Node's HTTP server gives up on a request itself: a
 * body not in within the server's `requestTimeout` is answered 408 by Node (which closes the connection), and
 * the stage's denial says so — what logs, metrics and traces record — instead of a client that went away
 * (499). The sidecar's own server has a 30 s timeout; this one has 200 ms, checked every 50 ms. A request that
 * had arrived whole, its connection closed by Node's 400 to a malformed request pipelined behind it before
 * the stage ran (an earlier stage waited: a JWKS fetch, a session lookup), is denied saying so, not blaming
 * its body.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { StageResult } from '../../../../src/pipeline/stage.js';
import { readBodyStage } from '../../../../src/pipeline/stages/read-body.js';
import { contextFor, signal } from '../fake-request.js';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

describe('readBodyStage when Node answers the request itself', () => {
  it('denies a body that did not arrive within requestTimeout as Node answered it: 408', async () => {
    let result: Promise<StageResult> | undefined;
    const s = createServer({ requestTimeout: 200, connectionsCheckingInterval: 50 }, (req) => {
      result = Promise.resolve(readBodyStage(1024).run(contextFor(req), signal));
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        const head =
          'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
        socket.write(`${head}{"jsonrpc":`);
      });
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(await result).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_REQUEST_TIMEOUT', status: 408, reason: 'request' },
    });
  });

  it('says a request that had arrived whole was refused for the malformed request pipelined behind it', async () => {
    let result: Promise<StageResult> | undefined;
    let ran: () => void = () => undefined;
    const stageRan = new Promise<void>((r) => {
      ran = r;
    });
    const s = createServer((req) => {
      // An earlier stage still at work when Node closes the connection: the stage runs once it has closed.
      req.socket.once('close', () => {
        result = Promise.resolve(readBodyStage(1024).run(contextFor(req), signal));
        ran();
      });
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
        socket.write(
          `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
            'BAD REQUEST LINE\r\n\r\n',
        );
      });
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    await stageRan;
    const denied = await result;
    expect(denied).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_FRAMING', status: 400 } });
    const message = denied?.kind === 'deny' ? denied.error.message : '';
    expect(message).toContain('the request pipelined behind this one');
    expect(message).not.toContain("the body's HTTP framing");
  });
});
