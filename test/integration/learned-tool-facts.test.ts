/**
 * Where the sidecar learns tool facts (annotations, `Mcp-Param-*` marks, argument names) from, through a real
 * sidecar in front of an MCP SDK server whose `echo_json` tool answers with the JSON its caller gives it,
 * spread into its result: a caller can make it answer `{ "tools": [...] }`. Such a reply is no `tools/list`
 * reply, and teaches nothing: a caller naming the destructive `wipe_records` read-only in it is still
 * refused its call (role `user` may not call destructive tools), on Streamable HTTP (event-stream and JSON
 * replies, a batch) and on the legacy HTTP+SSE transport (an SDK client, and a caller reusing the id of its
 * own `tools/list` for the echo). The upstream's own `tools/list` replies still teach, after a
 * `notifications/tools/list_changed` too; and after one, what was learnt before no longer decides a call, nor
 * does a list sent before it, while the notification replayed on a resumed stream is not acted on again.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { UntaughtSessions } from '../../src/mcp/untaught-sessions.js';
import { initializedSession, postJsonRpc } from '../helpers/http.js';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';
import { OrderedEventStore } from '../helpers/ordered-event-store.js';
import { type SdkUpstreamOptions, startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const WIPE = 'wipe_records';
const ECHO = 'echo_json';

/** What a caller has `echo_json` answer: `wipe_records` said to be read-only. */
const PLANTED = {
  tools: [
    {
      name: WIPE,
      inputSchema: { type: 'object', properties: { Tenant: { type: 'string' } } },
      annotations: { readOnlyHint: true, destructiveHint: false },
    },
  ],
};

interface Upstream {
  readonly url: string;
  /** The arguments of every `wipe_records` call that reached the upstream. */
  readonly wiped: unknown[];
  /**
   * Makes `wipe_records` read-only (or, `false`, destructive) from now on, and tells every open session its
   * tools changed.
   */
  relist(readOnly?: boolean): Promise<void>;
  /** Holds every `tools/list` answer, or every `echo_json` one, until the returned function is called. */
  hold(what: 'lists' | 'echoes'): () => void;
  /** Resolves once a held `tools/list` answer (made before the hold: what is listed then) waits. */
  waiting(what: 'lists'): Promise<void>;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

interface UpstreamOptions extends SdkUpstreamOptions {
  /**
   * `echo_json` ends its call's event stream before it answers (SSE polling: resumable streams, 2025-11-25
   * clients), leaving its answer to a later stream.
   */
  readonly polling?: boolean;
  /**
   * `echo_json` ends its call's event stream before it answers at any protocol version (a batch's stream, as
   * a dropped connection would), after a log message whose event id resumes it: its answer comes on the GET
   * resuming it with `Last-Event-ID`, as on a polled one.
   */
  readonly resumable?: boolean;
  /** `wipe_records` is listed read-only at first (by default destructive). */
  readonly wipeReadOnly?: boolean;
}

async function upstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const wiped: unknown[] = [];
  const servers: Server[] = [];
  let wipeReadOnly = options.wipeReadOnly === true;
  const held: { lists?: Promise<void>; echoes?: Promise<void> } = {};
  const reached: { lists?: () => void } = {};
  const started = await startSdkUpstream(
    async (t: Transport) => {
      const server = new Server(
        { name: 'facts', version: '1' },
        { capabilities: { tools: { listChanged: true }, ...(options.resumable ? { logging: {} } : {}) } },
      );
      server.setRequestHandler(ListToolsRequestSchema, async () => {
        // The answer is made first, then held: a list the tools changed after is stale.
        const listed = {
          tools: [
            {
              name: WIPE,
              inputSchema: { type: 'object' as const, properties: { tenant: { type: 'string' } } },
              annotations: { readOnlyHint: wipeReadOnly, destructiveHint: !wipeReadOnly },
            },
            {
              name: ECHO,
              inputSchema: { type: 'object' as const, properties: { json: { type: 'string' } } },
              annotations: { readOnlyHint: true, destructiveHint: false },
            },
          ],
        };
        reached.lists?.();
        await held.lists;
        return listed;
      });
      server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
        if (req.params.name === ECHO) {
          if (options.polling) extra.closeSSEStream?.();
          if (options.resumable) {
            await extra.sendNotification({
              method: 'notifications/message',
              params: { level: 'info', data: 'working' },
            });
            (t as StreamableHTTPServerTransport).closeSSEStream(extra.requestId);
          }
          await held.echoes;
          return { content: [], ...(JSON.parse(String(req.params.arguments?.json)) as object) };
        }
        wiped.push(req.params.arguments ?? {});
        return { content: [{ type: 'text' as const, text: 'wiped' }] };
      });
      servers.push(server);
      await server.connect(t);
    },
    options.polling || options.resumable ? () => new OrderedEventStore() : undefined,
    options,
  );
  stops.push(() => started.close());
  return {
    url: started.url,
    wiped,
    async relist(readOnly = true) {
      wipeReadOnly = readOnly;
      // Sessions that ended (the sidecar's own discovery sessions) have nowhere to send it.
      await Promise.all(servers.map((s) => s.sendToolListChanged().catch(() => undefined)));
    },
    hold(what) {
      let open!: () => void;
      held[what] = new Promise<void>((resolve) => {
        open = resolve;
      });
      return () => {
        delete held[what];
        open();
      };
    },
    waiting(what) {
      return new Promise<void>((resolve) => {
        reached[what] = resolve;
      });
    },
  };
}

async function harness(up: Upstream, config?: Record<string, unknown>): Promise<Harness> {
  const h = await startHarness({ upstream: { url: up.url } as unknown as ExampleServer, config });
  stops.push(() => h.stop());
  return h;
}

/** The JSON-RPC messages of a reply body: a JSON message or batch, or an event stream's messages. */
async function messages(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream'))
    return [JSON.parse(text)].flat();
  return [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1] ?? 'null'));
}

const echoCall = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: ECHO, arguments: { json: JSON.stringify(PLANTED) } },
});

const wipeCall = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: WIPE, arguments: {} },
});

/** The JSON-RPC error code of a refusal, or 0 for a reply with a result. */
function errorCode(msg: Record<string, unknown> | undefined): number {
  const error = msg?.error as { code?: number } | undefined;
  return error?.code ?? 0;
}

describe('a tools/call result carrying a tools field, on Streamable HTTP', () => {
  it.each([
    ['event-stream', false],
    ['JSON', true],
  ])('teaches nothing (%s replies)', async (_kind, jsonResponse) => {
    const up = await upstream({ jsonResponse });
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-06-18');
    // The upstream's own list: wipe_records is destructive, so role user may not call it.
    const listed = await messages(
      await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    );
    expect(listed[0]?.result).toBeDefined();
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(2))))[0])).toBe(-32003);
    // The echo answers the planted list; its caller gets it (pruned as any list is), the sidecar learns nothing.
    const echoed = await messages(await postJsonRpc(h.mcpUrl, headers, echoCall(3)));
    expect(echoed[0]?.result).toBeDefined();
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(4))))[0])).toBe(-32003);
    expect(up.wiped).toEqual([]);
  });

  it('teaches nothing beside a tools/list in the same batch', async () => {
    // JSON replies: the batch's answers come in its order, the list's first (with the echo's learnt after it,
    // it would have the last word).
    const up = await upstream({ jsonResponse: true });
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-03-26');
    const replies = await messages(
      await postJsonRpc(h.mcpUrl, headers, [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, echoCall(2)]),
    );
    expect(replies.map((r) => r.id)).toEqual([1, 2]);
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(3))))[0])).toBe(-32003);
    expect(up.wiped).toEqual([]);
  });
});

describe('the late answer to a call, on Streamable HTTP', () => {
  it('comes on no tools/list reusing its id once the upstream ended the call’s stream early (SSE polling)', async () => {
    // The upstream sends an answer to the POST that sent its id last: a tools/list reusing the id of a call
    // still owed its answer would get the echo's, and learn it as the list.
    const up = await upstream({ polling: true });
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-11-25');
    await messages(await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(2))))[0])).toBe(-32003);
    const echoes = up.hold('echoes');
    const done = () => h.logs.filter((l) => l.includes('request forwarded')).length;
    const before = done();
    // Its stream ends with the priming event only: the answer is owed, for a stream resumed later.
    expect(await messages(await postJsonRpc(h.mcpUrl, headers, echoCall(3)))).toEqual([]);
    await until(5_000, async () => done() > before);
    const lists = up.hold('lists');
    const reused = await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 3, method: 'tools/list' });
    echoes();
    const answer = await messages(reused);
    lists();
    expect(reused.status).toBe(400);
    expect(errorCode(answer[0])).toBe(-32600);
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(4))))[0])).toBe(-32003);
    expect(up.wiped).toEqual([]);
  });
});

describe('a session that had a call cut off before its answer, on Streamable HTTP', () => {
  it('still teaches from lists under other ids; the call’s id is held, and a list reusing it later teaches nothing', async () => {
    // The call's id is held for its late answer a while only: once free, a tools/list reusing it could get
    // the answer of a call still running upstream (past the grace, or released early at the bound), so such a
    // list teaches nothing (unit-tested: in-flight-ids, untaught-sessions). Another id cannot get that answer.
    const up = await upstream();
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-06-18');
    await messages(await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    const echoes = up.hold('echoes');
    const done = () => h.logs.filter((l) => l.includes('request forwarded')).length;
    const before = done();
    const cut = new AbortController();
    // Its event stream's headers: the upstream has the call.
    const res = await postJsonRpc(h.mcpUrl, headers, echoCall(2), cut.signal);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    cut.abort();
    await until(5_000, async () => done() > before);
    echoes();
    const reused = await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(reused.status).toBe(400);
    await reused.text();
    // The upstream's own list now says wipe_records is read-only: this session's reply under a new id teaches.
    await up.relist();
    const listed = await messages(
      await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    );
    expect(listed[0]?.result).toHaveProperty('tools');
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(4))))[0])).toBe(0);
    expect(up.wiped).toEqual([{}]);
  });
});

describe('a session whose calls’ streams end before their answers, resumed with Last-Event-ID', () => {
  it('still teaches after more calls cut off than its bound, their answers having come on the resumed streams', async () => {
    // Each call cut off is remembered, so that a list reusing its id teaches nothing (untaught-sessions.ts),
    // until its answer came on a GET resuming its stream (as SSE polling, 2025-11-25, has every call's): past
    // 1,024 remembered, the session was untaught whole and no list of it taught again. Batches (2025-03-26) of
    // 100, the SDK server's largest: 1,100 calls in 11 POSTs.
    const up = await upstream({ resumable: true });
    const h = await harness(up, { ratelimit: { enabled: false } });
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-03-26');
    await messages(await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(2))))[0])).toBe(-32003);
    const done = () => h.logs.filter((l) => l.includes('request forwarded')).length;
    let next = 10;
    for (let batch = 0; batch < 11; batch++) {
      const ids = Array.from({ length: 100 }, () => next++);
      const before = done();
      const calls = ids.map((id) => ({ ...echoCall(id), params: { name: ECHO, arguments: { json: '{}' } } }));
      // Its stream ends after a log message: every answer is owed, for the stream resumed below.
      const text = await (await postJsonRpc(h.mcpUrl, headers, calls)).text();
      expect(text).not.toMatch(/"(result|error)"/);
      // Resumed from the last event id it got, as an SSE client does.
      const resumeAt = [...text.matchAll(/^id: (.+)$/gm)].at(-1)?.[1];
      expect(resumeAt).toBeDefined();
      // The POST finished: its calls are remembered as cut off.
      await until(5_000, async () => done() > before);
      const resumed = await eventStream(h.mcpUrl, { ...headers, 'last-event-id': resumeAt ?? '' });
      expect(await resumed.answered(ids.length)).toEqual(ids);
      resumed.close();
    }
    // The upstream now lists wipe_records read-only: the session's next list teaches it.
    await up.relist();
    const listed = await messages(
      await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: next++, method: 'tools/list' }),
    );
    expect(listed[0]?.result).toHaveProperty('tools');
    expect(errorCode((await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(next))))[0])).toBe(0);
    expect(up.wiped).toEqual([{}]);
  });
});

describe('a call cut off, then an earlier answer under its id replayed from that answer’s own stream', () => {
  it('forgets the cut-off id only on a GET resuming the call’s own stream', async () => {
    // A tools/list 7 answered in full, then a call reusing 7 cut off (its stream ended after its priming event):
    // a GET resuming the list's stream replays the list's answer under 7, which says nothing of the call's.
    // Taken for it, the call's mark went, and once the hold ended a tools/list reusing 7 got the call's late
    // answer (an echo of the caller's making) and learnt it. Seen here through the marks forgotten (the hold
    // is five minutes): none for the list's stream, one for the call's.
    const up = await upstream({ polling: true });
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-11-25');
    const list = await (
      await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 7, method: 'tools/list' })
    ).text();
    expect(list).toMatch(/"tools"/);
    const listStream = /^id: (.+)$/m.exec(list)?.[1] ?? '';
    const echoes = up.hold('echoes');
    const done = () => h.logs.filter((l) => l.includes('request forwarded')).length;
    const before = done();
    const call = await (await postJsonRpc(h.mcpUrl, headers, echoCall(7))).text();
    const callStream = [...call.matchAll(/^id: (.+)$/gm)].at(-1)?.[1] ?? '';
    expect([call.includes('"result"'), callStream === '' || callStream === listStream]).toEqual([
      false,
      false,
    ]);
    await until(5_000, async () => done() > before);
    const forgot = vi.spyOn(UntaughtSessions.prototype, 'answered');
    try {
      const replayed = await eventStream(h.mcpUrl, { ...headers, 'last-event-id': listStream });
      expect(await replayed.answered(1)).toEqual([7]);
      replayed.close();
      expect(forgot.mock.results.map((r) => r.value)).not.toContain(true);
      echoes();
      const resumed = await eventStream(h.mcpUrl, { ...headers, 'last-event-id': callStream });
      expect(await resumed.answered(1)).toEqual([7]);
      resumed.close();
      expect(forgot.mock.results.map((r) => r.value)).toContain(true);
    } finally {
      forgot.mockRestore();
    }
  });
});

/** An SDK client's refusal code for `call`, or 0 when it was answered. */
async function refusal(call: Promise<unknown>): Promise<number> {
  return call.then(
    () => 0,
    (err: unknown) => (err instanceof McpError ? err.code : -1),
  );
}

describe('a tools/call result carrying a tools field, on the legacy HTTP+SSE transport', () => {
  it('teaches nothing', async () => {
    const up = await upstream();
    const h = await harness(up);
    const c = await connectSse(h.sseUrl, await h.bearer(['user']));
    stops.push(() => c.close());
    await c.listTools();
    expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(-32003);
    await c.callTool({ name: ECHO, arguments: { json: JSON.stringify(PLANTED) } });
    expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(-32003);
    expect(up.wiped).toEqual([]);
  });

  it.each([
    ['the echo', 'lists'],
    ['the list', 'echoes'],
  ] as const)(
    'teaches nothing under the id of a tools/list the session sent (%s answered first)',
    async (_first, held) => {
      // The caller sends tools/list 7 and then its echo under the same id 7, one of them answered late: either
      // reply may be the first, or the last, under the list's id.
      const up = await upstream();
      const h = await harness(up);
      const stream = await legacyStream(h, await h.bearer(['user']));
      stops.push(async () => stream.close());
      await stream.post({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      });
      await stream.reply(0);
      await stream.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // Both tools known first (else the calls would wait for the sidecar's discovery, whose list may be held).
      await stream.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      await stream.reply(1);
      const release = up.hold(held);
      await stream.post({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
      await stream.post(echoCall(7));
      const first = await stream.reply(7);
      expect(first.result).toHaveProperty(held === 'lists' ? 'content' : 'tools');
      release();
      await stream.reply(7, 2);
      await stream.post(wipeCall(8));
      expect(errorCode(await stream.reply(8))).toBe(-32003);
      expect(up.wiped).toEqual([]);
    },
  );
});

/**
 * A `user` client of a sidecar in front of `up` that has listed the tools once, and a promise of the upstream's
 * next `notifications/tools/list_changed` to it.
 */
async function listingClient(
  up: Upstream,
  connect: typeof connectStreamable | typeof connectSse,
  url: 'mcpUrl' | 'sseUrl',
): Promise<{ c: Client; h: Harness; told: Promise<void> }> {
  const h = await harness(up);
  const c: Client = await connect(h[url], await h.bearer(['user']));
  stops.push(() => c.close());
  const told = new Promise<void>((resolve) => {
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
  });
  await c.listTools();
  return { c, h, told };
}

describe('the upstream’s own tools/list replies', () => {
  it.each([
    ['Streamable HTTP', connectStreamable, 'mcpUrl'],
    ['legacy HTTP+SSE', connectSse, 'sseUrl'],
  ] as const)('teach, after notifications/tools/list_changed too (%s)', async (_kind, connect, url) => {
    const up = await upstream();
    const { c, told } = await listingClient(up, connect, url);
    expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(-32003);
    await up.relist();
    await told;
    await c.listTools();
    expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(0);
    expect(up.wiped).toEqual([{}]);
  });
});

describe('notifications/tools/list_changed', () => {
  it.each([
    ['Streamable HTTP', connectStreamable, 'mcpUrl'],
    ['legacy HTTP+SSE', connectSse, 'sseUrl'],
  ] as const)(
    'leaves no tool decided on what was learnt before it, the client not listing again (%s)',
    async (_kind, connect, url) => {
      // wipe_records, listed read-only (role user may call it), turns destructive: the upstream says its tools
      // changed, and a call the client makes straight away must not be decided as read-only.
      const up = await upstream({ wipeReadOnly: true });
      const { c, h, told } = await listingClient(up, connect, url);
      expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(0);
      await up.relist(false);
      await told;
      expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(-32003);
      expect(up.wiped).toEqual([{}]);
      expect(h.logs.some((l) => l.includes('upstream tools changed'))).toBe(true);
    },
  );
});

describe('notifications/tools/list_changed replayed', () => {
  it('is acted on once: a stream resumed with Last-Event-ID replays it, and the tools listed since stay known', async () => {
    // A caller resuming its stream from before a notification has it replayed as often as it likes: each time,
    // every tool was unseen again, and the calls of other callers made while the discovery cooled down (or,
    // here, failed) were decided as destructive.
    const up = await upstream({ polling: true, wipeReadOnly: true });
    const h = await harness(up);
    const headers = await initializedSession(h.mcpUrl, await h.bearer(['user']), '2025-11-25');
    const live = await eventStream(h.mcpUrl, headers);
    await up.relist();
    await up.relist();
    const ids = await live.notified(2);
    live.close();
    await messages(await postJsonRpc(h.mcpUrl, headers, { jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    const replayed = await eventStream(h.mcpUrl, { ...headers, 'last-event-id': ids[0] ?? '' });
    await replayed.notified(1);
    replayed.close();
    // Still known: decided on the list, without a discovery (whose list would be held until it timed out).
    const lists = up.hold('lists');
    const answer = await messages(await postJsonRpc(h.mcpUrl, headers, wipeCall(2)));
    lists();
    expect(errorCode(answer[0])).toBe(0);
    expect(up.wiped).toEqual([{}]);
  });
});

interface EventStream {
  /** The SSE event ids of the first `n` tools/list_changed notifications on the stream, once they came. */
  notified(n: number): Promise<string[]>;
  /** The ids of the first `n` responses on the stream, once they came. */
  answered(n: number): Promise<unknown[]>;
  close(): void;
}

/** Opens a Streamable HTTP GET stream through the sidecar by hand (to resume it with a chosen event id). */
async function eventStream(url: string, headers: Record<string, string>): Promise<EventStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { ...headers, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const seen: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => seen.push(e) });
  const changed = () => seen.filter((e) => e.data.includes('notifications/tools/list_changed'));
  const responses = () =>
    seen.flatMap((e) => {
      const msg = e.data.trim() === '' ? undefined : (JSON.parse(e.data) as Record<string, unknown>);
      return msg && 'id' in msg && ('result' in msg || 'error' in msg) ? [msg.id] : [];
    });
  const readUntil = async (enough: () => boolean) => {
    while (!enough()) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error('the event stream ended');
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  };
  return {
    async notified(n) {
      await readUntil(() => changed().length >= n);
      return changed().map((e) => e.id ?? '');
    },
    async answered(n) {
      await readUntil(() => responses().length >= n);
      return responses().slice(0, n);
    },
    close: () => abort.abort(),
  };
}

describe('a tools/list answered after notifications/tools/list_changed', () => {
  it.each([
    ['Streamable HTTP', connectStreamable, 'mcpUrl'],
    ['legacy HTTP+SSE', connectSse, 'sseUrl'],
  ] as const)(
    'teaches nothing when it was sent before the notification: it may list the tools as they were (%s)',
    async (_kind, connect, url) => {
      // wipe_records, listed read-only, turns destructive while a tools/list made before the change is held:
      // its answer still says read-only, and must not undo the forgetting the notification brought.
      const up = await upstream({ wipeReadOnly: true });
      const { c, told } = await listingClient(up, connect, url);
      expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(0);
      const waiting = up.waiting('lists');
      const release = up.hold('lists');
      const stale = c.listTools();
      await waiting;
      await up.relist(false);
      await told;
      release();
      const wipe = (await stale).tools.find((t) => t.name === WIPE);
      expect(wipe?.annotations?.readOnlyHint).toBe(true);
      expect(await refusal(c.callTool({ name: WIPE, arguments: {} }))).toBe(-32003);
      expect(up.wiped).toEqual([{}]);
    },
  );
});

interface LegacyStream {
  /** POSTs one message to the stream's session (202 expected). */
  post(msg: unknown): Promise<void>;
  /** The `nth` response (default the first) under `id` to come on the stream. */
  reply(id: number, nth?: number): Promise<Record<string, unknown>>;
  close(): void;
}

/** Opens a legacy SSE stream through the sidecar by hand (an SDK client never reuses an id). */
async function legacyStream(h: Harness, auth: Record<string, string>): Promise<LegacyStream> {
  const abort = new AbortController();
  const res = await fetch(h.sseUrl, {
    headers: { ...auth, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const seen: EventSourceMessage[] = [];
  const waiters: (() => void)[] = [];
  const parser = createParser({
    onEvent(e) {
      seen.push(e);
      for (const w of waiters.splice(0)) w();
    },
  });
  const body = res.body as ReadableStream<Uint8Array>;
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // closed by the test
    }
  })();
  const next = (): Promise<void> => new Promise((resolve) => waiters.push(resolve));
  const find = async <T>(pick: () => T | undefined): Promise<T> => {
    for (;;) {
      const found = pick();
      if (found !== undefined) return found;
      await next();
    }
  };
  const endpoint = await find(() => seen.find((e) => e.event === 'endpoint')?.data);
  return {
    async post(msg) {
      const r = await fetch(`${h.sidecar.publicUrl}${endpoint}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(msg),
      });
      await r.text();
      expect(r.status).toBe(202);
    },
    reply(id, nth = 1) {
      return find(() => {
        const replies = seen
          .filter((e) => e.event === undefined || e.event === 'message')
          .map((e) => JSON.parse(e.data) as Record<string, unknown>)
          .filter((m) => m.id === id && ('result' in m || 'error' in m));
        return replies[nth - 1];
      });
    },
    close: () => abort.abort(),
  };
}
