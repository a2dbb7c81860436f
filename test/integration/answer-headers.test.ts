/**
 * Every answer the sidecar writes itself for a routed request carries the headers its stages set — the CORS
 * headers of an allowed Origin, the `RateLimit` headers of its charge — as a denial does: a browser MCP client
 * can read a 502's or a 504's JSON-RPC error only with the CORS headers, and a call the upstream never got (its
 * tokens given back) states the buckets as its audit record does. Real sidecars in front of a port nothing
 * listens on (502), the example MCP server answering too slowly (504), and its legacy SSE endpoint (a denial
 * answered on the stream, the POST 202).
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { deadPort } from '../helpers/dead-port.js';
import { postJsonRpc } from '../helpers/http.js';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const APP = 'https://app.example.com';
/** Failure guard only. */
const GUARD_MS = 5_000;

let slowUpstream: ExampleServer;
/** The upstream down (nothing listens); a frozen clock (no token refills). */
let down: Harness;
/** A stateless upstream answering JSON, after headersTimeoutMs for the `slow` tool; a frozen clock. */
let slow: Harness;

beforeAll(async () => {
  const frozen = Date.now();
  down = await startHarness({
    now: () => frozen,
    config: {
      upstream: { url: `http://127.0.0.1:${await deadPort()}/mcp` },
      server: { allowedOrigins: [APP] },
    },
  });
  slowUpstream = await startExampleServer({ jsonResponse: true, stateless: true });
  slow = await startHarness({
    upstream: slowUpstream,
    issuer: down.issuer,
    now: () => frozen,
    config: { upstream: { headersTimeoutMs: 300 }, server: { allowedOrigins: [APP] } },
  });
});

afterAll(async () => {
  await slow?.stop();
  await slowUpstream?.close();
  await down?.stop();
});

describe('answers the sidecar writes for an upstream failure', () => {
  it('502: carry the CORS headers, and RateLimit headers counting the tokens given back, as the audit record does', async () => {
    const caller = { authorization: `Bearer ${await down.token({ roles: ['nobody'], sub: 'cors-502' })}` };
    const res = await postJsonRpc(
      down.mcpUrl,
      { ...caller, origin: APP },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
    );
    expect(res.status).toBe(502);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('vary')).toBe('Origin');
    expect(await res.json()).toMatchObject({ id: 1, error: { data: { code: 'ERR_UPSTREAM_UNAVAILABLE' } } });
    // Role nobody: 10 tokens, none refilled (frozen clock). The call took one; the upstream never had it: back.
    expect(res.headers.get('ratelimit')).toBe('"default";r=10;t=0');
    const records = () =>
      down.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"cors-502"'))
        .map((l) => JSON.parse(l) as { rate_limit: { remaining: number } });
    await until(GUARD_MS, async () => records().length > 0);
    expect(records().map((r) => r.rate_limit.remaining)).toEqual([10]);
  });

  it('504: carry the CORS headers and the RateLimit headers of the call charged (the upstream had it)', async () => {
    const caller = { authorization: `Bearer ${await slow.token({ roles: ['user'], sub: 'cors-504' })}` };
    const res = await postJsonRpc(
      slow.mcpUrl,
      { ...caller, origin: APP },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { ms: 1_500 } } },
    );
    expect(res.status).toBe(504);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(await res.json()).toMatchObject({ id: 2, error: { data: { code: 'ERR_UPSTREAM_TIMEOUT' } } });
    // Role user: 200 tokens; the call took one, and it ran.
    expect(res.headers.get('ratelimit')).toMatch(/^"default";r=199;t=\d+$/);
  });
});

describe('the legacy SSE messages endpoint', () => {
  it('answers a POST whose denial went on the stream 202 with the CORS headers', async () => {
    const auth = await slow.bearer(['user']);
    const stream = await fetch(slow.sseUrl, {
      headers: { ...auth, origin: APP, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBe(APP);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (what: string) => {
      while (!text.includes(what)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${what}: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    try {
      await readUntil('sessionId=');
      const endpoint = /data: (\S+)/.exec(text)?.[1] ?? '';
      const denied = await fetch(`${slow.sidecar.publicUrl}${endpoint}`, {
        method: 'POST',
        headers: { ...auth, origin: APP, 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'run_sql', arguments: { query: 'select 1' } },
        }),
      });
      expect(denied.status).toBe(202);
      await denied.text();
      expect(denied.headers.get('access-control-allow-origin')).toBe(APP);
      await readUntil('"id":3');
      expect(text).toMatch(/"id":3,"error":/);
    } finally {
      await reader.cancel();
    }
  });
});
