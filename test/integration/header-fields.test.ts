/**
 * Header fields checked before anything else, sent as raw bytes to a real sidecar in front of the example
 * MCP server: more field lines than `server.maxRequestHeaders` get 431 — Node would otherwise drop every line
 * past its 2,000th, a second `Authorization` among them, so the sidecar's refusal of a second one never saw
 * it — and a second `Host` gets 400 (RFC 9112). Neither reaches the upstream. A client sending
 * `Expect: 100-continue` is told to send its body only once the checks before reading it passed.
 *
 * @module
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ upstreamStateless: true });
});

afterAll(async () => {
  await h?.stop();
});

/** The body every request here sends: a `tools/call` of echo. */
const ECHO_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hi' } },
});

/** Sends `head` lines and a `tools/call` of echo; resolves with the status line and the body. */
function send(lines: string[], target = '/mcp', version = '1.1'): Promise<{ status: number; text: string }> {
  const body = ECHO_CALL;
  const { port } = new URL(h.sidecar.publicUrl);
  const head = [
    `POST ${target} HTTP/${version}`,
    ...lines,
    'content-type: application/json',
    'accept: application/json, text/event-stream',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(text.split(' ')[1]), text });
    });
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The count of requests refused before routing (`route="bad_request"`, status 400); 0 before the first. */
async function badRequests(): Promise<number> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('mcp_authz_requests_total{') &&
        l.includes('route="bad_request"') &&
        l.includes('status="400"'),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/**
 * The sidecar's `request denied` lines for refusals of header fields logged since `from` (an index into the
 * log), and the count of such refusals under reason `request` (the metric label every refusal carries).
 */
async function refusalsSince(from: number): Promise<{ codes: string[]; counted: number }> {
  const codes = h.logs
    .slice(from)
    .map((l) => JSON.parse(l) as { msg?: string; code?: string; peer_ip?: string })
    .filter((l) => l.msg === 'request denied' && l.peer_ip === '127.0.0.1')
    .map((l) => String(l.code));
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const counted = text
    .split('\n')
    .filter((l) => l.startsWith('mcp_authz_requests_total{') && l.includes('route="bad_request"'))
    .filter((l) => l.includes('reason="request"'))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return { codes, counted };
}

/** `n` empty header fields, short enough that 2,000 stay under Node's 16 KiB of headers. */
const filler = (n: number) => Array.from({ length: n }, (_, i) => `f${i.toString(36)}:`);

describe('header fields', () => {
  it('refuses more field lines than server.maxRequestHeaders with 431, a second Authorization hidden past Node’s 2,000 too', async () => {
    const analyst = String((await h.bearer(['analyst'])).authorization);
    const admin = String((await h.bearer(['admin'])).authorization);
    h.upstream.resetCalls();
    const padded = await send([
      'host: 127.0.0.1',
      `authorization: ${analyst}`,
      ...filler(2_000),
      `authorization: ${admin}`,
    ]);
    // 431 whoever refuses it: the sidecar's count on Node 20 (which dropped the fields past its bound),
    // Node's own on Node 24 (which refuses a request past server.maxHeadersCount). Never the admin's call.
    expect(padded.status).toBe(431);
    expect(padded.text).not.toContain(analyst.slice(7));
    // 101 fields: within what Node keeps (the bound plus one), refused by the sidecar's count, with its body.
    const over = await send(['host: 127.0.0.1', `authorization: ${analyst}`, ...filler(95)]);
    expect(over.status).toBe(431);
    expect(over.text).toContain('more than 100 header fields');
    expect(h.upstream.calls()).toEqual([]);
    // 6 lines of the request itself and 94 more: exactly 100, served.
    const full = await send(['host: 127.0.0.1', `authorization: ${analyst}`, ...filler(94)]);
    expect(full.status).toBe(200);
    expect(full.text).toContain('"hi"');
  });

  it('refuses a Connection header listing a header the exchange needs (the upstream would never see it)', async () => {
    const auth = String((await h.bearer(['analyst'])).authorization);
    h.upstream.resetCalls();
    const listed = await send([
      'host: 127.0.0.1',
      `authorization: ${auth}`,
      'connection: close, content-type',
    ]);
    expect(listed.status).toBe(400);
    expect(listed.text).toContain('Connection lists content-type');
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses a second Host with 400, forwarding nothing', async () => {
    const auth = String((await h.bearer(['analyst'])).authorization);
    h.upstream.resetCalls();
    const from = h.logs.length;
    const before = await refusalsSince(from);
    const twice = await send(['host: 127.0.0.1', 'host: evil.example', `authorization: ${auth}`]);
    expect(twice.status).toBe(400);
    expect(twice.text).toContain('more than one Host header field');
    expect(h.upstream.calls()).toEqual([]);
    // Logged and counted as any refusal is: its code in the log, its reason on the metric.
    const after = await refusalsSince(from);
    expect(after.codes).toEqual(['ERR_REQUEST_INVALID']);
    expect(after.counted).toBe(before.counted + 1);
    expect(h.logs.slice(from).join('\n')).not.toContain(auth.slice(7));
  });

  it('refuses an HTTP/1.1 request without Host with a JSON-RPC 400, counted; HTTP/1.0 may leave it out', async () => {
    const auth = String((await h.bearer(['user'])).authorization);
    h.upstream.resetCalls();
    const before = await badRequests();
    const none = await send([`authorization: ${auth}`]);
    expect(none.status).toBe(400);
    expect(none.text).toContain('no Host header field (HTTP/1.1 requires one)');
    expect(none.text).toContain('"code":-32600');
    expect(await badRequests()).toBe(before + 1);
    expect(h.upstream.calls()).toEqual([]);
    const old = await send([`authorization: ${auth}`], '/mcp', '1.0');
    expect(old.status).toBe(200);
    expect(h.upstream.calls().map((c) => c.name)).toEqual(['echo']);
  });
});

/**
 * Sends the head of a `tools/call` with `Expect: 100-continue`, and its body only once `100 Continue` came
 * (as curl does for a large body); resolves with everything the sidecar wrote.
 */
function sendExpecting(lines: string[], declaredLength?: number): Promise<string> {
  const body = ECHO_CALL;
  const { port } = new URL(h.sidecar.publicUrl);
  const head = [
    'POST /mcp HTTP/1.1',
    'host: 127.0.0.1',
    ...lines,
    'content-type: application/json',
    'accept: application/json, text/event-stream',
    `content-length: ${declaredLength ?? Buffer.byteLength(body)}`,
    'expect: 100-continue',
    'connection: close',
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write(body);
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(text));
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

describe('an absolute-form request target', () => {
  it('is served as its path when it names the Host, and refused 400 when it names another host', async () => {
    const auth = String((await h.bearer(['analyst'])).authorization);
    const { host } = new URL(h.sidecar.publicUrl);
    const same = await send([`host: ${host}`, `authorization: ${auth}`], `http://${host}/mcp`);
    expect(same.status).toBe(200);
    expect(same.text).toContain('"hi"');
    h.upstream.resetCalls();
    const other = await send([`host: ${host}`, `authorization: ${auth}`], 'http://evil.example/mcp');
    expect(other.status).toBe(400);
    expect(other.text).toContain('names another host than Host');
    expect(h.upstream.calls()).toEqual([]);
  });
});

describe('a refusal before a large body was read', () => {
  it('closes the connection instead of reading and discarding the body for as long as it trickles', async () => {
    const { port } = new URL(h.sidecar.publicUrl);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('utf8');
      });
      socket.on('error', reject);
      // Keep-alive, no credentials, 5 MB declared and a first few bytes only: the 401 comes at once, and the
      // connection must end then, not after the request timeout.
      socket.on('end', () => resolve(got));
      socket.write(
        'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
          'content-length: 5000000\r\n\r\n{"jsonrpc":',
      );
    });
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text.toLowerCase()).toContain('connection: close');
  });
});

describe('Expect: 100-continue', () => {
  it('is answered with the refusal alone, no 100, when the request is refused before its body', async () => {
    const anonymous = await sendExpecting([]);
    expect(anonymous).toMatch(/^HTTP\/1\.1 401 /);
    expect(anonymous).not.toContain('100 Continue');
    const auth = String((await h.bearer(['analyst'])).authorization);
    const tooLarge = await sendExpecting([`authorization: ${auth}`], 50_000_000);
    expect(tooLarge).toMatch(/^HTTP\/1\.1 413 /);
    expect(tooLarge).not.toContain('100 Continue');
  });

  it('gets 100 Continue once the checks passed, then the answer to the body', async () => {
    const auth = String((await h.bearer(['analyst'])).authorization);
    const text = await sendExpecting([`authorization: ${auth}`]);
    expect(text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ')).toBe(true);
    expect(text).toContain('"hi"');
  });
});
