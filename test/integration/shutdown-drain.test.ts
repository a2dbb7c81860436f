/**
 * How a stop drains, through a real sidecar: a connection left open on the admin port (a probe's or a
 * scraper's) does not hold the stop; a reply being answered when the stop begins says `Connection: close`,
 * so its client sends its next request elsewhere; every request in flight when the stop begins is answered
 * before the connections are cut, not only the first to finish; a request sent during the stop on a
 * kept-alive connection is answered with `Connection: close`; and an open `subscriptions/listen` stream is
 * ended like a GET stream, not waited for as a request until the grace runs out.
 *
 * @module
 */
import { Agent, createServer, type IncomingMessage, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TOOL_ANNOTATIONS } from '../../examples/mcp-server/catalog.js';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { ACK, listenHarness, post2026, readUntil } from '../helpers/listen-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { stopUnderWay } from '../helpers/stop.js';
import { until } from '../helpers/wait.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop().catch(() => undefined);
});

const SHUTTING_DOWN_LATE = 'shutdown grace period over; cutting requests';

/** An upstream that answers each `tools/call` only when the test says so. */
interface HeldUpstream {
  readonly url: string;
  /** Whether the call whose `key` argument is `key` has reached the upstream. */
  called(key: string): boolean;
  /** Answers that call (an event-stream one: its answer event, then the end of its stream). */
  release(key: string): void;
}

/**
 * Starts a {@link HeldUpstream}: the replies are written after whatever the test waits for (the stop under
 * way), whatever the machine's speed. A call with `stream: true` gets its event stream's headers at once.
 * Each answer's text is the call's key, so a test knows whose reply it got.
 */
async function heldUpstream(): Promise<HeldUpstream> {
  const waiting = new Map<string, () => void>();
  const upstream = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      const msg = JSON.parse(text) as {
        id: number;
        method: string;
        params?: { arguments?: { key?: string; stream?: boolean } };
      };
      const reply = (result: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      };
      if (msg.method === 'tools/list') {
        reply({
          tools: [{ name: 'echo', inputSchema: { type: 'object' }, annotations: TOOL_ANNOTATIONS.echo }],
        });
      } else if (msg.method === 'tools/call') {
        const { key = '', stream = false } = msg.params?.arguments ?? {};
        const answer = { jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: key }] } };
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.flushHeaders();
          waiting.set(key, () => res.end(`event: message\ndata: ${JSON.stringify(answer)}\n\n`));
        } else waiting.set(key, () => reply(answer.result));
      } else reply({});
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  stops.push(async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });
  return {
    url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    called: (key) => waiting.has(key),
    release: (key) => waiting.get(key)?.(),
  };
}

/** A sidecar in front of a {@link HeldUpstream}, and a token of role user. */
async function heldHarness(): Promise<{ h: Harness; up: HeldUpstream; token: string }> {
  const up = await heldUpstream();
  const h = await startHarness({ upstream: { url: up.url } as unknown as ExampleServer });
  stops.push(() => h.stop());
  return { h, up, token: await h.token({ roles: ['user'] }) };
}

interface Reply {
  readonly status: number;
  readonly connection: string | undefined;
  readonly text: string;
  /** Sent on a connection an earlier request had used (kept alive). */
  readonly reused: boolean;
}

/**
 * POSTs an `echo` tools/call with `args` through `agent`; `headers` resolves once the reply's headers came,
 * `reply` once its body ended.
 */
function callEcho(
  h: Harness,
  token: string,
  args: { key: string; stream?: boolean },
  agent: Agent,
): { headers: Promise<IncomingMessage>; reply: Promise<Reply> } {
  let gotHeaders = (_res: IncomingMessage): void => undefined;
  const headers = new Promise<IncomingMessage>((r) => {
    gotHeaders = r;
  });
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'echo', arguments: args },
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = request(
      h.mcpUrl,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
      },
      (res) => {
        gotHeaders(res);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            text,
            reused: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  // A failed request rejects `reply`, which the test awaits; `headers` then never resolves.
  reply.catch(() => undefined);
  return { headers, reply };
}

/** A keep-alive agent, destroyed after the test. */
function keepAliveAgent(maxSockets = Number.POSITIVE_INFINITY): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets });
  stops.push(async () => agent.destroy());
  return agent;
}

describe('draining on stop', () => {
  it('does not wait for a connection left open on the admin port', async () => {
    const h: Harness = await startHarness();
    stops.push(() => h.stop());
    const admin = new URL(h.sidecar.adminUrl);
    const idle = connect(Number(admin.port), admin.hostname);
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    // Hung here before: Node's close() waits for every connection, and no longer times idle ones out.
    await h.sidecar.stop();
    await closed;
    expect(idle.destroyed).toBe(true);
  });

  it('answers a request in flight when the stop begins with Connection: close', async () => {
    // The upstream answers the call only once the stop is under way (the public port no longer takes
    // connections): the reply's headers are written after the stop began, whatever the machine's speed.
    const { h, up, token } = await heldHarness();
    const call = callEcho(h, token, { key: 'in-flight' }, keepAliveAgent());
    await until(10_000, async () => up.called('in-flight'), 10);
    const stopped = await stopUnderWay(h);
    up.release('in-flight');
    const { status, connection } = await call.reply;
    expect({ status, connection }).toEqual({ status: 200, connection: 'close' });
    await stopped.done;
  });

  it('answers every request in flight when the stop begins, not only the first to finish', async () => {
    const { h, up, token } = await heldHarness();
    const agent = keepAliveAgent();
    const first = callEcho(h, token, { key: 'first' }, agent);
    const second = callEcho(h, token, { key: 'second' }, agent);
    await until(10_000, async () => up.called('first') && up.called('second'), 10);
    const stopped = await stopUnderWay(h);
    up.release('first');
    expect(await first.reply).toMatchObject({ status: 200, text: expect.stringContaining('"text":"first"') });
    // The stop still waits for the second: a drain that ended with the first request to finish cut the
    // second's connection here, its upstream reply never reaching the client.
    up.release('second');
    expect(await second.reply).toMatchObject({
      status: 200,
      text: expect.stringContaining('"text":"second"'),
    });
    await stopped.done;
    expect(h.logs.some((l) => l.includes(SHUTTING_DOWN_LATE))).toBe(false);
  });

  it('answers a request sent during the stop on a kept-alive connection with Connection: close', async () => {
    const { h, up, token } = await heldHarness();
    // Holds the stop's drain until the end of the test, on a connection of its own.
    const held = callEcho(h, token, { key: 'held' }, keepAliveAgent());
    // One connection for both requests below: the second can only go on the one the first kept alive.
    const agent = keepAliveAgent(1);
    // An event stream's headers go out before the stop begins, so the stop cannot mark this reply to close
    // its connection: the connection is still kept alive once the reply ends.
    const before = callEcho(h, token, { key: 'before', stream: true }, agent);
    expect((await before.headers).headers.connection).toBe('keep-alive');
    await until(10_000, async () => up.called('held'), 10);
    const stopped = await stopUnderWay(h);
    up.release('before');
    expect(await before.reply).toMatchObject({ status: 200, connection: 'keep-alive' });
    const during = callEcho(h, token, { key: 'during' }, agent);
    await until(10_000, async () => up.called('during'), 10);
    up.release('during');
    // Kept alive, the client would send its next request to a sidecar about to cut the connection.
    expect(await during.reply).toMatchObject({ status: 200, connection: 'close', reused: true });
    up.release('held');
    expect((await held.reply).status).toBe(200);
    await stopped.done;
  });

  it('ends an open subscriptions/listen stream without waiting out the grace for it', async () => {
    const { h, stop } = await listenHarness({ server: { shutdownGraceMs: 3_000 } });
    stops.push(stop);
    const token = await h.token({ sub: 'listener', roles: ['user'] });
    const res = await post2026(h.mcpUrl, token, 1, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, ACK);
    await h.sidecar.stop();
    await stream.ended();
    // Counted as a request in flight, it held the stop for the whole grace, then was cut as one.
    expect(h.logs.some((l) => l.includes(SHUTTING_DOWN_LATE))).toBe(false);
  });
});
