/**
 * An open event stream's re-checks (`server.streamRecheckMs`) while a dependency of them is down: the
 * caller's credentials are withdrawn by nobody, so the stream stays open however many re-checks the outage
 * fails (503), and is cut only once the dependency answers that the caller is no longer allowed. Real
 * sidecar in front of a 2026-07-28 upstream holding a `subscriptions/listen` stream open; the caller's
 * opaque token is checked by a real RFC 7662 endpoint over HTTP, asked again at every re-check (its
 * answers are kept 1 ms), which the test takes down and brings back.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACK,
  type ListenUpstream,
  post2026,
  readUntil,
  startListenUpstream,
} from '../helpers/listen-upstream.js';
import { type ExampleServer, type Harness, RESOURCE, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

const CLIENT_ID = 'mcp-authz';
const CLIENT_SECRET = 'introspection-secret-0123456789';
const TOKEN = 'opaque-listener-token';

/** The endpoint's state: whether it is down (503 to everything), whether the token is active, how often asked. */
const endpoint = { down: false, active: true, asked: 0 };
let server: Server;
let upstream: ListenUpstream;
let h: Harness;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      endpoint.asked++;
      if (endpoint.down) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          endpoint.active
            ? {
                active: true,
                sub: 'opaque-listener',
                tenant: 'acme',
                roles: ['user'],
                scope: 'mcp:tools',
                aud: RESOURCE,
                exp: Math.floor(Date.now() / 1000) + 600,
              }
            : { active: false },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  upstream = await startListenUpstream();
  h = await startHarness({
    upstream: upstream as unknown as ExampleServer,
    config: {
      server: { streamRecheckMs: 50 },
      authn: {
        introspection: {
          endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
          clientId: CLIENT_ID,
          // Every re-check asks the endpoint, as one past the cache's minute would.
          cacheTtlMs: 1,
        },
      },
    },
    env: { AUTHZ_INTROSPECTION_CLIENT_SECRET: CLIENT_SECRET },
  });
});

afterAll(async () => {
  await h?.stop();
  await upstream?.close();
  await new Promise((r) => server?.close(r));
});

describe('a stream re-check during an outage', () => {
  it('keeps the stream open while the introspection endpoint is down, and cuts it once the endpoint refuses the token', async () => {
    const res = await post2026(h.mcpUrl, TOKEN, 1, 'subscriptions/listen', {
      notifications: { toolsListChanged: true },
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, ACK);
    let ended = false;
    const end = stream.ended().then(() => {
      ended = true;
    });

    endpoint.down = true;
    const before = endpoint.asked;
    // Two re-checks refused by the outage (503): a stream cut by the first is never re-checked again, so
    // only a stream kept open gets the second.
    await until(10_000, async () => ended || endpoint.asked >= before + 2, 10);
    expect(ended).toBe(false);

    // The endpoint answers again, and the token is no longer active: the next re-check cuts the stream.
    endpoint.active = false;
    endpoint.down = false;
    await settlesWithin(5_000, end, 'the stream cut');
    expect(ended).toBe(true);
  });
});
