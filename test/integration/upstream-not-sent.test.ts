/**
 * Calls the upstream never received although they were allowed and charged: refused busy by the sidecar
 * (503 `ERR_UPSTREAM_BUSY`: every upstream connection in use, none may wait) or answered 502 because their
 * connection could not be opened (the upstream is down). Nothing of them ran, so: their rate-limit tokens go
 * back (their audit records' `rate_limit.remaining` counts them), their ids are not held in flight for a late
 * reply that cannot come, and a client's answer to a server request they carried is still owed (its retry
 * passes free). Calls whose clients left while they waited
 * for an upstream connection (refused then, 499) wait for nothing, although undici keeps them queued until
 * their turn: they are not counted against `upstream.maxPendingRequests`. Real sidecars in front of a real MCP
 * SDK server (whose `echo` asks its client before it answers) and of a port nothing listens on.
 *
 * @module
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { Upstream, type UpstreamRequest } from '../../src/proxy/upstream.js';
import { deadPort } from '../helpers/dead-port.js';
import { openSession, postJsonRpc } from '../helpers/http.js';
import { type SdkUpstream, startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

/** Failure guard only: every step below finishes in well under a second when the code is right. */
const GUARD_MS = 5_000;

let sdk: SdkUpstream;
/** Two upstream connections, none may wait for one; a frozen clock (no token refills). */
let busy: Harness;
/** The upstream is down (nothing listens); a frozen clock; unknown session ids forwarded. */
let down: Harness;
/** One upstream connection, at most 3 calls waiting for it. */
let queue: Harness;

/** `slow` calls the upstream holds until {@link releaseSlow}; `slowStarted` resolves once `n` are held. */
const slowHeld: (() => void)[] = [];
const slowWaiters: { n: number; resolve: () => void }[] = [];
function slowStarted(n: number): Promise<void> {
  return new Promise((resolve) => {
    slowWaiters.push({ n, resolve });
    noteSlow();
  });
}
function noteSlow(): void {
  for (const w of slowWaiters.splice(0)) {
    if (slowHeld.length >= w.n) w.resolve();
    else slowWaiters.push(w);
  }
}
function releaseSlow(): void {
  for (const r of slowHeld.splice(0)) r();
}

beforeAll(async () => {
  sdk = await startSdkUpstream(async (t) => {
    const server = new McpServer({ name: 'asks', version: '1' });
    // Asked on the call's own reply stream, which holds its upstream connection until answered.
    server.registerTool('echo', { annotations: { readOnlyHint: true } }, async (extra) => {
      const answer = await server.server.elicitInput(
        { message: 'go on?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } },
        { timeout: 10_000, relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: `answered ${answer.action}` }] };
    });
    server.registerTool('slow', { annotations: { readOnlyHint: true } }, async () => {
      await new Promise<void>((resolve) => {
        slowHeld.push(resolve);
        noteSlow();
      });
      return { content: [{ type: 'text', text: 'slow' }] };
    });
    await server.connect(t);
  });
  const frozen = Date.now();
  busy = await startHarness({
    upstream: { url: sdk.url } as unknown as ExampleServer,
    now: () => frozen,
    config: {
      upstream: { connections: 2, maxPendingRequests: 0 },
      // Role user's notifications bucket holds 1 token.
      ratelimit: { tiers: { user: { capacity: 1, refillPerSecond: 0.01 } } },
    },
  });
  down = await startHarness({
    upstream: busy.upstream,
    issuer: busy.issuer,
    now: () => frozen,
    config: {
      upstream: { url: `http://127.0.0.1:${await deadPort()}/mcp` },
      server: { unknownSessions: 'forward' },
    },
  });
  queue = await startHarness({
    upstream: busy.upstream,
    issuer: busy.issuer,
    config: { upstream: { connections: 1, maxPendingRequests: 3 } },
  });
});

// A test that failed half-way leaves none held for the next.
afterEach(releaseSlow);

afterAll(async () => {
  await queue?.stop();
  await down?.stop();
  await busy?.stop();
  await sdk?.close();
});

const ping = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'ping' });
const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** POSTs `body`; resolves with the status once the reply is read. */
async function status(target: Harness, headers: Record<string, string>, body: unknown): Promise<number> {
  const res = await postJsonRpc(target.mcpUrl, headers, body);
  await res.arrayBuffer();
  return res.status;
}

/** A session at `busy`'s upstream whose client takes elicitations, `notifications/initialized` sent. */
async function elicitingSession(token: string): Promise<Record<string, string>> {
  const auth = { authorization: `Bearer ${token}` };
  const init = await postJsonRpc(busy.mcpUrl, auth, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'p', version: '1' },
    },
  });
  await init.text();
  const session = {
    ...auth,
    'mcp-session-id': init.headers.get('mcp-session-id') as string,
    'mcp-protocol-version': '2025-06-18',
  };
  expect(await status(busy, session, { jsonrpc: '2.0', method: 'notifications/initialized' })).toBe(202);
  return session;
}

/** Reads `reader` until its text holds `what`; the text read so far. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string, what: string) {
  const decoder = new TextDecoder();
  let out = text;
  while (!out.includes(what)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before ${what}: ${out}`);
    out += decoder.decode(value, { stream: true });
  }
  return out;
}

describe('refused busy (503): never sent', () => {
  it('its calls get their rate-limit tokens back', async () => {
    const token = await busy.token({ roles: ['user'], sub: 'holder' });
    const holder = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': await openSession(busy.mcpUrl, token),
    };
    // Both upstream connections held by slow calls: anything more would wait, and none may.
    const held = [status(busy, holder, call(1, 'slow')), status(busy, holder, call(2, 'slow'))];
    await settlesWithin(GUARD_MS, slowStarted(2), 'both slow calls reaching the upstream');
    // Role nobody: 10 tokens, none refilled (frozen clock). A batch of 10 takes them all, and is refused busy.
    const caller = { authorization: `Bearer ${await busy.token({ roles: ['nobody'], sub: 'shed' })}` };
    const batch = Array.from({ length: 10 }, (_, i) => ping(i + 1));
    expect(await status(busy, caller, batch)).toBe(503);
    // Given back: the next is refused busy again, not 429.
    expect(await status(busy, caller, ping(11))).toBe(503);
    releaseSlow();
    expect(await settlesWithin(GUARD_MS, Promise.all(held), 'the slow calls')).toEqual([200, 200]);
  });

  it("a client's answer to a server request it carried is still owed: sent again, it passes free", async () => {
    const token = await busy.token({ roles: ['user'], sub: 'asked' });
    // `initialized` took the notifications bucket's one token: an answer not owed would be refused 429.
    const session = await elicitingSession(token);
    // The call whose reply stream carries the server's request holds one connection until it is answered...
    const asking = await postJsonRpc(busy.mcpUrl, session, call(2, 'echo'));
    const reader = (asking.body as ReadableStream<Uint8Array>).getReader();
    let stream = await readUntil(reader, '', 'elicitation/create');
    const asked = JSON.parse(
      (/^data: (.*elicitation\/create.*)$/m.exec(stream) as RegExpExecArray)[1] as string,
    );
    // ...and a slow call the other.
    const slow = status(busy, session, call(3, 'slow'));
    await settlesWithin(GUARD_MS, slowStarted(1), 'the slow call reaching the upstream');
    const answer = { jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: { ok: true } } };
    expect(await status(busy, session, answer)).toBe(503);
    releaseSlow();
    expect(await settlesWithin(GUARD_MS, slow, 'the slow call')).toBe(200);
    // The upstream never got the answer: it still waits, and the answer sent again is free.
    expect(await status(busy, session, answer)).toBe(202);
    stream = await readUntil(reader, stream, 'answered accept');
    expect(stream).toContain('answered accept');
  });
});

describe('the upstream down (502, its connection never opened): never sent', () => {
  it('its calls get their rate-limit tokens back', async () => {
    const caller = { authorization: `Bearer ${await down.token({ roles: ['nobody'], sub: 'down' })}` };
    const batch = Array.from({ length: 10 }, (_, i) => ping(i + 1));
    expect(await status(down, caller, batch)).toBe(502);
    expect(await status(down, caller, ping(11))).toBe(502);
  });

  it("its audit record's rate_limit.remaining counts the tokens given back", async () => {
    const caller = { authorization: `Bearer ${await down.token({ roles: ['nobody'], sub: 'down-audit' })}` };
    // Role nobody: 10 tokens, none refilled (frozen clock). The call took one; it went back.
    expect(await status(down, caller, ping('audited'))).toBe(502);
    const records = () =>
      down.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"down-audit"'))
        .map((l) => JSON.parse(l) as { decision: string; rate_limit: unknown });
    await until(GUARD_MS, async () => records().length > 0);
    expect(records()).toEqual([
      expect.objectContaining({
        decision: 'allow',
        rate_limit: { limit: 10, remaining: 10, retry_after_ms: 0, allowed: true },
      }),
    ]);
  });

  it('its request ids are not held in flight for a late reply: the same id in the session is sent again', async () => {
    const token = await down.token({ roles: ['user'], sub: 'down-ids' });
    const session = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': 'a-session-this-replica-never-saw',
    };
    expect(await status(down, session, ping('again'))).toBe(502);
    // Not 400 "already in flight": the upstream never had the first, so no reply to it can come.
    expect(await status(down, session, ping('again'))).toBe(502);
  });
});

/** Resolves once `target` counted `n` requests of `series` (`mcp_authz_requests_total{…}`, compact). */
async function counted(target: Harness, series: string, n: number): Promise<void> {
  await until(GUARD_MS, async () => {
    const text = await (await fetch(`${target.sidecar.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`mcp_authz_requests_total{${series}`));
    return Number(line?.split(' ').pop() ?? 0) >= n;
  });
}

/** Resolves once the sidecar handed the upstream client a request whose body holds `marker`. */
function handedOver(marker: string): Promise<void> {
  const request = Upstream.prototype.request;
  return new Promise((resolve) => {
    const spy = vi.spyOn(Upstream.prototype, 'request').mockImplementation(function (
      this: Upstream,
      r: UpstreamRequest,
    ) {
      const sent = request.call(this, r);
      if (r.body?.includes(marker)) {
        spy.mockRestore();
        resolve();
      }
      return sent;
    });
  });
}

describe('clients that left while their calls waited for an upstream connection', () => {
  it('leave no call counted against upstream.maxPendingRequests: a live call after them waits, not 503', async () => {
    const token = await queue.token({ roles: ['user'], sub: 'queued' });
    const session = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': await openSession(queue.mcpUrl, token),
    };
    // A slow call holds the one connection.
    const holding = status(queue, session, call(1, 'slow'));
    await settlesWithin(GUARD_MS, slowStarted(1), 'the slow call reaching the upstream');
    // As many calls as may wait queue behind it, one after the other; then their clients leave.
    const leavers: AbortController[] = [];
    for (const id of [2, 3, 4]) {
      const leaver = new AbortController();
      leavers.push(leaver);
      const queued = handedOver(`"waits-${id}"`);
      postJsonRpc(queue.mcpUrl, session, call(id, 'echo', { text: `waits-${id}` }), leaver.signal).catch(
        () => undefined,
      );
      await settlesWithin(GUARD_MS, queued, `call ${id} waiting for the connection`);
    }
    for (const leaver of leavers) leaver.abort();
    await counted(queue, 'route="mcp",status="499",reason="request"', 3);
    // undici still holds the three until their turn; they wait for nothing, so this one may wait.
    const live = status(queue, session, call(5, 'slow'));
    releaseSlow();
    const first = await settlesWithin(
      GUARD_MS,
      Promise.race([live.then((s) => `answered ${s}`), slowStarted(1).then(() => 'at the upstream')]),
      'the live call',
    );
    expect(first).toBe('at the upstream');
    releaseSlow();
    expect(await settlesWithin(GUARD_MS, Promise.all([holding, live]), 'both slow calls')).toEqual([
      200, 200,
    ]);
  });
});
