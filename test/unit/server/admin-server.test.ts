/**
 * The admin listener answers what it cannot parse instead of throwing: a request target that is no valid
 * URL (`GET //[`) got an uncaught TypeError, which ends the sidecar (and with it the pod's public port). Its
 * timeouts are the public listener's defaults, checked as often.
 *
 * @module
 */
import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer } from '../../../src/server/admin-server.js';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createAdminServer({ components: [{ name: 'policy', status: () => ({ state: 'ok' }) }] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/** Sends one raw HTTP/1.1 request and returns the status line. */
function raw(requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (c) => {
      text += c.toString();
    });
    socket.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('admin listener', () => {
  it('times heads and requests out as the public listener does by default, checked once a second', () => {
    // Node's own check, every 30 s, let a slow head hold a connection for up to 40 s.
    const checked = server as Server & { readonly connectionsCheckingInterval: number };
    expect([server.headersTimeout, server.requestTimeout, checked.connectionsCheckingInterval]).toEqual([
      10_000, 30_000, 1_000,
    ]);
  });

  it.each(['GET //[ HTTP/1.1', 'GET //%zz HTTP/1.1', 'GET http://[/ HTTP/1.1'])(
    'answers %s with 400 and keeps serving',
    async (line) => {
      expect(await raw(line)).toBe('HTTP/1.1 400 Bad Request');
      expect(await raw('GET /healthz HTTP/1.1')).toBe('HTTP/1.1 200 OK');
    },
  );

  it('answers other methods with 405 and Allow: GET, HEAD', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});
