/**
 * An open stream's re-check that waits on a slow dependency (here an RFC 7662 introspection endpoint holding
 * its answer): the stream stays open meanwhile (waiting is no reason to withdraw anything), the ticks that
 * come while it waits start no second re-check of that stream, and once it has its answer the re-checks go
 * on, so a revocation made afterwards still ends the stream. Another caller's stream, whose re-checks are
 * answered at once, keeps time. Real sidecar in front of the example MCP server's legacy SSE endpoint, with
 * a real introspection endpoint over HTTP.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, RESOURCE, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

const CLIENT_ID = 'mcp-authz';
const CLIENT_SECRET = 'introspection-secret-0123456789';
const SLOW = 'opaque-slow';
const QUICK = 'opaque-quick';

/** The tokens the endpoint was asked about, in order. */
const asked: string[] = [];
/** Tokens whose answers wait in `held` until the test releases them. */
const holding = new Set<string>();
const held: (() => void)[] = [];
let server: Server;
let h: Harness;

const askedAbout = (token: string) => asked.filter((t) => t === token).length;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const token = new URLSearchParams(body).get('token') ?? '';
      asked.push(token);
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            active: true,
            sub: token,
            tenant: 'acme',
            roles: ['user'],
            scope: 'mcp:tools',
            aud: RESOURCE,
            exp: Math.floor(Date.now() / 1000) + 600,
            jti: `jti-${token}`,
          }),
        );
      };
      if (holding.has(token)) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
  h = await startHarness({
    config: {
      server: { streamRecheckMs: 20 },
      store: { revocationPollIntervalMs: 20 },
      // Every re-check asks the endpoint (nothing stays cached): the endpoint sees each one.
      authn: { introspection: { endpoint, clientId: CLIENT_ID, cacheTtlMs: 1 } },
    },
    env: { AUTHZ_INTROSPECTION_CLIENT_SECRET: CLIENT_SECRET },
  });
});

afterAll(async () => {
  for (const release of held.splice(0)) release();
  await h?.stop();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

/** Opens a legacy SSE stream with `token`; `end` resolves when it ends or breaks, `close` lets it go. */
async function stream(
  token: string,
): Promise<{ end: Promise<unknown>; ended: () => boolean; close(): void }> {
  const res = await fetch(h.sseUrl, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(20_000),
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let over = false;
  const next = (): Promise<void> =>
    reader.read().then(
      ({ done }) => (done ? undefined : next()),
      () => undefined,
    );
  const end = next().finally(() => {
    over = true;
  });
  return { end, ended: () => over, close: () => void reader.cancel().catch(() => undefined) };
}

it('keeps one re-check of a stream in flight while its dependency is slow, and re-checks on once it answers', async () => {
  const slow = await stream(SLOW);
  const quick = await stream(QUICK);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    holding.add(SLOW);
    // A re-check of the slow stream is waiting on the endpoint.
    await until(5_000, async () => held.length === 1);
    const asks = askedAbout(SLOW);
    // Fifteen re-check intervals pass (the other stream is re-checked, and its endpoint asked, at each).
    const ticks = askedAbout(QUICK);
    await until(5_000, async () => askedAbout(QUICK) >= ticks + 15);
    // The ticks that came meanwhile started no second re-check: the endpoint was asked once, and the stream
    // stays open (an answer not come yet withdraws nothing). Nor did re-checks pile up behind the one waiting
    // (they would share its introspection, so the endpoint alone cannot tell): each would wait on the
    // stream's abort signal, and Node warns of a leak past ten listeners on one signal. A dependency slow for
    // minutes would otherwise hold a re-check per tick per open stream.
    expect(askedAbout(SLOW)).toBe(asks);
    expect(slow.ended()).toBe(false);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual(
      [],
    );

    // Answered (still active): the stream is re-checked again at the next tick, as before.
    holding.delete(SLOW);
    for (const release of held.splice(0)) release();
    await until(5_000, async () => askedAbout(SLOW) > asks);
    expect(slow.ended()).toBe(false);
    // So a revocation made now ends it; the other caller's stream stays open.
    await h.sidecar.store.revokeToken(`jti-${SLOW}`, Math.floor(Date.now() / 1000) + 600);
    await settlesWithin(5_000, slow.end, 'the revoked stream');
    expect(h.logs.some((l) => l.includes('event stream ended') && l.includes('ERR_AUTHN_REVOKED'))).toBe(
      true,
    );
    expect(quick.ended()).toBe(false);
  } finally {
    process.off('warning', onWarning);
    slow.close();
    quick.close();
  }
});
