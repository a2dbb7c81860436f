/**
 * The client's trace context inside a message's `params._meta` (SEP-414), through a real sidecar: it reaches
 * the upstream no more than the client's trace headers do. Untraced, `traceparent`, `tracestate` and
 * `baggage` are taken out of `_meta`; traced (OTLP on), `_meta` carries the sidecar's own upstream span, the
 * same one as the upstream request's `traceparent` header. Every other byte of the body reaches the upstream
 * as the client sent it. The upstream is a `node:net` one recording the raw body; the last test sends the
 * call with the MCP SDK's own client to the example SDK server.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { type RawUpstream, rawReply, rawUpstream } from '../helpers/raw-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_PARENT = `00-${CLIENT_TRACE}-b7ad6b7169203331-01`;
const TOOLS = {
  tools: [{ name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } }],
};

/** A sidecar in front of an upstream that lists `echo` and answers every call with an empty result. */
async function setup(env: NodeJS.ProcessEnv = {}): Promise<{ h: Harness; up: RawUpstream }> {
  const up = await rawUpstream((req, socket) => {
    const msg = JSON.parse(req.body) as { id?: unknown; method: string };
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: msg.id ?? null,
      result: msg.method === 'tools/list' ? TOOLS : {},
    });
    const headers: [string, string][] = [
      ['content-type', 'application/json'],
      ['content-length', String(Buffer.byteLength(body))],
    ];
    socket.write(rawReply('200 OK', headers, body));
  });
  stops.push(() => up.close());
  const h = await startHarness({
    upstream: { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer,
    env,
  });
  stops.push(() => h.stop());
  return { h, up };
}

/** A tools/call of echo whose body text is exactly this (an integer past 2^53, a 1.0, an escape). */
const callText = (meta: string) =>
  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"n":12345678901234567890.0,"f":1.0,"s":"caf\\u00e9"},"_meta":${meta}}}`;

/** What reached the upstream for the call. */
const upstreamCall = (up: RawUpstream) => up.requests.find((r) => r.body.includes('"tools/call"'));

describe("the client's trace context in params._meta", () => {
  it('is taken out when the sidecar exports no traces, every other byte forwarded as sent', async () => {
    const { h, up } = await setup();
    const meta = `{"progressToken":"p-1","traceparent":"${CLIENT_PARENT}","tracestate":"vendor=client","baggage":"user.id=admin"}`;
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['user']), callText(meta));
    expect(res.status).toBe(200);
    // Before, the body went byte for byte, the client's baggage and sampled flag with it.
    expect(upstreamCall(up)?.body).toBe(callText('{"progressToken":"p-1"}'));
    expect(upstreamCall(up)?.headers['content-length']).toBe(
      String(Buffer.byteLength(callText('{"progressToken":"p-1"}'))),
    );
  });

  it("is replaced by the sidecar's own upstream span when traces are exported", async () => {
    const receiver: OtlpReceiver = await startOtlpReceiver();
    stops.push(() => receiver.stop());
    const { h, up } = await setup({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const meta = `{"traceparent":"${CLIENT_PARENT}","baggage":"user.id=admin"}`;
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['user']), callText(meta));
    expect(res.status).toBe(200);
    const call = upstreamCall(up);
    const header = call?.headers.traceparent ?? '';
    // The sidecar's upstream span: in the trace of the HTTP request (none came in its headers, so a new one).
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(header).not.toBe(CLIENT_PARENT);
    expect(JSON.parse(call?.body ?? '{}').params._meta).toEqual({ traceparent: header });
    expect(call?.body).toContain('"n":12345678901234567890.0,"f":1.0,"s":"caf\\u00e9"');
  });

  it('cannot hide in a repeated _meta or params: such a body is refused, and nothing reaches the upstream', async () => {
    const { h, up } = await setup();
    const token = await h.bearer(['user']);
    for (const body of [
      `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{},"_meta":{"baggage":"user.id=admin"}}}`,
      `{"jsonrpc":"2.0","id":1,"method":"ping","params":null,"params":{"_meta":{"baggage":"user.id=admin"}}}`,
    ]) {
      const res = await postJsonRpc(h.mcpUrl, token, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: number; message: string } }).error).toMatchObject({
        code: -32600,
        message: expect.stringContaining('an object repeats a key'),
      });
    }
    expect(up.requests.filter((r) => r.body.includes('ping'))).toEqual([]);
  });

  it("never reaches an MCP SDK server from the SDK's own client", async () => {
    const h = await startHarness();
    stops.push(() => h.stop());
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
    stops.push(() => c.close());
    h.upstream.resetCalls();
    await c.callTool({
      name: 'echo',
      arguments: { text: 'hi' },
      _meta: { progressToken: 'p-2', traceparent: CLIENT_PARENT, baggage: 'user.id=admin' },
    });
    const call = h.upstream.calls().find((x) => x.name === 'echo');
    expect(call?.meta).toEqual({ progressToken: 'p-2' });
  });
});
