/**
 * HTTP/1.1 pipelining and the re-checks of an event stream, through a real sidecar in front of the example
 * MCP server: a GET stream pipelined behind a slow call is counted and re-checked from the moment it is
 * decided, before its reply has the connection. When its caller's token is revoked meanwhile, the re-check
 * cuts it while it still waits for its turn. Its reply can then never be sent: neither it nor the call
 * pipelined behind it may go upstream, and the connection must close once the slow call's reply is out —
 * Node 24 hands the connection to the cut reply, which writes nothing more, and would hold it for ever, the
 * call behind waiting for a turn that never comes.
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openSession } from '../helpers/http.js';
import { rawConnection, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    config: { server: { streamRecheckMs: 50 }, store: { revocationPollIntervalMs: 50 } },
  });
});

afterAll(async () => {
  await h?.stop();
});

it('closes the connection at the turn of a GET stream its re-check cut while queued; nothing behind runs', async () => {
  const token = await h.token({ sub: 'revoked-piper', roles: ['user'] });
  const sid = `mcp-session-id: ${await openSession(h.mcpUrl, token)}\r\n`;
  h.upstream.resetCalls();
  const c = rawConnection(h.sidecar.publicUrl);
  const get =
    `GET /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n${sid}` +
    'mcp-protocol-version: 2025-06-18\r\naccept: text/event-stream\r\n\r\n';
  // The GET waits behind the slow call, re-checked meanwhile; an echo call waits behind the GET.
  c.write(
    rawToolCall(token, 2, 'slow', { ms: 1_000 }, sid) +
      get +
      rawToolCall(token, 3, 'echo', { text: 'behind' }, sid),
  );
  await until(5_000, async () => h.upstream.calls().some((call) => call.name === 'slow'));
  const { jti, exp } = decodeJwt(token);
  await h.sidecar.store.revokeToken(jti as string, exp as number);
  await until(5_000, async () =>
    h.logs.some((l) => l.includes('event stream ended') && l.includes('ERR_AUTHN_REVOKED')),
  );
  const got = await settlesWithin(5_000, c.closed, 'the connection closing after the slow reply');
  expect(statuses(got)).toEqual([200]);
  expect(h.upstream.httpRequests().filter((r) => r.method === 'GET')).toEqual([]);
  expect(h.upstream.calls().filter((call) => call.name === 'echo')).toEqual([]);
});
