/**
 * `answerClientErrors` on a real `node:http` server: what Node's HTTP server refuses before any request object
 * exists is answered with a JSON-RPC error, counted and logged; what it refuses while a request is under way,
 * or what is no request (a connection that never sent a byte, a client leaving mid-head), is left as Node does
 * it. The sidecar's own server waits `server.headersTimeoutMs` (10 s) for a head, checked once a second
 * (`serverTimeouts`); this one 200 ms, checked every 50 ms. A 408 is counted with the head timeout as its
 * duration, a malformed head with the time since its connection was accepted (0 after a kept-alive request).
 * The other refusals (a malformed head, one over 16 KiB) are in
 * `test/integration/accounting.test.ts`, the sidecar's own 408 in `test/integration/head-timeout.test.ts`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerClientErrors, serverTimeouts } from '../../../src/server/client-errors.js';
import { captureLogger } from '../../helpers/sidecar.js';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

interface Served {
  readonly port: number;
  readonly counted: number[];
  /** The duration each was counted with, in seconds. */
  readonly durations: number[];
  readonly logs: string[];
  /** The error Node closed each request's connection with (`socket.errored`), by the time it closed. */
  readonly closedWith: unknown[];
}

/** A server answering each request once its body is in, with `answerClientErrors` (or Node's own behaviour). */
async function serve(onRequest?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const counted: number[] = [];
  const durations: number[] = [];
  const logs: string[] = [];
  const closedWith: unknown[] = [];
  const s = createServer(
    { headersTimeout: 200, requestTimeout: 400, connectionsCheckingInterval: 50 },
    (req, res) => {
      req.on('close', () => closedWith.push((req.socket.errored as { code?: unknown } | null)?.code));
      if (onRequest) onRequest(req, res);
      else req.resume().on('end', () => res.end('ok'));
    },
  );
  answerClientErrors(s, {
    logger: captureLogger(logs),
    count: (status, seconds) => {
      counted.push(status);
      durations.push(seconds);
    },
  });
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as AddressInfo).port, counted, durations, logs, closedWith };
}

/** Sends `writes` (`end` half-closes after them) and resolves with all read once the server closes. */
function exchange(port: number, writes: string[], end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      for (const w of writes) socket.write(w);
      if (end) socket.end();
    });
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

const body = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as unknown;

describe('serverTimeouts', () => {
  it("checks heads once a second (Node's default is every 30 s), or as often as a shorter head timeout", () => {
    expect(serverTimeouts(10_000)).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      connectionsCheckingInterval: 1_000,
    });
    expect(serverTimeouts(200)).toMatchObject({ headersTimeout: 200, connectionsCheckingInterval: 200 });
  });
});

describe('answerClientErrors', () => {
  it('answers a head not in within headersTimeout with 408 ERR_REQUEST_TIMEOUT, counted and logged', async () => {
    const s = await serve();
    const answer = await exchange(s.port, ['POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc']);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/);
    expect(body(answer)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: "Request Timeout: the request's header fields did not arrive within 0.2 s",
        data: { code: 'ERR_REQUEST_TIMEOUT' },
      },
    });
    expect(s.counted).toEqual([408]);
    // The time Node waited for the head: its timeout (it checks every 50 ms here), not an unknown 0.
    expect(s.durations).toEqual([0.2]);
    expect(s.logs.map((l) => JSON.parse(l) as unknown)).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request denied',
        code: 'ERR_REQUEST_TIMEOUT',
        reason: 'request',
        status: 408,
        node_code: 'ERR_HTTP_REQUEST_TIMEOUT',
        peer_ip: '127.0.0.1',
      }),
    ]);
  });

  it('answers a malformed head after a kept-alive request on its own', async () => {
    const s = await serve();
    const answer = await exchange(s.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HT']);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(s.counted).toEqual([408]);
  });

  it('counts a malformed head, its connection’s first, with the time since the connection was accepted', async () => {
    const s = await serve();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1', () => {
        // The time measured, not a wait for an event: the head comes 100 ms after the connection.
        setTimeout(() => socket.write('B@D / HTTP/1.1\r\nHost: x\r\n\r\n'), 100);
      });
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(s.counted).toEqual([400]);
    expect(s.durations[0]).toBeGreaterThanOrEqual(0.09);
    expect(s.durations[0]).toBeLessThan(5);
  });

  it('counts a malformed head after a kept-alive request with 0: when it began is not known', async () => {
    const s = await serve();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => {
        // Once the first reply is in (not pipelined: that reply would be the malformed one's answer).
        if (text === '') socket.write('B@D / HTTP/1.1\r\n\r\n');
        text += d.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*HTTP\/1\.1 400 Bad Request\r\n/);
    expect(s.counted).toEqual([400]);
    expect(s.durations).toEqual([0]);
  });

  it('leaves a connection that never sent a byte to Node: its bare 408, no count, no line', async () => {
    const s = await serve();
    expect(await exchange(s.port, [])).toBe('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    expect(s.counted).toEqual([]);
    expect(s.logs).toEqual([]);
  });

  it('leaves a client ending its connection mid-head to Node (it left): no count', async () => {
    const s = await serve();
    expect(await exchange(s.port, ['GET / HTTP/1.1\r\nHo'], true)).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
    expect(s.counted).toEqual([]);
  });

  it("leaves errors mid-body to Node's own answer, which the request reads back from its socket", async () => {
    const s = await serve((req) => req.resume());
    const head = 'POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(await exchange(s.port, [`${head}5\r\n{"a":\r\nzz\r\n`])).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
    expect(await exchange(s.port, [`${head}5\r\n{"a":\r\n`])).toBe(
      'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
    );
    expect(s.counted).toEqual([]);
    expect(s.closedWith).toEqual(['HPE_INVALID_CHUNK_SIZE', 'ERR_HTTP_REQUEST_TIMEOUT']);
  });

  it('leaves a malformed request pipelined behind a reply still owed to Node: that reply is its answer', async () => {
    let owed: ServerResponse | undefined;
    const s = await serve((req, res) => {
      req.resume();
      owed = res;
    });
    const answer = await exchange(s.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n']);
    expect(answer).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    expect(owed?.headersSent).toBe(false);
    expect(s.counted).toEqual([]);
  });
});
