/**
 * A malformed request pipelined behind a call the upstream already has: Node's HTTP server refuses the bytes
 * (a bare 400, written as the connection's next reply, which the client reads as the call's answer) and closes
 * the connection. The call is recorded with that status — 400, reason `request` — not as a client that went
 * away (499). Real parts: the sidecar, a raw upstream (it answers the sidecar's tool discovery, and holds the
 * call unanswered: no reply header has gone out when Node answers), raw HTTP/1.1 on one connection.
 *
 * @module
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rawConnection, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type RawUpstream, rawReply, rawUpstream } from '../helpers/raw-upstream.js';
import type { ExampleServer } from '../helpers/sidecar.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
let up: RawUpstream;
let token = '';

/** A JSON-RPC result under the id of `body`'s request, as a JSON reply. */
function result(body: string, value: unknown, headers: [string, string][] = []): string {
  const id = (JSON.parse(body) as { id: unknown }).id;
  const json = JSON.stringify({ jsonrpc: '2.0', id, result: value });
  return rawReply(
    '200 OK',
    [['content-type', 'application/json'], ['content-length', String(Buffer.byteLength(json))], ...headers],
    json,
  );
}

beforeAll(async () => {
  up = await rawUpstream((req, socket) => {
    const method = req.body ? (JSON.parse(req.body) as { method?: string }).method : undefined;
    if (method === 'tools/call') return; // held: never answered
    if (method === 'initialize') {
      const info = {
        protocolVersion: '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'raw', version: '1' },
      };
      socket.write(result(req.body, info, [['mcp-session-id', 'discovery']]));
    } else if (method === 'tools/list') {
      const annotations = { readOnlyHint: true, destructiveHint: false };
      socket.write(
        result(req.body, { tools: [{ name: 'hold', inputSchema: { type: 'object' }, annotations }] }),
      );
    } else socket.write(rawReply('202 Accepted', [['content-length', '0']]));
  });
  h = await startHarness({ upstream: { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer });
  token = await h.token({ sub: 'pipeliner', roles: ['user'] });
});

afterAll(async () => {
  await h?.stop();
  await up?.close();
});

/** The sum of the counters at the admin port's /metrics whose series starts with `prefix` (0 when none). */
async function counter(prefix: string): Promise<number> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(prefix));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const BAD_REQUEST = 'mcp_authz_requests_total{route="mcp",status="400",reason="request"}';
const CLIENT_CLOSED = 'mcp_authz_requests_total{route="mcp",status="499",';

it('records the call with the 400 Node answered on its connection, not as its client gone', async () => {
  const [badBefore, goneBefore] = [await counter(BAD_REQUEST), await counter(CLIENT_CLOSED)];
  const c = rawConnection(h.sidecar.publicUrl);
  c.write(rawToolCall(token, 1, 'hold', {}));
  await until(5_000, async () => up.requests.some((r) => r.body.includes('"tools/call"')));
  // A request line Node's parser refuses (HPE_INVALID_METHOD), behind the call it already forwarded.
  c.write('B@D / HTTP/1.1\r\nhost: x\r\n\r\n');
  const raw = await c.closed;
  expect(statuses(raw)).toEqual([400]);
  await until(5_000, async () => (await counter(BAD_REQUEST)) > badBefore);
  expect(await counter(BAD_REQUEST)).toBe(badBefore + 1);
  expect(await counter(CLIENT_CLOSED)).toBe(goneBefore);
});
