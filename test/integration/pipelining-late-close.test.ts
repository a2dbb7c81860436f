/**
 * HTTP/1.1 pipelining through a real sidecar in front of the example MCP server, when a reply decides only
 * late that it closes its connection: a body over `server.maxBodyBytes` (413), or a streamed reply to an
 * HTTP/1.0 keep-alive request (HTTP/1.0 has no chunked coding, so its end is the connection's end). Node
 * has already handed the sidecar every request pipelined behind it. Their replies can never be sent, so
 * none of them may run at the upstream (RFC 9112 §9.6): a client retrying them elsewhere would run them twice.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession } from '../helpers/http.js';
import { exchange, rawToolCall, statuses } from '../helpers/raw-pipeline.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const MAX_BODY = 2_048;

/** `n` echo calls as one pipeline, their texts `p-1` … `p-n`. */
function echoes(token: string, n: number): string {
  let text = '';
  for (let i = 1; i <= n; i++) text += rawToolCall(token, i, 'echo', { text: `p-${i}` });
  return text;
}

/** The tools the upstream was asked to run, in order (the sidecar's own `tools/list` left out). */
const ran = (h: Harness): string[] =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call')
    .map((c) => String(c.name));

const echoed = (h: Harness): string[] =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call' && c.name === 'echo')
    .map((c) => String(c.arguments?.text));

describe('behind a body over the limit', () => {
  let h: Harness;
  let token = '';

  beforeAll(async () => {
    h = await startHarness({ upstreamStateless: true, config: { server: { maxBodyBytes: MAX_BODY } } });
    token = await h.token({ sub: 'piper', roles: ['user'] });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('runs nothing pipelined behind a 413: the connection closes after it', async () => {
    h.upstream.resetCalls();
    // A slow call first, so that every request behind it is parsed (and handed over) while it runs; then a
    // body over the limit, whole in the same write, so that the calls behind it are parsed at once too.
    const slow = rawToolCall(token, 0, 'slow', { ms: 300 });
    const big = rawToolCall(token, 99, 'echo', { text: 'x'.repeat(MAX_BODY) });
    const raw = await exchange(h.sidecar.publicUrl, slow + big + echoes(token, 3));
    expect(statuses(raw)).toEqual([200, 413]);
    expect(raw.slice(raw.indexOf('HTTP/1.1 413'))).toMatch(/^connection: close$/im);
    // The slow call ran; the calls behind the 413 were never answered, so none may have run.
    expect(ran(h)).toEqual(['slow']);
  });

  it('still forwards a pipeline whose replies all keep the connection', async () => {
    h.upstream.resetCalls();
    const slow = rawToolCall(token, 0, 'slow', { ms: 100 });
    const raw = await exchange(
      h.sidecar.publicUrl,
      slow + echoes(token, 3) + rawToolCall(token, 4, 'echo', { text: 'p-4' }, 'connection: close\r\n'),
    );
    expect(statuses(raw)).toEqual([200, 200, 200, 200, 200]);
    // In the order sent: each call behind another goes upstream once the one before it is answered.
    expect(echoed(h)).toEqual(['p-1', 'p-2', 'p-3', 'p-4']);
  });
});

describe('behind a streamed reply to HTTP/1.0', () => {
  let h: Harness;
  let token = '';
  let session = '';

  beforeAll(async () => {
    // Stateful: the example server answers a call in a session with an event stream.
    h = await startHarness();
    token = await h.token({ sub: 'piper', roles: ['user'] });
    session = await openSession(h.mcpUrl, token);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('runs nothing pipelined behind it: Node ends that reply by closing the connection', async () => {
    h.upstream.resetCalls();
    const sid = `mcp-session-id: ${session}\r\n`;
    // HTTP/1.0 asking to keep the connection: the event-stream reply has no length, so it closes it.
    const old = rawToolCall(token, 0, 'slow', { ms: 300 }, `${sid}connection: keep-alive\r\n`).replace(
      'HTTP/1.1',
      'HTTP/1.0',
    );
    let behind = '';
    for (let i = 1; i <= 3; i++) behind += rawToolCall(token, i, 'echo', { text: `p-${i}` }, sid);
    const raw = await exchange(h.sidecar.publicUrl, old + behind);
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw).toMatch(/^content-type: text\/event-stream/im);
    expect(raw).toContain('"id":0');
    expect(ran(h)).toEqual(['slow']);
  });
});
