/**
 * Open event streams re-check their caller (`server.streamRecheckMs`): a stream whose token is revoked
 * while it is open is cut, on the Streamable HTTP GET stream and on the legacy SSE stream, while another
 * caller's stream stays open; the reconnect is refused, and only it counts as a failed authentication.
 * A re-check whose credentials now name another caller than the one who opened the stream (an API key
 * whose record was rewritten to another subject) cuts it too: on the legacy SSE stream nothing else would,
 * as no session header is checked there. Real sidecar, in-memory store, SDK upstream.
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_CACHE_TTL_MS, createApiKey } from '../../src/authn/api-keys.js';
import { type Harness, PEPPER, startHarness } from '../helpers/sidecar.js';
import { settlesWithin } from '../helpers/wait.js';

let h: Harness;
/** Moves the sidecar's clock ahead of the wall clock (an API key record's cache lifetime). */
let clockOffsetMs = 0;

beforeAll(async () => {
  h = await startHarness({
    now: () => Date.now() + clockOffsetMs,
    config: { server: { streamRecheckMs: 50 }, store: { revocationPollIntervalMs: 50 } },
  });
});

afterAll(async () => {
  await h?.stop();
});

const accept = { accept: 'text/event-stream, application/json', 'content-type': 'application/json' };

/** Opens a Streamable HTTP session and its GET stream for `token`. */
async function mcpStream(token: string): Promise<Response> {
  const headers = { ...accept, authorization: `Bearer ${token}` };
  const init = await fetch(h.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  await init.text();
  const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') as string };
  const stream = await fetch(h.mcpUrl, {
    method: 'GET',
    headers: session,
    signal: AbortSignal.timeout(10_000),
  });
  expect(stream.status).toBe(200);
  return stream;
}

async function sseStream(token: string): Promise<Response> {
  const stream = await fetch(h.sseUrl, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  expect(stream.status).toBe(200);
  return stream;
}

/** `mcp_authz_authn_failures_total` summed over its labels. */
async function authnFailures(): Promise<number> {
  const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
  return [...text.matchAll(/^mcp_authz_authn_failures_total\{[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

/** Watches a stream's body: `end` resolves when it ends or breaks, with how; `close` lets it go. */
function watch(res: Response): { end: Promise<'ended' | 'broken'>; close: () => Promise<void> } {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const next = (): Promise<'ended' | 'broken'> =>
    reader.read().then(
      ({ done }) => (done ? 'ended' : next()),
      () => 'broken',
    );
  return { end: next(), close: () => reader.cancel().catch(() => undefined) };
}

describe.each([
  ['Streamable HTTP GET', mcpStream],
  ['legacy SSE', sseStream],
])('%s stream of a caller whose token is revoked', (_label, open) => {
  it('is cut, while another caller stays connected; the reconnect gets 401', async () => {
    const revoked = await h.token({ sub: `revoked-${_label}`, roles: ['user'] });
    const other = await h.token({ sub: `other-${_label}`, roles: ['user'] });
    const cutStream = await open(revoked);
    const keptStream = await open(other);
    const kept = watch(keptStream);
    let keptEnded = false;
    void kept.end.then(() => {
      keptEnded = true;
    });

    const failuresBefore = await authnFailures();
    const { jti, exp } = decodeJwt(revoked);
    await h.sidecar.store.revokeToken(jti as string, exp as number);
    expect(['ended', 'broken']).toContain(await watch(cutStream).end);
    // Both streams were re-checked as often; only the revoked caller's was cut.
    expect(keptEnded).toBe(false);
    expect(h.logs.some((l) => l.includes('event stream ended') && l.includes('ERR_AUTHN_REVOKED'))).toBe(
      true,
    );

    const again = await fetch(_label === 'legacy SSE' ? h.sseUrl : h.mcpUrl, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${revoked}` },
    });
    expect(again.status).toBe(401);
    await again.text();
    // The re-checks that cut the stream are no failed logins: only the refused reconnect counts.
    expect((await authnFailures()) - failuresBefore).toBe(1);
    await kept.close();
  });
});

describe('legacy SSE stream whose API key names another caller at a re-check', () => {
  it('is cut, while a stream of a key still naming its opener stays open', async () => {
    const pepper = Buffer.from(PEPPER);
    const moved = await createApiKey(h.sidecar.store, pepper, { subject: 'svc-before', roles: ['user'] });
    const same = await createApiKey(h.sidecar.store, pepper, { subject: 'svc-same', roles: ['user'] });
    // Opened first, its re-checks run first in each interval: by the time the other is cut, it was re-checked.
    const sameStream = watch(await sseStream(same.key));
    const movedStream = watch(await sseStream(moved.key));
    let sameEnded = false;
    void sameStream.end.then(() => {
      sameEnded = true;
    });
    try {
      // The key's record rewritten in the store (same id and secret, another subject): the key now lets in
      // another caller than the one whose session the stream carries. No session header is re-checked on a
      // legacy stream, so only the re-check's comparison with the opener can tell.
      await h.sidecar.store.putApiKey({ ...moved.record, subject: 'svc-after' });
      // Both records are read again once their cache lifetime has passed on the sidecar's clock.
      clockOffsetMs = API_KEY_CACHE_TTL_MS + 1_000;
      expect(['ended', 'broken']).toContain(
        await settlesWithin(5_000, movedStream.end, 'the moved key’s stream'),
      );
      expect(h.logs.some((l) => l.includes('event stream ended') && l.includes('another caller'))).toBe(true);
      // Re-checked as often and read again from the store too: the key still naming its opener keeps its stream.
      expect(sameEnded).toBe(false);
    } finally {
      clockOffsetMs = 0;
      await sameStream.close();
    }
  });
});
