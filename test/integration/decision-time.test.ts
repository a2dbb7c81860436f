/**
 * A call is decided when its body is in, not on what held when its headers came: the default policy's
 * business hours (restricted tools Mon–Fri 08:00–18:00 UTC) hold for a body that arrives after 18:00 though
 * its headers came at 17:59:59, and a token revoked or expired, or a caller blocked, while the body was on
 * its way gets no call forwarded. A real sidecar in front of the example MCP server; the test acts once the
 * sidecar has checked the headers and asked for the body (`100 Continue`).
 *
 * @module
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postAfterContinue, postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
const toolCalls = () =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call')
    .map((c) => c.name);
let policyClock = Date.parse('2026-11-23T17:59:59Z'); // a Monday
/** How far the sidecar's own clock (tokens, blocks) runs ahead. */
let offset = 0;

beforeAll(async () => {
  h = await startHarness({
    upstreamStateless: true,
    policyNow: () => policyClock,
    now: () => Date.now() + offset,
  });
});

afterAll(async () => {
  await h?.stop();
});

it('decides a restricted call whose body came after 18:00 at 18:00, though its headers came at 17:59:59', async () => {
  const auth = await h.bearer(['admin'], { clearance: 'restricted' });
  const call = (id: number) =>
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'export_customers', arguments: { tenant: 'acme', limit: 1, format: 'csv' } },
    });
  // Within business hours throughout: allowed (the policy's own check that the call is otherwise fine).
  const inHours = await postAfterContinue(h.mcpUrl, auth, call(1), () => {});
  expect(inHours.text).not.toContain('Forbidden');
  expect(toolCalls()).toEqual(['export_customers']);
  // Headers at 17:59:59, body at 18:00:01.
  const late = await postAfterContinue(h.mcpUrl, auth, call(2), () => {
    policyClock = Date.parse('2026-11-23T18:00:01Z');
  });
  expect(late.text).toMatch(/Forbidden: .*only available/);
  expect(toolCalls()).toEqual(['export_customers']);
});

const echo = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: `c${id}` } },
  });
const echoes = () => h.upstream.calls().filter((c) => c.method === 'tools/call' && c.name === 'echo').length;

it('forwards no call whose token was revoked, or expired, while its body was on its way', async () => {
  policyClock = Date.parse('2026-11-23T10:00:00Z');
  const revoked = await h.token({ sub: 'ana', roles: ['user'] });
  const { jti } = decodeJwt(revoked);
  const before = echoes();
  const r1 = await postAfterContinue(h.mcpUrl, { authorization: `Bearer ${revoked}` }, echo(11), async () => {
    await h.sidecar.store.revokeToken(jti as string, Math.floor(Date.now() / 1000) + 3_600);
  });
  expect(r1.status).toBe(401);
  expect(r1.text).toContain('token revoked');
  const expiring = await h.token({ sub: 'bo', roles: ['user'], expiresIn: '2m' });
  const r2 = await postAfterContinue(h.mcpUrl, { authorization: `Bearer ${expiring}` }, echo(12), () => {
    offset = 10 * 60_000; // ten minutes on, on the sidecar's clock: past exp and its tolerance
  });
  offset = 0;
  expect(r2.status).toBe(401);
  expect(r2.text).toContain('token expired');
  expect(echoes()).toBe(before);
  // The same, untouched while its body came: forwarded.
  const fine = await postAfterContinue(h.mcpUrl, await h.bearer(['user']), echo(13), () => {});
  expect(fine.status).toBe(200);
  expect(echoes()).toBe(before + 1);
});

it('forwards no call of a caller blocked while its body was on its way', async () => {
  policyClock = Date.parse('2026-11-23T10:00:00Z');
  const auth = { authorization: `Bearer ${await h.token({ sub: 'mallory', roles: ['user'] })}` };
  const before = echoes();
  const res = await postAfterContinue(h.mcpUrl, auth, echo(21), async () => {
    await h.sidecar.store.putBlock({
      target: 'subject',
      value: 'acme/mallory',
      reason: 'operator',
      until: new Date(Date.now() + 3_600_000).toISOString(),
      createdAt: new Date().toISOString(),
    });
    // Until this replica's block list has it (its poll): a new request of the caller is refused.
    await until(5_000, async () => {
      const probe = await postJsonRpc(h.mcpUrl, auth, { jsonrpc: '2.0', id: 99, method: 'ping' });
      await probe.arrayBuffer();
      return probe.status === 403;
    });
  });
  expect(res.status).toBe(403);
  expect(res.text).toContain('this caller is blocked');
  expect(echoes()).toBe(before);
});
