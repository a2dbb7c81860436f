/**
 * Several `Authorization` lines on one request, end to end through a running sidecar: Node keeps the first
 * in `req.headers`, while a proxy in front may have used the last; the request is refused (400
 * `invalid_request`, RFC 6750 §3.1) and never reaches the upstream, whichever line carries a valid token.
 *
 * @module
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

/** Sends `lines` as the request's header lines over a raw socket (fetch would join them) and reads the reply. */
function rawPost(url: string, lines: string[], body: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      reply += chunk;
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.write(
      [
        `POST ${u.pathname} HTTP/1.1`,
        `Host: ${u.host}`,
        'Content-Type: application/json',
        'Accept: application/json, text/event-stream',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        ...lines,
        '',
        body,
      ].join('\r\n'),
    );
  });
}

it('refuses a request with two Authorization lines as invalid_request, whichever one is valid', async () => {
  const analyst = await h.token({ roles: ['analyst'] });
  const admin = await h.token({ roles: ['admin'] });
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  h.upstream.resetCalls();
  for (const lines of [
    [`Authorization: Bearer ${analyst}`, `Authorization: Bearer ${admin}`],
    [`Authorization: Bearer ${analyst}`, 'authorization: Basic dXNlcjpwYXNz'],
  ]) {
    const reply = await rawPost(h.mcpUrl, lines, body);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toMatch(/invalid_request/);
  }
  expect(h.upstream.calls()).toEqual([]);
  // One line with the same token is served: the refusal is for the second line, not the token.
  const one = await rawPost(h.mcpUrl, [`Authorization: Bearer ${analyst}`], body);
  expect(one).toMatch(/^HTTP\/1\.1 200 /);
});
