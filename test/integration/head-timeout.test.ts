/**
 * `server.headersTimeoutMs` on a real sidecar, through a real socket: a client that sends part of a request
 * head and then nothing is answered 408 `ERR_REQUEST_TIMEOUT` (a JSON-RPC error naming the timeout) once the
 * configured time has passed, and its connection closed; the request is counted on route `bad_request` with
 * the head timeout as its duration (the time Node waited, not an unknown 0). The test waits for the socket's
 * own events; with the head timeout or Node's check interval not taken from the config (10 s, checked every
 * 30 s), it would run into the test timeout.
 *
 * @module
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: { server: { headersTimeoutMs: 200 } } });
});
afterAll(async () => {
  await h?.stop();
});

/** Writes `head` on a new connection and resolves with all it read once the sidecar closed it. */
function partialHead(head: string): Promise<string> {
  const url = new URL(h.sidecar.publicUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(head));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

/** The value of the first Prometheus sample of `name` whose labels include `labels`. */
async function sample(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('server.headersTimeoutMs', () => {
  it('answers a head not in within it with 408, closes the connection, and counts it with that duration', async () => {
    const answer = await partialHead('POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc');
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message: "Request Timeout: the request's header fields did not arrive within 0.2 s",
        data: { code: 'ERR_REQUEST_TIMEOUT' },
      },
    });
    expect(await sample('mcp_authz_requests_total', 'route="bad_request"')).toBe(1);
    expect(await sample('mcp_authz_requests_total', 'status="408"')).toBe(1);
    expect(await sample('mcp_authz_request_duration_seconds_sum', 'route="bad_request"')).toBe(0.2);
  });
});
