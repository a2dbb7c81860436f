/**
 * What a `subscriptions/listen` stream may cost the other callers and tell its own: open listens must not
 * hold the capped upstream pool (every 2026-07-28 client keeps one open, as a 2025 client kept its GET
 * stream), and a `notifications/resources/updated` on it (whose URI "might be a sub-resource of the one
 * that the client actually subscribed to", 2026-07-28 schema) reaches the caller only for a URI the policy
 * lets them subscribe to. The upstream is a small `node:http` server speaking the 2026-07-28 shapes.
 *
 * @module
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';
import { settlesWithin } from '../helpers/wait.js';

const GUARD_MS = 5_000;
const CONNECTIONS = 2;

let h: Harness;
let upstream: Server;
const streams = new Set<ServerResponse>();

/** SSE `message` event carrying one JSON-RPC message. */
const event = (msg: unknown) => `event: message\ndata: ${JSON.stringify(msg)}\n\n`;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.method === 'GET') {
      // A 2025-11-25 GET stream: a subscribed resource changed, then a sub-resource (written in another
      // case, which must be judged as its canonical form), then a list.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const uri of ['crm://acme/customers', 'CRM://acme/customers/c-1'])
        res.write(event({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } }));
      res.write(event({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }));
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const msg = JSON.parse(body) as {
        id: number;
        method: string;
        params?: { notifications?: { resourceSubscriptions?: string[] } };
      };
      if (msg.method === 'subscriptions/listen') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const meta = { 'io.modelcontextprotocol/subscriptionId': msg.id };
        const notifications = msg.params?.notifications ?? {};
        res.write(
          event({
            jsonrpc: '2.0',
            method: 'notifications/subscriptions/acknowledged',
            params: { _meta: meta, notifications },
          }),
        );
        // Each subscribed resource changes, and so does one of its sub-resources.
        for (const uri of notifications.resourceSubscriptions ?? []) {
          for (const u of [uri, `${uri}/c-1`]) {
            res.write(
              event({
                jsonrpc: '2.0',
                method: 'notifications/resources/updated',
                params: { _meta: meta, uri: u },
              }),
            );
          }
        }
        res.write(
          event({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: meta } }),
        );
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
    config: { upstream: { connections: CONNECTIONS } },
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

/** Reads a stream until it holds `until` (or ends); `close` cancels it. */
async function readUntil(res: Response, until: string): Promise<{ text: string; close: () => void }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  return { text, close: () => void reader.cancel().catch(() => undefined) };
}

describe('subscriptions/listen streams (review)', () => {
  it('answers another caller while upstream.connections listen streams are open', async () => {
    const open = await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        const token = await h.token({ sub: `listener-${i}`, roles: ['user'] });
        const res = await post(token, i, 'subscriptions/listen', {
          notifications: { toolsListChanged: true },
        });
        expect(res.status).toBe(200);
        return readUntil(res, 'list_changed');
      }),
    );
    const other = await h.token({ sub: 'discoverer', roles: ['guest'] });
    const res = await settlesWithin(GUARD_MS, post(other, 9, 'server/discover'), 'server/discover');
    expect(res.status).toBe(200);
    for (const s of open) s.close();
  });

  it('passes on resources/updated only for URIs the policy lets the caller subscribe to', async () => {
    // `user` (clearance internal, resources **) may subscribe to crm://acme/customers (no catalog entry:
    // internal), not to crm://acme/customers/c-1 (catalog: confidential).
    const token = await h.token({ sub: 'curious', roles: ['user'], tenant: 'acme' });
    const res = await post(token, 20, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['crm://acme/customers'] },
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, 'list_changed');
    stream.close();
    expect(stream.text).toContain('"uri":"crm://acme/customers"');
    expect(stream.text).not.toContain('crm://acme/customers/c-1');
  });

  it('does the same on a Streamable HTTP GET stream, judging a URI in its canonical form', async () => {
    const token = await h.token({ sub: 'curious-get', roles: ['user'], tenant: 'acme' });
    const res = await fetch(h.mcpUrl, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, 'list_changed');
    stream.close();
    expect(stream.text).toContain('"uri":"crm://acme/customers"');
    expect(stream.text.toLowerCase()).not.toContain('crm://acme/customers/c-1');
  });
});
