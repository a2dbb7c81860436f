/**
 * The ids of a request cut off before its reply are held for the upstream's late answer (`in-flight-ids.ts`),
 * but only while their session lives: once it ends, no id can be reused in it, and its holds only crowded
 * other sessions' out at the bound. End to end — raw HTTP callers → the sidecar → the example MCP server (SDK,
 * stateful) — a session's holds are gone after its DELETE, and after the upstream answered 404 for it. A
 * request reusing the held id shows it: refused (400, the id in flight) while the hold lasts, forwarded once
 * it is gone (the upstream then answers 404 for the session).
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initializedSession } from '../helpers/http.js';
import { type Harness, type HarnessOptions, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

/** Failure guard only: everything here is local and answers in milliseconds. */
const GUARD_MS = 5_000;
const VERSION = '2025-06-18';

let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  h = await startHarness(opts);
  return h;
}

/** A new session through the sidecar: the headers its requests carry. */
const openSession = async (sidecar: Harness) =>
  initializedSession(sidecar.mcpUrl, await sidecar.bearer(['user']), VERSION);

/** A `slow` call with id 1 whose SSE reply its client cuts while the upstream works on it: id 1 is then held. */
async function cutCall(sidecar: Harness, headers: Record<string, string>): Promise<void> {
  const forwarded = () => sidecar.logs.filter((l) => l.includes('request forwarded')).length;
  const before = forwarded();
  const cut = new AbortController();
  const res = await fetch(sidecar.mcpUrl, {
    method: 'POST',
    headers,
    body: callSlow(1),
    signal: cut.signal,
  });
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  await until(GUARD_MS, async () => sidecar.upstream.calls().some((c) => c.name === 'slow'));
  cut.abort();
  // Once the sidecar saw the cut (the request is done), id 1 is held for the upstream's late reply.
  await until(GUARD_MS, async () => forwarded() > before);
}

function callSlow(id: number): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'slow', arguments: { ms: 60_000 } },
  });
}

/** POSTs a `tools/list` with `id` in the session; the status and the body's error, if any. */
async function list(
  sidecar: Harness,
  headers: Record<string, string>,
  id: number,
): Promise<{ status: number; error: { code: number; message: string } | undefined }> {
  const res = await fetch(sidecar.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' }),
  });
  const text = await res.text();
  const body = text.startsWith('{')
    ? (JSON.parse(text) as { error?: { code: number; message: string } })
    : {};
  return { status: res.status, error: body.error };
}

describe('late-reply holds of a session that ended', () => {
  it('are gone after its DELETE: the id is free again (forwarded, and the upstream answers 404)', async () => {
    // With `forward` a session the sidecar no longer knows is still forwarded, so the reuse reaches the
    // in-flight check (with `reject` it is refused as unknown first, and its holds were pure waste).
    const sidecar = await harness({ config: { server: { unknownSessions: 'forward' } } });
    const headers = await openSession(sidecar);
    await cutCall(sidecar, headers);
    const held = await list(sidecar, headers, 1);
    expect(held.status).toBe(400);
    expect(held.error?.message).toMatch(/request id 1 is already in flight in this session/);

    const ended = await fetch(sidecar.mcpUrl, { method: 'DELETE', headers });
    expect(ended.status).toBe(200);
    await ended.text();
    await sidecar.upstream.sessionClosed(headers['mcp-session-id'] as string);

    const reused = await list(sidecar, headers, 1);
    expect(reused.status).toBe(404);
    expect(reused.error?.message).toMatch(/Session not found/);
  });

  it('are gone once the upstream answered 404 for it (the session ended there)', async () => {
    // `forward`, as above: with `reject` the 404 also drops the session's binding, and the reuse is refused
    // as unknown before the in-flight check.
    const sidecar = await harness({ config: { server: { unknownSessions: 'forward' } } });
    const headers = await openSession(sidecar);
    await cutCall(sidecar, headers);
    expect((await list(sidecar, headers, 1)).status).toBe(400);

    // The upstream ends the session on its own (the sidecar still has it bound): a DELETE straight to it.
    const direct = await fetch(sidecar.upstream.mcpUrl, {
      method: 'DELETE',
      headers: { 'mcp-session-id': headers['mcp-session-id'] as string, 'mcp-protocol-version': VERSION },
    });
    expect(direct.status).toBe(200);
    await direct.text();
    expect((await list(sidecar, headers, 2)).status).toBe(404);

    const reused = await list(sidecar, headers, 1);
    expect(reused.status).toBe(404);
    expect(reused.error?.message).toMatch(/Session not found/);
  });
});
