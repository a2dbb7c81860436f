/**
 * `policy.dryRun` end to end (SDK client → sidecar → SDK example server, the compiled default policy): the
 * policy still decides every call, but a call it denies reaches the upstream and is answered, its audit
 * record says `decision: deny, enforced: false` with the upstream's status, and `tools/list` is not pruned.
 * What is not the policy's stays enforced: a caller without a token gets 401 and reaches nothing.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { buildBundle } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

/** The echo call the tests below make without credentials. */
const ECHO_CALL = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'x' } },
};

let h: Harness;
let enforcing: Harness;
const clients: Client[] = [];

beforeAll(async () => {
  h = await startHarness({ config: { policy: { dryRun: true } } });
  // The same upstream behind a sidecar that enforces: what the dry run would have refused.
  enforcing = await startHarness({ upstream: h.upstream, issuer: h.issuer });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await enforcing?.stop();
  await h?.stop();
});

async function client(harness: Harness, roles: string[]): Promise<Client> {
  const c = await connectStreamable(harness.mcpUrl, await harness.bearer(roles));
  clients.push(c);
  return c;
}

function auditRecords(harness: Harness): Array<Record<string, unknown>> {
  return harness.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.log_type === 'audit' && typeof r.decision_id === 'string');
}

describe('policy.dryRun', () => {
  it('exports mcp_authz_policy_dry_run: 1 while on, 0 otherwise', async () => {
    const gauge = async (harness: Harness) =>
      /^mcp_authz_policy_dry_run(?:\{[^}]*\})? (\d+)$/m.exec(
        await (await fetch(`${harness.sidecar.adminUrl}/metrics`)).text(),
      )?.[1];
    expect(await gauge(h)).toBe('1');
    expect(await gauge(enforcing)).toBe('0');
  });

  it('warns at start that nothing the policy says is enforced', () => {
    expect(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('policy.dryRun is on'))).toBe(true);
    expect(enforcing.logs.some((l) => l.includes('policy.dryRun'))).toBe(false);
  });

  it('forwards a call the policy denies, and records it as a deny not enforced', async () => {
    const args = { tenant: 'acme', id: 'c-7' };
    // Enforced, the policy refuses a user's delete_customer.
    const refused = await (await client(enforcing, ['user']))
      .callTool({ name: 'delete_customer', arguments: args })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: -32003 });

    h.upstream.resetCalls();
    const r = await (await client(h, ['user'])).callTool({ name: 'delete_customer', arguments: args });
    expect(r.isError).toBeFalsy();
    expect(h.upstream.calls().filter((c) => c.name === 'delete_customer')).toHaveLength(1);
    await until(5_000, async () => auditRecords(h).some(isDelete));
    const audit = auditRecords(h).find(isDelete);
    expect(audit).toMatchObject({
      decision: 'deny',
      deny_reason: 'policy',
      enforced: false,
      upstream: { status: 200 },
    });
    expect(String((audit?.reasons as string[] | undefined)?.[0])).toMatch(/delete_customer/);
  });

  it('does not prune tools/list, and names in one log line what the policy would hide', async () => {
    const all = (await (await client(enforcing, ['admin'])).listTools()).tools.map((t) => t.name).sort();
    const asGuest = (await (await client(h, ['guest'])).listTools()).tools.map((t) => t.name).sort();
    const guestEnforced = (await (await client(enforcing, ['guest'])).listTools()).tools.map((t) => t.name);
    expect(guestEnforced.length).toBeLessThan(all.length);
    expect(asGuest).toEqual(all);
    const lines = h.logs
      .filter((l) => l.includes('dry run: the policy would hide'))
      .map((l) => JSON.parse(l) as { would_hide: number; items: string[] });
    expect(lines).toHaveLength(1);
    const hidden = all.filter((t) => !guestEnforced.includes(t));
    expect(lines[0]).toMatchObject({ would_hide: hidden.length });
    expect(lines[0]?.items.sort()).toEqual(hidden.map((t) => `tool:${t}`).sort());
  });

  it('still refuses a caller without credentials (401), forwarding nothing', async () => {
    h.upstream.resetCalls();
    const res = await postJsonRpc(h.mcpUrl, {}, ECHO_CALL);
    expect(res.status).toBe(401);
    expect(h.upstream.calls()).toEqual([]);
  });

  it('still prunes an anonymous caller’s list (authn.mode optional)', async () => {
    const bundle = await buildBundle('test/fixtures/policies/anonymous-lists');
    const optional = await startHarness({
      upstreamStateless: true,
      issuer: h.issuer,
      config: { authn: { mode: 'optional' }, policy: { dryRun: true, bundle } },
    });
    try {
      const res = await postJsonRpc(optional.mcpUrl, {}, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(res.status).toBe(200);
      // The upstream answers as an event stream: the reply is its one event's data.
      const text = await res.text();
      const data = /^data: (.*)$/m.exec(text)?.[1] ?? text;
      const { result } = JSON.parse(data) as { result: { tools: { name: string }[] } };
      expect(result.tools.map((t) => t.name)).toEqual(['echo']);
    } finally {
      await optional.stop();
    }
  });

  it('still asks an anonymous caller the policy denies to sign in (authn.mode optional), forwarding nothing', async () => {
    // A stateless upstream would run a call that reached it without a session.
    const optional = await startHarness({
      upstreamStateless: true,
      issuer: h.issuer,
      config: { authn: { mode: 'optional' }, policy: { dryRun: true } },
    });
    try {
      const res = await postJsonRpc(optional.mcpUrl, {}, ECHO_CALL);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
        'ERR_AUTHN_MISSING',
      );
      expect(optional.upstream.calls().filter((c) => c.name === 'echo')).toEqual([]);
      await until(5_000, async () => auditRecords(optional).some((r) => r.decision === 'deny'));
      expect(auditRecords(optional).find((r) => r.decision === 'deny')).toMatchObject({
        deny_reason: 'policy',
        enforced: true,
      });
    } finally {
      await optional.stop();
    }
  });
});

function isDelete(a: Record<string, unknown>): boolean {
  return (a.action as { tool?: string } | undefined)?.tool === 'delete_customer';
}
