/**
 * Clients that stop reading, and shutdown with streams open, against a real sidecar in front of the example
 * MCP server:
 * - a POST reply its client never reads is cut after `server.sendTimeoutMs`, which frees its connection of
 *   the upstream pool (here a pool of one) for other callers;
 * - a legacy SSE stream whose client reads nothing does not keep every denial injected into it in memory:
 *   past 1 MiB unread the stream is cut, and the POST answered as for a session that ended (404);
 * - at shutdown, open event streams (a Streamable HTTP GET stream and a legacy SSE stream) are ended
 *   cleanly — their clients see a complete chunked body, not a cut connection.
 *
 * @module
 */
import { type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const PROTOCOL = '2025-06-18';
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** Sends a request with node:http and resolves with the response head (its body unread and paused). */
function send(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Resolves once `res` has ended: `complete` when the whole body came, false when the connection was cut. */
function outcome(res: IncomingMessage): Promise<{ complete: boolean }> {
  return new Promise((resolve) => {
    res.on('close', () => resolve({ complete: res.complete }));
    res.resume();
  });
}

/** Reads `res` until its text includes `marker`; returns the text read (the stream is paused again). */
function readUntil(res: IncomingMessage, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (!text.includes(marker)) return;
      res.off('data', onData);
      res.pause();
      resolve(text);
    };
    res.on('data', onData);
    res.once('error', reject);
    res.resume();
  });
}

const echo = (id: number, text: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text } },
});

describe('a client that stops reading', () => {
  it('has its POST reply cut after server.sendTimeoutMs, freeing the upstream connection for others', async () => {
    h = await startHarness({
      upstreamStateless: true,
      config: {
        server: { sendTimeoutMs: 300, maxBodyBytes: 8 * 1024 * 1024 },
        upstream: { connections: 1 },
      },
    });
    const auth = await h.bearer(['user']);
    const headers = {
      ...auth,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL,
    };
    // A reply far larger than the loopback socket buffers can take, never read.
    const stalled = await send(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify(echo(1, 'x'.repeat(3_800_000))),
    });
    expect(stalled.statusCode).toBe(200);
    // The pool's one connection is held by the stalled reply; this call needs it.
    const other = await postJsonRpc(h.mcpUrl, { ...auth, 'mcp-protocol-version': PROTOCOL }, echo(2, 'hi'));
    expect(other.status).toBe(200);
    expect(await other.text()).toContain('hi');
    expect(await outcome(stalled)).toEqual({ complete: false });
    expect(h.logs.join('\n')).toContain('reply cut: its client read nothing');
  }, 30_000);

  it('on a legacy SSE stream has it cut once 1 MiB of denials is unread, the POST answered 404', async () => {
    h = await startHarness();
    const auth = await h.bearer(['guest']);
    const stream = await send(h.sseUrl, { method: 'GET', headers: { ...auth, accept: 'text/event-stream' } });
    expect(stream.statusCode).toBe(200);
    const opened = await readUntil(stream, '\n\n');
    const endpoint = /data: (\S+)/.exec(opened)?.[1];
    expect(endpoint).toMatch(/\?sessionId=/);

    // Batches of denied calls (a guest may not call these tools) answered on the stream, each denial ~2 KB
    // (the tool's name, quoted in the reasons, which a reply cuts to 1,024 characters): ~200 KB a batch.
    const bigName = (n: number) => `delete_${n}_${'i'.repeat(1_024)}`;
    const statuses: number[] = [];
    let inBody: string | undefined;
    for (let n = 0; n < 100 && inBody === undefined; n++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({
        jsonrpc: '2.0',
        id: n * 100 + i,
        method: 'tools/call',
        params: { name: bigName(n * 100 + i), arguments: { tenant: 'acme', id: 'c-1' } },
      }));
      const res = await postJsonRpc(new URL(endpoint ?? '', h.sseUrl).href, auth, batch);
      statuses.push(res.status);
      if (res.status !== 202) inBody = await res.text();
      else await res.text();
    }
    expect(statuses.slice(0, -1).every((s) => s === 202)).toBe(true);
    // The session's end, not the denials in a 200 body: a legacy client reads no POST body and takes any 2xx
    // for "the answers come on the stream", which is cut (its calls then waited for their timeout).
    expect(statuses.at(-1)).toBe(404);
    expect(JSON.parse(inBody ?? '[]')[0]).toMatchObject({
      error: { code: -32600, data: { code: 'ERR_REQUEST_SESSION' } },
    });
    // Cut, not ended: reading what was sent before the cut, the client finds no end of the body.
    expect(await outcome(stream)).toEqual({ complete: false });
    expect(h.logs.join('\n')).toContain('legacy SSE stream cut');
  }, 30_000);
});

describe('clients trickling in their bodies', () => {
  it('hold the bodies being read under server.maxBufferedBodyBytes: past it a body gets 503, not memory', async () => {
    h = await startHarness({ upstreamStateless: true, config: { server: { maxBufferedBodyBytes: 4_096 } } });
    const harness = h;
    const auth = await harness.bearer(['user']);
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x'.repeat(3_000) } },
    });
    // A POST that declares its 3 KB body and, once told to go on (100 Continue), holds it back.
    let sendBody!: () => void;
    const held = new Promise<number>((resolve, reject) => {
      const req = request(harness.mcpUrl, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': String(Buffer.byteLength(call)),
          expect: '100-continue',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      sendBody = () => req.end(call);
      req.on('continue', () => readyToSend());
      req.flushHeaders();
    });
    let readyToSend!: () => void;
    await new Promise<void>((r) => {
      readyToSend = r;
    });
    // Another 3 KB body would pass 4 KB: refused before it is read.
    const refused = await postJsonRpc(harness.mcpUrl, auth, JSON.parse(call));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { data: { code: 'ERR_SERVER_BUSY' } } });
    // Once the first is read, its bytes are free again.
    sendBody();
    expect(await held).toBe(200);
    const after = await postJsonRpc(harness.mcpUrl, auth, JSON.parse(call));
    expect(after.status).toBe(200);
    await after.text();
  });
});

describe('shutdown', () => {
  it('ends open event streams cleanly: their clients get a complete body', async () => {
    h = await startHarness();
    const auth = await h.bearer(['user']);
    const base = {
      ...auth,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const init = await postJsonRpc(h.mcpUrl, auth, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 't', version: '0' } },
    });
    await init.text();
    const session = init.headers.get('mcp-session-id') ?? '';
    expect(session).not.toBe('');
    const sessionHeaders = { ...base, 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL };
    const note = await postJsonRpc(h.mcpUrl, sessionHeaders, {
      jsonrpc: '2.0',
      method: 'notifications/initialized',
    });
    expect(note.status).toBe(202);
    const get = await send(h.mcpUrl, {
      method: 'GET',
      headers: {
        ...auth,
        accept: 'text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': PROTOCOL,
      },
    });
    expect(get.statusCode).toBe(200);
    const legacy = await send(h.sseUrl, { method: 'GET', headers: { ...auth, accept: 'text/event-stream' } });
    await readUntil(legacy, '\n\n');
    const ends = Promise.all([outcome(get), outcome(legacy)]);

    const stopping = h.stop();
    h = undefined;
    expect(await ends).toEqual([{ complete: true }, { complete: true }]);
    await stopping;
  }, 30_000);
});
