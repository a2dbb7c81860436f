/**
 * HTTP/1.1 pipelining through a real sidecar in front of the example MCP server: a reply queued behind
 * another on a connection that then closes gets no socket, and Node never closes it. Each must still be
 * released — here a GET stream pipelined behind a slow call, which holds one of its caller's stream slots:
 * with `server.maxStreamsPerCaller` 2, three such connections must not leave the caller refused (429) for
 * good.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openSession } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
let token = '';

beforeAll(async () => {
  h = await startHarness({ config: { server: { maxStreamsPerCaller: 2 } } });
  token = await h.token({ sub: 'piper', roles: ['user'] });
});

afterAll(async () => {
  await h?.stop();
});

async function newSession(): Promise<string> {
  return openSession(h.mcpUrl, token);
}

const head = (sid: string) =>
  `host: x\r\nauthorization: Bearer ${token}\r\nmcp-session-id: ${sid}\r\nmcp-protocol-version: 2025-06-18\r\n`;

/** Writes `text` on a new connection; resolves with the socket once it is connected and written. */
function send(text: string): Promise<Socket> {
  const { port } = new URL(h.sidecar.publicUrl);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(text, () => resolve(s)));
    s.on('error', reject);
  });
}

/** A GET stream of a new session of the caller: its status line. */
async function openGet(): Promise<number> {
  const res = await fetch(h.mcpUrl, {
    headers: {
      ...Object.fromEntries(
        head(await newSession())
          .trim()
          .split('\r\n')
          .map((l) => l.split(': ')),
      ),
      accept: 'text/event-stream',
    },
  });
  await res.body?.cancel();
  return res.status;
}

it('releases a GET stream pipelined behind a slow call once the connection closes: its slot is the caller’s again', async () => {
  for (let i = 0; i < 3; i++) {
    const sid = await newSession();
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'slow', arguments: { ms: 2_000 } },
    });
    const slow = `POST /mcp HTTP/1.1\r\n${head(sid)}content-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const get = `GET /mcp HTTP/1.1\r\n${head(sid)}accept: text/event-stream\r\n\r\n`;
    const streamsBefore = h.upstream.httpRequests().filter((r) => r.method === 'GET').length;
    const socket = await send(slow + get);
    // The sidecar has opened the pipelined GET's stream upstream (its slot is taken): the client leaves.
    await until(
      5_000,
      async () => h.upstream.httpRequests().filter((r) => r.method === 'GET').length > streamsBefore,
    );
    socket.destroy();
  }
  // Two slots, three streams opened and left: each was released with its connection.
  const statuses: number[] = [];
  await until(5_000, async () => statuses.push(await openGet()) > 0 && statuses.at(-1) === 200);
  expect(statuses.at(-1)).toBe(200);
});
