/**
 * Upstream behaviour through the sidecar: progress notifications stream through as they happen, an
 * unreachable upstream is a 502 and a slow one a 504 (both with JSON-RPC bodies), a client that goes
 * away takes its upstream request with it, and a SIGTERM-style stop lets an in-flight call finish.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { deadPort } from '../helpers/dead-port.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.stop().catch(() => undefined)));
});

async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}

/** A hand-made upstream: `answer` gets each request's whole body; `close` ends it and its connections. */
async function rawUpstream(
  answer: (body: string, res: ServerResponse, req: IncomingMessage) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => answer(body, res, req));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      upstream.closeAllConnections();
      await new Promise<void>((r) => upstream.close(() => r()));
    },
  };
}

describe('upstream', () => {
  it('streams progress notifications as they are sent', async () => {
    const h = await harness();
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
    const seen: number[] = [];
    const r = await c.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(r.structuredContent).toEqual({ steps: 3, notified: true });
    expect(seen).toEqual([1, 2, 3]);
    await c.close();
  });

  it('answers 502 with a JSON-RPC error when the upstream is down', async () => {
    const port = await deadPort();
    const h = await harness({ config: { upstream: { url: `http://127.0.0.1:${port}/mcp` } } });
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['user']), {
      jsonrpc: '2.0',
      id: 7,
      method: 'ping',
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { id: number; error: { code: number; data: { code: string } } };
    expect(body).toMatchObject({
      id: 7,
      error: { code: -32005, data: { code: 'ERR_UPSTREAM_UNAVAILABLE' } },
    });
    // The upstream never answered: the audit record has no upstream status (the 502 is the sidecar's), and
    // the request metric names the upstream as the reason.
    const audit = h.logs
      .filter((l) => l.includes('"log_type":"audit"') && l.includes('"method":"ping"'))
      .map((l) => JSON.parse(l) as { decision: string; upstream: unknown });
    expect(audit).toEqual([expect.objectContaining({ decision: 'allow', upstream: null })]);
    const metrics = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /mcp_authz_requests_total\{[^}]*reason="upstream"[^}]*status="502"[^}]*\} 1\b|mcp_authz_requests_total\{[^}]*status="502"[^}]*reason="upstream"[^}]*\} 1\b/,
    );
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const upstream = await startExampleServer({ jsonResponse: true });
    try {
      const h = await harness({ upstream, config: { upstream: { headersTimeoutMs: 300 } } });
      const c = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
      const err = await c.callTool({ name: 'slow', arguments: { ms: 1_500 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(504);
      await c.close().catch(() => undefined);
    } finally {
      await upstream.close();
    }
  });

  it('aborts the upstream request when the client goes away', async () => {
    let arrived = (): void => undefined;
    let abandoned = (): void => undefined;
    const upstreamGotIt = new Promise<void>((r) => {
      arrived = r;
    });
    const upstreamLostIt = new Promise<void>((r) => {
      abandoned = r;
    });
    // An upstream that never answers the ping and notes when its caller hangs up.
    const upstream = await rawUpstream((body, res) => {
      if (!body.includes('"ping"')) return; // e.g. the sidecar's own tools/list discovery
      res.on('close', () => {
        if (!res.writableFinished) abandoned();
      });
      arrived();
    });
    try {
      // No upstream timeout comes to the rescue: only the client's going away can end the request.
      const h = await harness({ config: { upstream: { url: upstream.url, headersTimeoutMs: 120_000 } } });
      const client = new AbortController();
      const answer = postJsonRpc(
        h.mcpUrl,
        await h.bearer(['user']),
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        client.signal,
      ).then(
        () => 'answered',
        () => 'client aborted',
      );
      await upstreamGotIt;
      client.abort();
      await upstreamLostIt; // the sidecar dropped its upstream request
      expect(await answer).toBe('client aborted');
    } finally {
      await upstream.close();
    }
  });

  it('reads a short reply whole: one cut short becomes a 502, recorded as one; one over 64 KiB passes whole', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 2, result: { text: 'x'.repeat(100_000) } });
    let stalled = (): void => undefined;
    const upstreamStalled = new Promise<void>((r) => {
      stalled = r;
    });
    // An upstream that promises 60 bytes for `ping` 1 and sends 10 before hanging up, and a long reply to ping 2.
    const upstream = await rawUpstream((body, res) => {
      if (body.includes('"logging/setLevel"')) {
        // Headers and part of the body, then nothing until the client gives up.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '60' });
        res.write('{"jsonrpc"');
        stalled();
      } else if (body.includes('"ping"') && JSON.parse(body).id === 1) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '60' });
        res.write('{"jsonrpc"');
        setImmediate(() => res.destroy());
      } else if (body.includes('"ping"')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(big.length) });
        res.end(big);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(body).id ?? null, result: { tools: [] } }));
      }
    });
    try {
      const h = await harness({ config: { upstream: { url: upstream.url } } });
      const post = async (message: object, signal?: AbortSignal) =>
        postJsonRpc(h.mcpUrl, await h.bearer(['admin']), message, signal);
      const requestLines = async () =>
        (await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text())
          .split('\n')
          .filter((l) => l.startsWith('mcp_authz_requests_total{'));
      const cut = await post({ jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(cut.status).toBe(502);
      expect(await cut.json()).toMatchObject({ id: 1, error: { data: { code: 'ERR_UPSTREAM_REPLY' } } });
      // Recorded as what the client got: a 502 for an upstream reason, not the upstream's 200.
      const requests = await requestLines();
      expect(
        requests.filter((l) => l.includes('status="502"') && l.includes('reason="upstream"')),
      ).toHaveLength(1);
      expect(
        requests.filter((l) => l.includes('status="200"') && l.includes('reason="upstream"')),
      ).toHaveLength(0);
      // The client leaves while the short reply is being read: a 499, no upstream failure.
      const client = new AbortController();
      const left = post(
        { jsonrpc: '2.0', id: 3, method: 'logging/setLevel', params: { level: 'info' } },
        client.signal,
      ).catch(() => 'aborted');
      await upstreamStalled;
      client.abort();
      expect(await left).toBe('aborted');
      const long = await post({ jsonrpc: '2.0', id: 2, method: 'ping' });
      expect(long.status).toBe(200);
      expect(await long.text()).toBe(big);
      // The abandoned request is counted once the sidecar has seen the client go.
      await expect
        .poll(async () => (await requestLines()).filter((l) => l.includes('status="499"')).length, {
          timeout: 5_000,
        })
        .toBe(1);
      expect((await requestLines()).filter((l) => l.includes('reason="upstream"'))).toHaveLength(1);
    } finally {
      await upstream.close();
    }
  });

  it('does not bind a session whose initialize reply was cut before the client saw it, and ends it upstream', async () => {
    // `initialize` issues a session: "ok-session" whole, "cut-session" cut short after its headers.
    const ended: string[] = [];
    const upstream = await rawUpstream((body, res, req) => {
      if (req.method === 'DELETE') {
        ended.push(String(req.headers['mcp-session-id']));
        res.writeHead(200).end();
        return;
      }
      const msg = JSON.parse(body) as { id?: number; params?: { clientInfo?: { name?: string } } };
      if (msg.params?.clientInfo?.name === 'cut-chunked') {
        // No length: piped. The upstream's headers go out, then it hangs up before any body byte.
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'cut-chunked-session' });
        res.flushHeaders();
        setImmediate(() => res.destroy());
        return;
      }
      if (msg.params?.clientInfo?.name === 'cut') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': '200',
          'mcp-session-id': 'cut-session',
        });
        res.write('{"jsonrpc"');
        setImmediate(() => res.destroy());
        return;
      }
      const reply = JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result: {} });
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'ok-session' });
      res.end(reply);
    });
    try {
      const h = await harness({ config: { upstream: { url: upstream.url } } });
      const auth = await h.bearer(['user']);
      const initialize = (name: string) =>
        postJsonRpc(h.mcpUrl, auth, {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name, version: '1' } },
        });
      const ping = (session: string) =>
        postJsonRpc(
          h.mcpUrl,
          { ...auth, 'mcp-session-id': session },
          { jsonrpc: '2.0', id: 2, method: 'ping' },
        );
      expect((await initialize('whole')).status).toBe(200);
      expect((await ping('ok-session')).status).toBe(200);
      const cut = await initialize('cut');
      expect(cut.status).toBe(502);
      expect(cut.headers.get('mcp-session-id')).toBeNull();
      // The caller never learnt the id, so the sidecar does not keep it for them: it is an unknown session.
      const after = await ping('cut-session');
      expect(after.status).toBe(404);
      expect(await after.json()).toMatchObject({ error: { message: 'Not Found: unknown session' } });
      // A piped reply cut before its first byte: the sidecar's own headers never left either.
      await expect(initialize('cut-chunked')).rejects.toThrow();
      expect((await ping('cut-chunked-session')).status).toBe(404);
      // Nobody can use them: the sidecar ends both at the upstream (the SDK server keeps a session until
      // DELETE), and only them.
      await until(5_000, async () => ended.length >= 2);
      expect(ended.sort()).toEqual(['cut-chunked-session', 'cut-session']);
    } finally {
      await upstream.close();
    }
  });

  it('lets an in-flight call finish when stopping', async () => {
    const h = await startHarness();
    const c = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
    const call = c.callTool({ name: 'slow', arguments: { ms: 400 } });
    await until(10_000, async () => h.upstream.calls().some((x) => x.name === 'slow'), 10);
    const stopped = h.stop();
    const r = await call;
    expect(r.isError).toBeFalsy();
    await stopped;
    await expect(fetch(h.mcpUrl, { method: 'POST' })).rejects.toThrow();
  });

  it('lets an in-flight legacy SSE call have its reply on the stream when stopping', async () => {
    // Its POST got 202 long before the reply: only the stream still owes it, and ending the streams at
    // once would lose it.
    const h = await startHarness();
    const c = await connectSse(h.sseUrl, await h.bearer(['user']));
    // A lost reply would leave the call waiting for the client's own timeout.
    const call = c.callTool({ name: 'slow', arguments: { ms: 400 } }, undefined, { timeout: 10_000 });
    await until(10_000, async () => h.upstream.calls().some((x) => x.name === 'slow'), 10);
    const stopped = h.stop();
    const r = await call;
    expect(r.structuredContent).toEqual({ waitedMs: 400 });
    await stopped;
    expect(h.logs.join('\n')).not.toContain('shutdown grace period over');
  });

  it('does not wait at shutdown for the reply to a legacy SSE call its client cancelled', async () => {
    // The upstream "SHOULD NOT send a response for the cancelled request": waiting would use up the grace.
    const h = await startHarness();
    const c = await connectSse(h.sseUrl, await h.bearer(['user']));
    const abort = new AbortController();
    const call = c
      .callTool({ name: 'slow', arguments: { ms: 4_000 } }, undefined, { signal: abort.signal })
      .catch((e: unknown) => e);
    await until(10_000, async () => h.upstream.calls().some((x) => x.name === 'slow'), 10);
    abort.abort();
    expect(await call).toBeInstanceOf(Error);
    await until(
      10_000,
      async () => h.upstream.calls().some((x) => x.method === 'notifications/cancelled'),
      10,
    );
    await h.stop();
    expect(h.logs.join('\n')).not.toContain('shutdown grace period over');
  });

  it('waits at shutdown for the reply to a legacy SSE call whose POST client left once the upstream had it', async () => {
    // The upstream got the whole POST and may act on it; its reply would come on the stream, which the client
    // reads on another connection. This upstream never answers, so the shutdown waits out its grace for it.
    let stream: ServerResponse | undefined;
    let postSeen = (): void => undefined;
    const seen = new Promise<void>((r) => {
      postSeen = r;
    });
    let postCut = (): void => undefined;
    const cut = new Promise<void>((r) => {
      postCut = r;
    });
    const upstream = await rawUpstream((_body, res, req) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('event: endpoint\ndata: /messages?sessionId=up-1\n\n');
        stream = res;
        return;
      }
      res.once('close', postCut);
      postSeen();
    });
    try {
      const h = await harness({ config: { upstream: { url: upstream.url } } });
      const auth = await h.bearer(['user']);
      const events = await fetch(h.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } });
      expect(events.status).toBe(200);
      const reader = (events.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const endpoint = /event: endpoint\ndata: (\S+)/.exec(text)?.[1];
      expect(endpoint).toBeDefined();
      const client = new AbortController();
      const post = fetch(new URL(endpoint as string, h.sseUrl), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        signal: client.signal,
      }).catch(() => 'left');
      await seen;
      client.abort();
      expect(await post).toBe('left');
      // The sidecar cuts the upstream request when its client leaves.
      await cut;
      await h.sidecar.stop();
      const over = h.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'shutdown grace period over; cutting requests');
      expect(over).toMatchObject({ inFlight: 0, legacyReplies: 1 });
      await reader.cancel().catch(() => undefined);
      stream?.end();
    } finally {
      await upstream.close();
    }
  });

  it('waits no longer than the grace for a legacy SSE reply that does not come', async () => {
    const h = await startHarness(); // shutdownGraceMs: 2 s
    const c = await connectSse(h.sseUrl, await h.bearer(['user']));
    const call = c.callTool({ name: 'slow', arguments: { ms: 4_000 } }).catch((e: unknown) => e);
    await until(10_000, async () => h.upstream.calls().some((x) => x.name === 'slow'), 10);
    await h.sidecar.stop();
    const cut = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'shutdown grace period over; cutting requests');
    expect(cut).toMatchObject({ legacyReplies: 1 });
    // The client would wait for its reply until its own timeout: closing it ends the call.
    await c.close();
    expect(await call).toBeInstanceOf(Error);
    await h.stop();
  });
});
