/**
 * Accounting across every way a request is answered: each HTTP request counted once in
 * `mcp_authz_requests_total` with the status the client got, each decided JSON-RPC request one audit
 * record whose verdict is what the client got, and the decision, rate-limit and authentication counters
 * moving with them. One table of cases against one sidecar (SDK upstream, compiled policy, JWKS), plus a
 * dry-run sidecar, one whose upstream is down, and one with a single upstream connection and a frozen clock
 * (clients that leave after their decision, before their call reaches the upstream: tokens given back).
 *
 * @module
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { deadPort } from '../helpers/dead-port.js';
import { openSession, postJsonRpc } from '../helpers/http.js';
import { readUntil } from '../helpers/listen-upstream.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';
import { rawToolCall } from '../helpers/raw-pipeline.js';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

type Counts = Record<string, number>;

/** What one case changed: the counters (compact keys, deltas) and the audit records it left. */
interface Seen {
  requests: Counts;
  decisions: Counts;
  ratelimit: Counts;
  authn: Counts;
  /** The records, compact and sorted. */
  audit: string[];
}

const FAMILIES = {
  requests: ['mcp_authz_requests_total', ['route', 'status', 'reason']],
  decisions: ['mcp_authz_decisions_total', ['result', 'method', 'tool']],
  ratelimit: ['mcp_authz_ratelimit_rejections_total', ['scope']],
  authn: ['mcp_authz_authn_failures_total', ['reason']],
} as const;

async function scrape(h: Harness): Promise<Record<keyof typeof FAMILIES, Counts>> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  const out = { requests: {}, decisions: {}, ratelimit: {}, authn: {} } as Record<
    keyof typeof FAMILIES,
    Counts
  >;
  for (const line of text.split('\n')) {
    for (const [k, [name, labels]] of Object.entries(FAMILIES)) {
      if (!line.startsWith(`${name}{`)) continue;
      const m = /\{(.*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const pairs = Object.fromEntries(
        [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((p) => [p[1], p[2]]),
      );
      const key = labels.map((l) => pairs[l]).join(' ');
      out[k as keyof typeof FAMILIES][key] = Number(m[2]);
    }
  }
  return out;
}

function delta(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

interface AuditLine {
  msg?: string;
  log_type?: string;
  decision_id: string;
  decision: string;
  deny_reason: string | null;
  enforced: boolean;
  upstream: { status: number } | null;
  action: { method: string; tool: string | null };
}

/** An audit record, compact: `allow 200`, `deny:policy`, `deny:policy! 200` (not enforced, forwarded). */
function compact(r: AuditLine): string {
  const verdict = r.deny_reason ? `${r.decision}:${r.deny_reason}` : r.decision;
  return `${verdict}${r.enforced ? '' : '!'}${r.upstream ? ` ${r.upstream.status}` : ''}`;
}

function auditFrom(h: Harness, from: number): AuditLine[] {
  return h.logs
    .slice(from)
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((r) => r.log_type === 'audit' && r.msg === 'audit');
}

/** The decision ids clients were given with a refusal (`error.data.decision_id`) during the case. */
let refusedIds: string[] = [];

/** Notes the decision ids of the refusals in a JSON-RPC reply body (one message or a batch). */
function noteRefusals(text: string): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return;
  }
  for (const m of Array.isArray(body) ? body : [body]) {
    const id = (m as { error?: { data?: { decision_id?: unknown } } } | null)?.error?.data?.decision_id;
    if (typeof id === 'string') refusedIds.push(id);
  }
}

/**
 * Runs `act` and returns what it changed once `requests` HTTP requests more were counted (and one scrape
 * later, so a request counted twice, or audit lines still queued, show too).
 */
async function measure(
  h: Harness,
  requests: number,
  act: () => Promise<unknown>,
): Promise<Seen & { records: AuditLine[] }> {
  const before = await scrape(h);
  const from = h.logs.length;
  await act();
  const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);
  await until(5_000, async () => total(delta((await scrape(h)).requests, before.requests)) >= requests);
  const after = await scrape(h);
  return {
    requests: delta(after.requests, before.requests),
    decisions: delta(after.decisions, before.decisions),
    ratelimit: delta(after.ratelimit, before.ratelimit),
    authn: delta(after.authn, before.authn),
    audit: auditFrom(h, from).map(compact).sort(),
    records: auditFrom(h, from),
  };
}

const ping = (id: number | string = 1) => ({ jsonrpc: '2.0', id, method: 'ping' });
const call = (name: string, id: number | string = 1, args: Record<string, unknown> = { text: 'x' }) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

let upstream: ExampleServer;
let h: Harness;
let dry: Harness;
let down: Harness;
/** One upstream connection (a call waits for it while another holds it), a frozen clock (no token refills). */
let queued: Harness;
const clients: Client[] = [];

beforeAll(async () => {
  // JSON replies: a slow call's headers wait for its answer, so the upstream header timeout (2 s) applies.
  upstream = await startExampleServer({ jsonResponse: true });
  h = await startHarness({
    upstream,
    config: {
      server: { maxStreamsPerCaller: 1, trustProxyHops: 1, maxBodyBytes: 65_536 },
      authn: { jwt: { requiredScopes: ['mcp:tools'] } },
      abuse: { rules: [], pollIntervalMs: 50 },
    },
  });
  dry = await startHarness({
    upstream,
    issuer: h.issuer,
    config: { policy: { dryRun: true }, authn: { mode: 'optional' } },
  });
  down = await startHarness({
    upstream,
    issuer: h.issuer,
    config: { upstream: { url: `http://127.0.0.1:${await deadPort()}/mcp` } },
  });
  const frozen = Date.now();
  queued = await startHarness({
    upstream,
    issuer: h.issuer,
    now: () => frozen,
    config: { upstream: { connections: 1, headersTimeoutMs: 30_000 } },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await queued?.stop();
  await down?.stop();
  await dry?.stop();
  await h?.stop();
  await upstream?.close();
});

/** A caller with a session at the upstream: its credentials and `Mcp-Session-Id`. */
async function session(target: Harness, roles: string[], sub: string): Promise<Record<string, string>> {
  const token = await target.token({ roles, sub });
  return { authorization: `Bearer ${token}`, 'mcp-session-id': await openSession(target.mcpUrl, token) };
}

/** POSTs `body` with `headers`; resolves with the status once the reply is read. */
async function post(target: Harness, headers: Record<string, string>, body: unknown): Promise<number> {
  const res = await postJsonRpc(target.mcpUrl, headers, body);
  noteRefusals(await res.text());
  return res.status;
}

/** Sends the headers and part of a body, then hangs up. */
function leaveMidBody(url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': '100' },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write('{"jsonrpc":"2.0",', () => setImmediate(() => req.destroy()));
  });
}

/**
 * POSTs a chunked body: its headers and a first chunk, then `rest`, which Node's HTTP parser refuses mid-body:
 * Node answers that itself and closes the connection. Resolves with the status Node answered.
 */
function chunkedThen(url: string, headers: Record<string, string>, rest: string): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const fields = Object.entries({ ...headers, 'content-type': 'application/json' })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(
        `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\n${fields}Transfer-Encoding: chunked\r\n\r\n`,
      );
      socket.write('5\r\n{"a":\r\n', () => setImmediate(() => socket.write(rest)));
    });
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0)));
  });
}

/** Sends `head` (a request's head, without its blank line) as is; resolves with the answer's status. */
function rawStatus(url: string, head: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${head}\r\n\r\n`));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
  });
}

/**
 * Opens a connection, sends each of `writes` once the answer to the one before it is in (a kept-alive
 * connection between them), and resolves with everything read once the sidecar closes the connection.
 */
function rawExchange(url: string, writes: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(writes.shift() as string));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      const next = /\r\n\r\n/.test(text) ? writes.shift() : undefined;
      if (next !== undefined) socket.write(next);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

/** The status of each HTTP answer in `text` (a connection's bytes), and each JSON body's `error.data.code`. */
function answers(text: string): { statuses: number[]; codes: unknown[] } {
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  const codes = [...text.matchAll(/\r\n\r\n(\{.*?\}\}\})/g)].map(
    (m) => (JSON.parse(m[1] as string) as { error: { data: { code: unknown } } }).error.data.code,
  );
  return { statuses, codes };
}

/** POSTs with `Expect: 100-continue` and never sends the body; resolves with the status of the refusal. */
function expectingContinue(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': '50',
        expect: '100-continue',
      },
    });
    req.on('response', (res) => {
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => undefined);
    req.on('continue', () => reject(new Error('asked for the body of a request it refuses')));
    req.flushHeaders();
  });
}

/** A fetch for an SDK transport that notes the status of every answer it gets. */
function recording(statuses: number[]): FetchLike {
  return async (input, init) => {
    const res = await fetch(input, init);
    statuses.push(res.status);
    return res;
  };
}

/** Tokens left in `headers`' caller's `echo` bucket, from an echo call's `RateLimit` header (the call takes one). */
async function echoTokens(target: Harness, headers: Record<string, string>): Promise<number> {
  const res = await postJsonRpc(target.mcpUrl, headers, call('echo', 'tokens'));
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return Number(/;r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]);
}

/**
 * Resolves once `target`'s policy decides a call whose `text` argument is `text` (a hook on the real engine,
 * removed then). Its tokens are taken in the same tick (in-process buckets) and it goes on towards the
 * upstream before the sidecar reads any connection again: a client leaving from now on leaves after its
 * decision and its rate limit, before its call reached the upstream.
 */
function decidedCall(target: Harness, text: string): Promise<void> {
  const engine = target.sidecar.engine;
  const decide = engine.decide.bind(engine);
  return new Promise((resolve) => {
    const spy = vi.spyOn(engine, 'decide').mockImplementation((input) => {
      const decision = decide(input);
      if ((input.action.arguments as { text?: unknown } | undefined)?.text === text) {
        spy.mockRestore();
        resolve();
      }
      return decision;
    });
  });
}

/**
 * Makes `target`'s policy engine throw (a bug stood in for) when it decides a call whose `text` argument is
 * `text`, once; returns the undo. The decide stage does not catch it: the route throws, and the fail-safe ends
 * the request.
 */
function faultOn(target: Harness, text: string): () => void {
  const engine = target.sidecar.engine;
  const decide = engine.decide.bind(engine);
  const spy = vi.spyOn(engine, 'decide').mockImplementation((input) => {
    if ((input.action.arguments as { text?: unknown } | undefined)?.text !== text) return decide(input);
    spy.mockRestore();
    throw new Error('engine fault');
  });
  return () => spy.mockRestore();
}

/** Resolves once `target` has counted a request of `series` (`route status reason`). */
async function counted(target: Harness, series: string): Promise<void> {
  await until(5_000, async () => ((await scrape(target)).requests[series] ?? 0) > 0);
}

/**
 * A `slow` call (request id `id`: the id of a call cut off stays in flight in its session a while) holding
 * `queued`'s one upstream connection until `release` (its client leaves: 499, forwarded). Resolves once the
 * upstream has it.
 */
async function holdUpstream(id: string): Promise<{ release: () => Promise<number> }> {
  upstream.resetCalls();
  const abort = new AbortController();
  const res = postJsonRpc(queued.mcpUrl, queuedUser, call('slow', id, { ms: 20_000 }), abort.signal).catch(
    () => 499,
  );
  await until(5_000, async () => upstream.calls().some((x) => x.name === 'slow'), 5);
  return {
    release: async () => {
      abort.abort();
      return (await res) as number;
    },
  };
}

/** What a call refused after its decision because its client left before it was forwarded leaves behind. */
const GONE_UNFORWARDED = {
  decisions: { 'allow tools/call echo': 3, 'allow tools/call other': 1 },
  // The two echo calls that measured the bucket, the held call (forwarded, its client gone), the refused one.
  audit: ['allow', 'allow 200', 'allow 200', 'deny:request'],
};

const NOTE = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } };

interface Case {
  readonly name: string;
  /** The sidecar it runs against (default the main one). */
  readonly on?: () => Harness;
  /** HTTP requests it makes (the measure waits for them to be counted). */
  readonly requests: number;
  /** What the client got: each HTTP request's status (compared in any order). */
  readonly got: number[];
  readonly act: () => Promise<number[]>;
  readonly want: Partial<Seen>;
}

let user: Record<string, string>;
let dryUser: Record<string, string>;
let limited: Record<string, string>;
let batchLimited: Record<string, string>;
let streamer: Record<string, string>;
let blocked: Record<string, string>;
let queuedUser: Record<string, string>;

beforeAll(async () => {
  queuedUser = await session(queued, ['user'], 'acct-queued');
  user = await session(h, ['user'], 'acct-user');
  dryUser = await session(dry, ['user'], 'acct-user');
  limited = await session(h, ['nobody'], 'acct-limited');
  batchLimited = await session(h, ['nobody'], 'acct-batch-limited');
  streamer = await session(h, ['user'], 'acct-streamer');
  blocked = await session(h, ['user'], 'acct-blocked');
  // A subject and an address blocked (as `mcp-authz blocks add` does), enforced once the sidecar polled them.
  const now = Date.now();
  const block = {
    reason: 'test',
    until: new Date(now + 600_000).toISOString(),
    createdAt: new Date(now).toISOString(),
  };
  await h.sidecar.store.putBlock({ ...block, target: 'subject', value: 'acme/acct-blocked' }, { nowMs: now });
  await h.sidecar.store.putBlock({ ...block, target: 'ip', value: '203.0.113.7' }, { nowMs: now });
  await until(5_000, async () => (await post(h, blocked, ping())) === 403);
});

const bearer = (c: Record<string, string>) => ({ authorization: c.authorization as string });
const status = (res: Response) => res.arrayBuffer().then(() => res.status);

const CASES: Case[] = [
  {
    name: '401 no token',
    requests: 1,
    got: [401],
    act: async () => [await post(h, {}, ping())],
    want: { requests: { 'mcp 401 authn': 1 }, authn: { ERR_AUTHN_MISSING: 1 }, audit: [] },
  },
  {
    name: '401 bad token',
    requests: 1,
    got: [401],
    act: async () => [await post(h, { authorization: 'Bearer not-a-token' }, ping())],
    want: { requests: { 'mcp 401 authn': 1 }, authn: { ERR_AUTHN_INVALID_TOKEN: 1 } },
  },
  {
    name: '403 insufficient_scope (a token without authn.jwt.requiredScopes)',
    requests: 1,
    got: [403],
    act: async () => {
      const token = await h.token({ roles: ['user'], sub: 'acct-user', scope: 'other' });
      return [await post(h, { authorization: `Bearer ${token}` }, ping())];
    },
    want: { requests: { 'mcp 403 authn': 1 }, authn: { ERR_AUTHN_INSUFFICIENT_SCOPE: 1 } },
  },
  {
    name: 'policy deny (200, -32003)',
    requests: 1,
    got: [200],
    act: async () => [await post(h, user, call('run_sql', 1, { query: 'x' }))],
    want: {
      requests: { 'mcp 200 policy': 1 },
      decisions: { 'deny tools/call run_sql': 1 },
      audit: ['deny:policy'],
    },
  },
  {
    name: 'policy deny in a batch with an allowed call and a notification: nothing forwarded',
    requests: 1,
    got: [200],
    act: async () => [await post(h, user, [call('echo', 1), call('run_sql', 2, { query: 'x' }), NOTE])],
    want: {
      requests: { 'mcp 200 policy': 1 },
      decisions: { 'allow tools/call echo': 1, 'deny tools/call run_sql': 1 },
      audit: ['deny:policy', 'deny:policy'],
    },
  },
  {
    name: '400 malformed JSON, invalid JSON-RPC, a repeated key',
    requests: 3,
    got: [400, 400, 400],
    act: async () => [
      await post(h, user, '{"jsonrpc":'),
      await post(h, user, '{"jsonrpc":"1.0","id":1}'),
      await post(h, user, '{"jsonrpc":"2.0","id":1,"method":"ping","method":"ping"}'),
    ],
    want: { requests: { 'mcp 400 request': 3 } },
  },
  {
    name: '413 body over server.maxBodyBytes',
    requests: 1,
    got: [413],
    act: async () => [await post(h, user, call('echo', 1, { text: 'x'.repeat(70_000) }))],
    want: { requests: { 'mcp 413 request': 1 } },
  },
  {
    name: '415 wrong content type',
    requests: 1,
    got: [415],
    act: async () => [await post(h, { ...user, 'content-type': 'text/plain' }, ping())],
    want: { requests: { 'mcp 415 request': 1 } },
  },
  {
    name: '406 from the upstream (no text/event-stream in Accept): decided, forwarded, passed on',
    requests: 1,
    got: [406],
    act: async () => [await post(h, { ...user, accept: 'application/json' }, ping())],
    want: { requests: { 'mcp 406 none': 1 }, decisions: { 'allow ping none': 1 }, audit: ['allow 406'] },
  },
  {
    name: '404 unknown session',
    requests: 1,
    got: [404],
    act: async () => [await post(h, { ...bearer(user), 'mcp-session-id': 'no-such-session' }, ping())],
    want: { requests: { 'mcp 404 request': 1 } },
  },
  {
    name: 'a foreign Origin: the POST and its CORS preflight refused',
    requests: 2,
    got: [403, 403],
    act: async () => {
      const origin = 'https://elsewhere.example';
      const preflight = await fetch(h.mcpUrl, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      return [await post(h, { ...user, origin }, ping()), await status(preflight)];
    },
    want: { requests: { 'mcp 403 request': 1, 'preflight 403 request': 1 } },
  },
  {
    name: 'refused before routing (two Host fields), and before its body (Expect: 100-continue, no token)',
    requests: 2,
    got: [400, 401],
    act: async () => {
      const host = new URL(h.mcpUrl).host;
      return [
        await rawStatus(
          h.mcpUrl,
          `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nHost: ${host}\r\nContent-Length: 0`,
        ),
        await expectingContinue(h.mcpUrl, {}),
      ];
    },
    want: {
      requests: { 'bad_request 400 request': 1, 'mcp 401 authn': 1 },
      authn: { ERR_AUTHN_MISSING: 1 },
    },
  },
  {
    name: "refused by Node's parser before any request object: a malformed request line, a header line without a colon, a head over 16 KiB",
    requests: 3,
    got: [400, 400, 431],
    act: async () => {
      const from = h.logs.length;
      const host = new URL(h.mcpUrl).host;
      const token = (user.authorization as string).slice('Bearer '.length);
      const exchanges = [
        await rawExchange(h.mcpUrl, ['GARBAGE\r\n\r\n']),
        await rawExchange(h.mcpUrl, [`POST /mcp HTTP/1.1\r\nHost: ${host}\r\nno colon here\r\n\r\n`]),
        await rawExchange(h.mcpUrl, [
          `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
        ]),
      ].map(answers);
      // A JSON-RPC error each, as every refusal before routing; the refused head (its token) is never logged.
      expect(exchanges.map((e) => e.codes)).toEqual([
        ['ERR_REQUEST_FRAMING'],
        ['ERR_REQUEST_FRAMING'],
        ['ERR_REQUEST_HEADERS'],
      ]);
      const denied = h.logs.slice(from).filter((l) => l.includes('"msg":"request denied"'));
      expect(denied).toHaveLength(3);
      expect(h.logs.slice(from).join('\n')).not.toContain(token);
      return exchanges.flatMap((e) => e.statuses);
    },
    want: { requests: { 'bad_request 400 request': 2, 'bad_request 431 request': 1 } },
  },
  {
    name: 'a malformed request after another on a kept-alive connection: counted on its own',
    requests: 2,
    got: [404, 400],
    act: async () => {
      const host = new URL(h.mcpUrl).host;
      const exchange = await rawExchange(h.mcpUrl, [
        `GET /nowhere HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        'GARBAGE\r\n\r\n',
      ]);
      return answers(exchange).statuses;
    },
    want: { requests: { 'not_found 404 none': 1, 'bad_request 400 request': 1 } },
  },
  {
    name: '500 a route that throws (the engine, on the second call of a batch): counted, logged, its decided call audited',
    requests: 1,
    got: [500],
    act: async () => {
      const from = h.logs.length;
      const undo = faultOn(h, 'fault');
      try {
        const res = await postJsonRpc(h.mcpUrl, user, [call('echo', 1), call('echo', 2, { text: 'fault' })]);
        expect(await res.json()).toEqual(
          [1, 2].map((id) => ({
            jsonrpc: '2.0',
            id,
            error: { code: -32603, message: 'Internal error', data: { code: 'ERR_INTERNAL' } },
          })),
        );
        const errors = h.logs
          .slice(from)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l.level === 'error');
        expect(errors).toEqual([
          expect.objectContaining({ code: 'ERR_INTERNAL', status: 500, cause: 'engine fault' }),
        ]);
        return [res.status];
      } finally {
        undo();
      }
    },
    want: {
      requests: { 'mcp 500 internal': 1 },
      decisions: { 'allow tools/call echo': 1 },
      audit: ['deny:internal'],
    },
  },
  {
    name: '405 method, 404 unknown path',
    requests: 2,
    got: [405, 404],
    act: async () => [
      await status(await fetch(h.mcpUrl, { method: 'PUT', headers: user })),
      await status(await fetch(`${h.sidecar.publicUrl}/nowhere`)),
    ],
    want: { requests: { 'mcp 405 request': 1, 'not_found 404 none': 1 } },
  },
  {
    name: '429 a batch over its bucket (11 pings, capacity 10): every message refused',
    requests: 1,
    got: [429],
    act: async () => [
      await post(
        h,
        batchLimited,
        Array.from({ length: 11 }, (_, i) => ping(i)),
      ),
    ],
    want: {
      requests: { 'mcp 429 ratelimit': 1 },
      decisions: { 'allow ping none': 11 },
      ratelimit: { subject_tool: 11 },
      audit: Array.from({ length: 11 }, () => 'deny:ratelimit'),
    },
  },
  {
    name: '429 the call after the bucket is empty (a batch of 10 took its 10 tokens)',
    requests: 2,
    got: [200, 429],
    act: async () => [
      await post(
        h,
        limited,
        Array.from({ length: 10 }, (_, i) => ping(i)),
      ),
      await post(h, limited, ping(10)),
    ],
    want: {
      requests: { 'mcp 200 none': 1, 'mcp 429 ratelimit': 1 },
      decisions: { 'allow ping none': 11 },
      ratelimit: { subject_tool: 1 },
      audit: [...Array.from({ length: 10 }, () => 'allow 200'), 'deny:ratelimit'],
    },
  },
  {
    name: '202 notifications and a client response',
    requests: 2,
    got: [202, 202],
    act: async () => [await post(h, user, NOTE), await post(h, user, { jsonrpc: '2.0', id: 99, result: {} })],
    want: { requests: { 'mcp 202 none': 2 } },
  },
  {
    name: 'a batch of a request and a notification, allowed',
    requests: 1,
    got: [200],
    act: async () => [await post(h, user, [ping(1), NOTE])],
    want: { requests: { 'mcp 200 none': 1 }, decisions: { 'allow ping none': 1 }, audit: ['allow 200'] },
  },
  {
    name: '504 upstream too slow',
    requests: 1,
    got: [504],
    act: async () => [await post(h, user, call('slow', 1, { ms: 5_000 }))],
    want: {
      requests: { 'mcp 504 upstream': 1 },
      decisions: { 'allow tools/call other': 1 },
      audit: ['allow'],
    },
  },
  {
    name: '502 upstream down',
    on: () => down,
    requests: 1,
    got: [502],
    act: async () => [await post(down, await down.bearer(['user']), ping())],
    want: { requests: { 'mcp 502 upstream': 1 }, decisions: { 'allow ping none': 1 }, audit: ['allow'] },
  },
  {
    name: '499 client gone while its body is read (not decided)',
    requests: 1,
    got: [499],
    act: async () => {
      await leaveMidBody(h.mcpUrl, user);
      return [499];
    },
    want: { requests: { 'mcp 499 request': 1 } },
  },
  {
    name: "Node's own answers mid-body: a malformed chunk (400), trailers (431), a chunk extension (413) too large",
    requests: 3,
    got: [400, 431, 413],
    act: async () => [
      await chunkedThen(h.mcpUrl, user, 'zz\r\n'),
      await chunkedThen(h.mcpUrl, user, `0\r\nx-trailer: ${'a'.repeat(20_000)}\r\n\r\n`),
      await chunkedThen(h.mcpUrl, user, `5;${'e'.repeat(20_000)}\r\n`),
    ],
    want: { requests: { 'mcp 400 request': 1, 'mcp 431 request': 1, 'mcp 413 request': 1 } },
  },
  {
    name: '499 client gone while the upstream works on its call',
    requests: 1,
    got: [499],
    act: async () => {
      upstream.resetCalls();
      const abort = new AbortController();
      const res = postJsonRpc(h.mcpUrl, user, call('slow', 7, { ms: 400 }), abort.signal).catch(() => 499);
      await until(5_000, async () => upstream.calls().some((x) => x.name === 'slow'), 5);
      abort.abort();
      return [(await res) as number];
    },
    want: { requests: { 'mcp 499 none': 1 }, decisions: { 'allow tools/call other': 1 }, audit: ['allow'] },
  },
  {
    name: '499 client gone after its decision, while its call waits for an upstream connection: tokens given back',
    on: () => queued,
    requests: 4,
    got: [200, 499, 499, 200],
    act: async () => {
      const before = await echoTokens(queued, queuedUser);
      const held = await holdUpstream('held-1');
      const abort = new AbortController();
      const decided = decidedCall(queued, 'waits');
      const res = postJsonRpc(
        queued.mcpUrl,
        queuedUser,
        call('echo', 'gone-1', { text: 'waits' }),
        abort.signal,
      );
      await decided;
      abort.abort();
      const gone = await res.then(status, () => 499);
      // Recorded when its client left, not once the connection it waited for came free.
      await counted(queued, 'mcp 499 request');
      const first = await held.release();
      const after = await echoTokens(queued, queuedUser);
      expect(after).toBe(before - 1);
      expect(upstream.calls().filter((x) => String(x.id).startsWith('gone-'))).toEqual([]);
      return [200, gone, first, 200];
    },
    want: {
      requests: { 'mcp 200 none': 2, 'mcp 499 none': 1, 'mcp 499 request': 1 },
      ...GONE_UNFORWARDED,
    },
  },
  {
    name: '499 client gone after its decision, before its HTTP/1.1 pipelined turn: tokens given back',
    on: () => queued,
    requests: 4,
    got: [200, 499, 499, 200],
    act: async () => {
      const before = await echoTokens(queued, queuedUser);
      upstream.resetCalls();
      const token = (queuedUser.authorization as string).slice('Bearer '.length);
      const sid = `mcp-session-id: ${queuedUser['mcp-session-id']}\r\n`;
      const socket = connect(Number(new URL(queued.mcpUrl).port), '127.0.0.1');
      socket.on('error', () => undefined).resume();
      const closed = new Promise((resolve) => socket.on('close', resolve));
      const decided = decidedCall(queued, 'behind');
      socket.write(
        rawToolCall(token, 21, 'slow', { ms: 20_000 }, sid) +
          rawToolCall(token, 22, 'echo', { text: 'behind' }, sid),
      );
      // The call ahead is at the upstream, the one behind it decided and charged: it waits for its turn.
      await decided;
      await until(5_000, async () => upstream.calls().some((x) => x.name === 'slow'), 5);
      socket.end();
      await closed;
      await counted(queued, 'mcp 499 request');
      const after = await echoTokens(queued, queuedUser);
      expect(after).toBe(before - 1);
      expect(upstream.calls().filter((x) => x.id === 22)).toEqual([]);
      return [200, 499, 499, 200];
    },
    want: {
      requests: { 'mcp 200 none': 2, 'mcp 499 none': 1, 'mcp 499 request': 1 },
      ...GONE_UNFORWARDED,
    },
  },
  {
    name: 'legacy SSE: 499 client gone after its decision, while its message waits for an upstream connection',
    on: () => queued,
    requests: 5,
    got: [200, 200, 499, 499, 200],
    act: async () => {
      const auth = bearer(queuedUser);
      const stream = await fetch(queued.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } });
      const opened = await readUntil(stream, '\n\n');
      const endpoint = /data: (\S+)/.exec(opened.text)?.[1] as string;
      const before = await echoTokens(queued, queuedUser);
      const held = await holdUpstream('held-3');
      const abort = new AbortController();
      const decided = decidedCall(queued, 'legacy');
      const url = new URL(endpoint, queued.sidecar.publicUrl).href;
      const res = postJsonRpc(url, auth, call('echo', 'gone-3', { text: 'legacy' }), abort.signal);
      await decided;
      abort.abort();
      const gone = await res.then(status, () => 499);
      await counted(queued, 'legacy_messages 499 request');
      const first = await held.release();
      const after = await echoTokens(queued, queuedUser);
      expect(after).toBe(before - 1);
      expect(upstream.calls().filter((x) => String(x.id).startsWith('gone-'))).toEqual([]);
      opened.close();
      return [stream.status, 200, gone, first, 200];
    },
    want: {
      requests: {
        'legacy_sse 200 none': 1,
        'mcp 200 none': 2,
        'mcp 499 none': 1,
        'legacy_messages 499 request': 1,
      },
      ...GONE_UNFORWARDED,
    },
  },
  {
    name: 'GET stream, a second one over server.maxStreamsPerCaller (429), DELETE',
    requests: 3,
    got: [200, 429, 200],
    act: async () => {
      const abort = new AbortController();
      const headers = { ...streamer, accept: 'text/event-stream' };
      const first = await fetch(h.mcpUrl, { headers, signal: abort.signal });
      const second = await status(await fetch(h.mcpUrl, { headers }));
      abort.abort();
      const deleted = await status(await fetch(h.mcpUrl, { method: 'DELETE', headers: streamer }));
      return [first.status, second, deleted];
    },
    want: { requests: { 'mcp 200 none': 2, 'mcp 429 ratelimit': 1 } },
  },
  {
    name: 'an SDK client: initialize, tools/list (pruned), its GET stream, DELETE',
    requests: 5,
    got: [200, 200, 200, 200, 202],
    act: async () => {
      const statuses: number[] = [];
      const c = await connectStreamable(h.mcpUrl, await h.bearer(['guest'], { sub: 'acct-sdk' }), {
        fetch: recording(statuses),
      });
      clients.push(c);
      const { tools } = await c.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'list_products']);
      await (c.transport as StreamableHTTPClientTransport).terminateSession();
      await c.close();
      return statuses;
    },
    want: {
      requests: { 'mcp 200 none': 4, 'mcp 202 none': 1 },
      decisions: { 'allow initialize none': 1, 'allow tools/list none': 1 },
      audit: ['allow 200', 'allow 200'],
    },
  },
  {
    name: 'legacy SSE: initialize, an allowed call, a denied one (answered on the stream), the stream',
    requests: 6,
    got: [200, 202, 202, 202, 202, 429],
    act: async () => {
      const auth = await h.bearer(['user'], { sub: 'acct-legacy' });
      const statuses: number[] = [];
      const c = await connectSse(h.sseUrl, auth, { fetch: recording(statuses) });
      await c.callTool({ name: 'echo', arguments: { text: 'x' } });
      const denied = await c.callTool({ name: 'run_sql', arguments: { query: 'x' } }).catch((e: Error) => e);
      expect(String(denied)).toMatch(/Forbidden/);
      // A second stream of the same caller, over server.maxStreamsPerCaller.
      const second = await status(
        await fetch(h.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } }),
      );
      await c.close();
      return [...statuses, second];
    },
    want: {
      requests: {
        'legacy_messages 202 none': 3,
        'legacy_messages 202 policy': 1,
        'legacy_sse 429 ratelimit': 1,
        'legacy_sse 200 none': 1,
      },
      decisions: {
        'allow initialize none': 1,
        'allow tools/call echo': 1,
        'deny tools/call run_sql': 1,
      },
      audit: ['allow 202', 'allow 202', 'deny:policy'],
    },
  },
  {
    name: 'a blocked subject, a blocked address',
    requests: 2,
    got: [403, 403],
    act: async () => [
      await post(h, blocked, ping()),
      await post(h, { ...user, 'x-forwarded-for': '203.0.113.7' }, ping()),
    ],
    want: { requests: { 'mcp 403 ratelimit': 2 } },
  },
  {
    name: 'dry run: a denied call forwarded and answered, audited as not enforced',
    on: () => dry,
    requests: 1,
    got: [200],
    act: async () => [await post(dry, dryUser, call('run_sql', 1, { query: 'x' }))],
    want: {
      requests: { 'mcp 200 none': 1 },
      decisions: { 'deny tools/call run_sql': 1 },
      audit: ['deny:policy! 200'],
    },
  },
  {
    name: 'dry run: a batch refused all the same (arguments no object) holds back its dry-run denial too',
    on: () => dry,
    requests: 1,
    got: [200],
    act: async () => [
      await post(dry, dryUser, [
        call('run_sql', 1, { query: 'x' }),
        call('echo', 2),
        { ...call('echo', 3), params: { name: 'echo', arguments: ['x'] } },
      ]),
    ],
    want: {
      requests: { 'mcp 200 policy': 1 },
      decisions: { 'deny tools/call run_sql': 1, 'allow tools/call echo': 1, 'deny tools/call echo': 1 },
      audit: ['deny:policy', 'deny:policy', 'deny:policy'],
    },
  },
  {
    name: 'dry run: an anonymous caller denied is asked to sign in (401), nothing forwarded',
    on: () => dry,
    requests: 1,
    got: [401],
    act: async () => [await post(dry, {}, call('run_sql', 1, { query: 'x' }))],
    want: {
      requests: { 'mcp 401 policy': 1 },
      decisions: { 'deny tools/call run_sql': 1 },
      audit: ['deny:policy'],
    },
  },
];

describe('every answer is counted once, as answered, and audited as answered', () => {
  it.each(CASES)('$name', async (c) => {
    const target = c.on?.() ?? h;
    let got: number[] = [];
    refusedIds = [];
    const seen = await measure(target, c.requests, async () => {
      got = await c.act();
    });
    // In order of the answers (an SDK client's GET stream answers while its POSTs go on).
    expect([...got].sort()).toEqual([...c.got].sort());
    // Every HTTP request once, with the status its client got.
    const statuses: Counts = {};
    for (const [k, n] of Object.entries(seen.requests)) {
      const status = k.split(' ')[1] as string;
      statuses[status] = (statuses[status] ?? 0) + n;
    }
    const gotCounts: Counts = {};
    for (const s of c.got) gotCounts[String(s)] = (gotCounts[String(s)] ?? 0) + 1;
    expect(statuses).toEqual(gotCounts);
    // A decision id given to a client with a refusal names a record that says deny.
    for (const id of refusedIds) {
      expect(seen.records.filter((r) => r.decision_id === id).map((r) => r.decision)).toEqual(['deny']);
    }
    expect({
      requests: seen.requests,
      decisions: seen.decisions,
      ratelimit: seen.ratelimit,
      authn: seen.authn,
      audit: seen.audit,
    }).toEqual({ requests: {}, decisions: {}, ratelimit: {}, authn: {}, audit: [], ...c.want });
  });
});
