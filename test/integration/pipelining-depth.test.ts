/**
 * HTTP/1.1 pipelining depth through a real sidecar in front of the example MCP server (stateless): Node
 * hands every request of a pipeline to the sidecar at once, so a connection may have at most
 * `MAX_PIPELINED_REQUESTS` waiting behind the one being answered. The next is refused 503 `ERR_SERVER_BUSY`
 * unstarted (never decided, never forwarded) and the connection is closed after its reply.
 *
 * @module
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_PIPELINED_REQUESTS } from '../../src/server/public-server.js';
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

function call(id: number, name: string, args: Record<string, unknown>, last = false): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args },
  });
  return (
    `POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nmcp-protocol-version: 2025-06-18\r\n` +
    `content-type: application/json\r\naccept: application/json, text/event-stream\r\n` +
    `${last ? 'connection: close\r\n' : ''}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Writes a slow call followed by `behind` echo calls in one pipeline, the last asking to close the
 * connection; resolves with everything the sidecar wrote back once it closed the connection.
 */
function pipeline(behind: number): Promise<string> {
  const { port } = new URL(h.sidecar.publicUrl);
  // The first call is answered only after 400 ms: every request behind it is parsed meanwhile, so each
  // waits behind it (the depth the sidecar sees does not depend on how the bytes were split).
  let text = call(0, 'slow', { ms: 400 });
  for (let i = 1; i <= behind; i++) text += call(i, 'echo', { text: `p-${i}` }, i === behind);
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect(Number(port), '127.0.0.1', () => s.write(text));
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      got += chunk;
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

const statuses = (raw: string): number[] =>
  [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
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

/** Writes `text` on a new connection; resolves with everything written back once the connection closed. */
function exchange(text: string): Promise<string> {
  const { port } = new URL(h.sidecar.publicUrl);
  return new Promise<string>((resolve, reject) => {
    let got = '';
    const s = connect(Number(port), '127.0.0.1', () => s.write(text));
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      got += chunk;
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

const echoes = (n: number): string => {
  let text = '';
  for (let i = 1; i <= n; i++) text += call(i, 'echo', { text: `p-${i}` });
  return text;
};

it('runs nothing pipelined behind a request refused before routing: the connection closes after that reply', async () => {
  h.upstream.resetCalls();
  const logsBefore = h.logs.length;
  // Two Host fields: refused 400 before routing, with `Connection: close`.
  const bad = call(0, 'slow', { ms: 400 }).replace('host: x\r\n', 'host: x\r\nhost: y\r\n');
  const raw = await exchange(bad + echoes(5));
  expect(statuses(raw)).toEqual([400]);
  expect(raw).toMatch(/^connection: close$/im);
  // The calls behind it were never answered, so none may have run at the upstream.
  expect(h.upstream.calls()).toEqual([]);
  expect(h.logs.slice(logsBefore).filter((l) => l.includes('"msg":"request denied"'))).toHaveLength(1);
});

it('runs nothing pipelined behind a request asking to close the connection (RFC 9112 §9.6)', async () => {
  h.upstream.resetCalls();
  const last = call(0, 'slow', { ms: 400 }).replace('host: x\r\n', 'host: x\r\nconnection: close\r\n');
  const raw = await exchange(last + echoes(5));
  // Node's parser refuses the bytes after it (400, the connection cut): the calls there never start.
  expect(statuses(raw)).toEqual([400]);
  expect(echoed()).toEqual([]);
});
