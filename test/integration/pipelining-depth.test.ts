/**
 * HTTP/1.1 pipelining depth through a real sidecar in front of the example MCP server (stateless): Node
 * hands every request of a pipeline to the sidecar at once, so a connection may have at most
 * `MAX_PIPELINED_REQUESTS` waiting behind the one being answered. The next is refused 503 `ERR_SERVER_BUSY`
 * unstarted (never decided, never forwarded) and the connection is closed after its reply.
 *
 * @module
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_PIPELINED_REQUESTS } from '../../src/server/pipelined.js';
import { exchange, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let token = '';

beforeAll(async () => {
  h = await startHarness({ upstreamStateless: true });
  token = await h.token({ sub: 'piper', roles: ['user'] });
});

afterAll(async () => {
  await h?.stop();
});

/**
 * Writes a slow call followed by `behind` echo calls in one pipeline, the last asking to close the
 * connection; resolves with everything the sidecar wrote back once it closed the connection.
 */
function pipeline(behind: number): Promise<string> {
  // The first call is answered only after 400 ms: every request behind it is parsed meanwhile, so each
  // waits behind it (the depth the sidecar sees does not depend on how the bytes were split).
  let text = rawToolCall(token, 0, 'slow', { ms: 400 });
  for (let i = 1; i <= behind; i++) {
    text += rawToolCall(token, i, 'echo', { text: `p-${i}` }, i === behind ? 'connection: close\r\n' : '');
  }
  return exchange(h.sidecar.publicUrl, text);
}

const echoed = (): string[] =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call' && c.name === 'echo')
    .map((c) => String(c.arguments?.text));

it(`answers a pipeline of ${MAX_PIPELINED_REQUESTS} requests waiting behind another, all forwarded`, async () => {
  h.upstream.resetCalls();
  const raw = await pipeline(MAX_PIPELINED_REQUESTS);
  expect(statuses(raw)).toEqual(Array(MAX_PIPELINED_REQUESTS + 1).fill(200));
  expect(raw).not.toContain('ERR_SERVER_BUSY');
  expect(echoed()).toHaveLength(MAX_PIPELINED_REQUESTS);
});

it('refuses the requests past the bound unstarted: 503 ERR_SERVER_BUSY, never forwarded, connection closed', async () => {
  h.upstream.resetCalls();
  const logsBefore = h.logs.length;
  const extra = 7;
  // The sidecar closes the connection itself after the first refusal, before the last request's turn.
  const raw = await pipeline(MAX_PIPELINED_REQUESTS + extra);
  const got = statuses(raw);
  expect(got).toEqual([...Array(MAX_PIPELINED_REQUESTS + 1).fill(200), 503]);
  const refusal = raw.slice(raw.lastIndexOf('HTTP/1.1 503'));
  expect(refusal).toMatch(/^connection: close$/im);
  expect(refusal).toMatch(/^retry-after: 1$/im);
  expect(refusal).toContain('"code":"ERR_SERVER_BUSY"');
  expect(refusal).toContain(`more than ${MAX_PIPELINED_REQUESTS} requests wait`);
  // Only the requests within the bound reached the upstream; none past it was decided or forwarded.
  expect(echoed().sort()).toEqual(
    Array.from({ length: MAX_PIPELINED_REQUESTS }, (_, i) => `p-${i + 1}`).sort(),
  );
  // The refusal is logged once, with the peer's address: the requests behind it end with the connection.
  const denied = h.logs.slice(logsBefore).filter((l) => l.includes('"code":"ERR_SERVER_BUSY"'));
  expect(denied).toHaveLength(1);
  expect(denied[0]).toContain('"peer_ip":"127.0.0.1"');
});

const echoes = (n: number): string => {
  let text = '';
  for (let i = 1; i <= n; i++) text += rawToolCall(token, i, 'echo', { text: `p-${i}` });
  return text;
};

it('runs nothing pipelined behind a request refused before routing: the connection closes after that reply', async () => {
  h.upstream.resetCalls();
  const logsBefore = h.logs.length;
  // Two Host fields: refused 400 before routing, with `Connection: close`.
  const bad = rawToolCall(token, 0, 'slow', { ms: 400 }, 'host: y\r\n');
  const raw = await exchange(h.sidecar.publicUrl, bad + echoes(5));
  expect(statuses(raw)).toEqual([400]);
  expect(raw).toMatch(/^connection: close$/im);
  // The calls behind it were never answered, so none may have run at the upstream.
  expect(h.upstream.calls()).toEqual([]);
  expect(h.logs.slice(logsBefore).filter((l) => l.includes('"msg":"request denied"'))).toHaveLength(1);
});

it('runs nothing pipelined behind a request asking to close the connection (RFC 9112 §9.6)', async () => {
  h.upstream.resetCalls();
  const last = rawToolCall(token, 0, 'slow', { ms: 400 }, 'connection: close\r\n');
  const raw = await exchange(h.sidecar.publicUrl, last + echoes(5));
  // Node's parser refuses the bytes after it (400, the connection cut): the calls there never start.
  expect(statuses(raw)).toEqual([400]);
  expect(echoed()).toEqual([]);
});
