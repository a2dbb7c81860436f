/**
 * MCP 2026-07-28 plumbing through the sidecar: `server/discover` is let through for any authenticated
 * caller; a `subscriptions/listen` (a POST whose reply is the long-lived notification stream that replaces
 * the GET stream) counts against the caller's open streams and is cut when the caller's token is revoked,
 * as a GET stream is; and each resource it subscribes to is decided as a `resources/subscribe` of that URI,
 * so a caller cannot listen to changes of a resource the policy keeps from them. The upstream is a small
 * `node:http` server speaking the 2026-07-28 shapes (the MCP SDK in use speaks 2025-11-25).
 *
 * @module
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';

const ACK = 'notifications/subscriptions/acknowledged';

let h: Harness;
let upstream: Server;
const received: string[] = [];
const streams = new Set<ServerResponse>();

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; method: string; params?: { notifications?: unknown } };
      received.push(msg.method);
      if (msg.method === 'subscriptions/listen') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const ack = {
          jsonrpc: '2.0',
          method: ACK,
          params: {
            _meta: { 'io.modelcontextprotocol/subscriptionId': msg.id },
            notifications: msg.params?.notifications,
          },
        };
        res.write(`event: message\ndata: ${JSON.stringify(ack)}\n\n`);
        streams.add(res);
        res.on('close', () => streams.delete(res));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: msg.id,
          result: { resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: {} },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  h = await startHarness({
    upstream: { url, close: async () => undefined } as unknown as ExampleServer,
    config: {
      server: { maxStreamsPerCaller: 1, streamRecheckMs: 50 },
      store: { revocationPollIntervalMs: 50 },
    },
  });
});

afterAll(async () => {
  await h?.stop();
  for (const s of streams) s.destroy();
  await new Promise((r) => upstream?.close(r));
});

function post(token: string, id: number, method: string, params: Record<string, unknown> = {}) {
  return fetch(h.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
}

/** Reads a stream until its first event; then `end` resolves when it ends or breaks. */
async function firstEvent(res: Response): Promise<{ text: string; end: Promise<void>; close: () => void }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const drain = (): Promise<void> =>
    reader.read().then(
      ({ done }) => (done ? undefined : drain()),
      () => undefined,
    );
  return { text, end: drain(), close: () => void reader.cancel().catch(() => undefined) };
}

describe('MCP 2026-07-28 plumbing through the sidecar', () => {
  it('lets server/discover through for an authenticated caller', async () => {
    const res = await post(await h.token({ sub: 'discoverer', roles: ['guest'] }), 1, 'server/discover');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, result: { supportedVersions: ['2026-07-28'] } });
    expect(received).toContain('server/discover');
  });

  it('counts a subscriptions/listen stream against the caller’s open streams, and cuts it on revocation', async () => {
    const token = await h.token({ sub: 'listener', roles: ['user'] });
    const first = await post(token, 2, 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    expect(first.status).toBe(200);
    const stream = await firstEvent(first);
    expect(stream.text).toContain(ACK);

    const listensBefore = received.filter((m) => m === 'subscriptions/listen').length;
    const second = await post(token, 3, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(second.status).toBe(429);
    expect(await second.text()).toContain('ERR_RATELIMIT_STREAMS');
    expect(received.filter((m) => m === 'subscriptions/listen').length).toBe(listensBefore);

    const other = await post(await h.token({ sub: 'another', roles: ['user'] }), 4, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(other.status).toBe(200);
    const otherStream = await firstEvent(other);

    const { jti, exp } = decodeJwt(token);
    await h.sidecar.store.revokeToken(jti as string, exp as number);
    await stream.end;
    expect(h.logs.some((l) => l.includes('event stream ended') && l.includes('ERR_AUTHN_REVOKED'))).toBe(
      true,
    );
    otherStream.close();
  });

  it('decides each subscribed resource as its resources/subscribe', async () => {
    const token = await h.token({ sub: 'curious', roles: ['user'] });
    const before = received.length;
    const refused = await post(token, 5, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['docs://handbook', 'crm://acme/customers/c-1'] },
    });
    expect(refused.status).toBe(200);
    expect(await refused.json()).toMatchObject({
      id: 5,
      error: {
        code: -32003,
        message:
          'Forbidden: resource crm://acme/customers/c-1 needs clearance confidential, you have internal',
      },
    });
    expect(received.length).toBe(before);

    const allowed = await post(token, 6, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['docs://handbook'] },
    });
    expect(allowed.status).toBe(200);
    const stream = await firstEvent(allowed);
    expect(stream.text).toContain('docs://handbook');
    stream.close();
  });
});
