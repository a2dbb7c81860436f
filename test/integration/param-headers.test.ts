/**
 * MCP 2026-07-28 custom headers from tool parameters (SEP-2243) through a real sidecar: the upstream lists
 * `read_customer` with its `tenant` argument mirrored into `Mcp-Param-Tenant`. The sidecar learns that mark
 * (here by its own discovery, on the first call of the unseen tool) and refuses, with 400 and -32020 before
 * any decision, a call whose header says another tenant than its body, or leaves it out; such a call never
 * reaches the upstream. A gateway in front that routes or limits by the header then sees the call the
 * policy decided.
 *
 * @module
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers2026, type ListenUpstream, listenHarness, post2026 } from '../helpers/listen-upstream.js';
import type { Harness } from '../helpers/sidecar.js';

let h: Harness;
let upstream: ListenUpstream;
let stop: () => Promise<void>;
let token: string;

beforeAll(async () => {
  ({ h, upstream, stop } = await listenHarness({}));
  token = await h.token({ sub: 'mirror', roles: ['analyst'], tenant: 'acme', scope: 'mcp:tools' });
});

afterAll(async () => {
  await stop?.();
});

const calls = () => upstream.received.filter((m) => m === 'tools/call').length;
const call = (id: number, tenant: string, headers: Record<string, string>, version = '2026-07-28') =>
  post2026(
    h.mcpUrl,
    token,
    id,
    'tools/call',
    { name: 'read_customer', arguments: { tenant, id: 'c-1' } },
    { 'mcp-protocol-version': version, 'mcp-method': 'tools/call', 'mcp-name': 'read_customer', ...headers },
  );

describe('Mcp-Param-* headers (2026-07-28) through the sidecar', () => {
  it('lets a call through whose header equals its argument, plain or Base64-encoded', async () => {
    const plain = await call(1, 'acme', { 'mcp-param-tenant': 'acme' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-accel-buffering')).toBeNull();
    expect(await plain.json()).toMatchObject({ id: 1, result: { content: [{ text: 'ok' }] } });
    // The first call of the unseen tool made the sidecar list the upstream's tools: the mark is known.
    expect(upstream.received).toContain('tools/list');

    const encoded = await call(2, 'acme', { 'mcp-param-tenant': `=?base64?${btoa('acme')}?=` });
    expect(encoded.status).toBe(200);
    expect(calls()).toBe(2);
  });

  it('refuses a header that names another tenant than the body, before the upstream', async () => {
    const before = calls();
    const res = await call(3, 'acme', { 'mcp-param-tenant': 'globex' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { id: number; error: { code: number; message: string } };
    expect(body.id).toBe(3);
    expect(body.error.code).toBe(-32020);
    expect(body.error.message).toBe(
      "Bad Request: Mcp-Param-Tenant header does not match the body's arguments.tenant",
    );
    expect(body.error.message).not.toContain('globex');
    expect(calls()).toBe(before);
  });

  it('refuses a call that leaves the header out although its body has the value', async () => {
    const before = calls();
    const res = await call(4, 'acme', {});
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Mcp-Param-Tenant header is missing');
    expect(calls()).toBe(before);
  });

  it('refuses a header sent on two lines, which Node would join into a value the body repeats', async () => {
    const before = calls();
    const tenant = 'acme, globex';
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 6,
      method: 'tools/call',
      params: { name: 'read_customer', arguments: { tenant, id: 'c-1' } },
    });
    // fetch() would send one joined line; node:http sends one line per array item.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(h.mcpUrl, {
        method: 'POST',
        headers: {
          ...headers2026(token, 'tools/call', { name: 'read_customer' }),
          'mcp-param-tenant': ['acme', 'globex'],
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(400);
    expect(calls()).toBe(before);
  });

  /**
   * A read_customer call in tenant acme with a mismatched `Mcp-Param-Tenant` and no MCP-Protocol-Version: the
   * body's `_meta` (under the key `metaKey`) says the revision.
   */
  const callWithoutVersion = (id: number, metaKey: string) => {
    const { 'mcp-protocol-version': _, ...withoutVersion } = headers2026(token, 'tools/call', {
      name: 'read_customer',
    });
    return fetch(h.mcpUrl, {
      method: 'POST',
      headers: { ...withoutVersion, 'mcp-param-tenant': 'globex' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'read_customer',
          arguments: { tenant: 'acme', id: 'c-1' },
          [metaKey]: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
        },
      }),
      signal: AbortSignal.timeout(10_000),
    });
  };

  it("refuses a mismatch without MCP-Protocol-Version when the body's _meta names 2026-07-28", async () => {
    const before = calls();
    const res = await callWithoutVersion(7, '_meta');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32020);
    expect(calls()).toBe(before);
  });

  it('refuses _meta spelt in another case, which a Go server reads as _meta and the check would not', async () => {
    // Without MCP-Protocol-Version, the body's `_meta` version says the revision: `_Meta` hid it from the
    // check (the call was forwarded with its mismatched header), while Go's encoding/json reads it as `_meta`.
    const before = calls();
    const res = await callWithoutVersion(8, '_Meta');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error).toMatchObject({ code: -32600, message: expect.stringContaining('"_Meta"') });
    expect(calls()).toBe(before);
  });

  it('does not read the headers of an older revision, whose clients mirror nothing', async () => {
    const res = await call(5, 'acme', { 'mcp-param-tenant': 'globex' }, '2025-11-25');
    expect(res.status).toBe(200);
  });
});

describe('an Mcp-Param-* header whose declared name holds an underscore', () => {
  // `Tenant_Id` is a header token like any other (SEP-2243 asks for one): the sidecar checks the header a
  // client sends for it and must forward it, as the upstream (processing the body) validates it too. Only
  // underscore spellings it did not check are dropped (a CGI-style upstream reads them as dashed ones).
  let h2: Harness;
  let upstream2: ListenUpstream;
  let stop2: () => Promise<void>;
  let token2: string;

  beforeAll(async () => {
    ({ h: h2, upstream: upstream2, stop: stop2 } = await listenHarness({}, 'Tenant_Id'));
    token2 = await h2.token({ sub: 'mirror', roles: ['analyst'], tenant: 'acme', scope: 'mcp:tools' });
  });

  afterAll(async () => {
    await stop2?.();
  });

  const call2 = (id: number, headers: Record<string, string>, version = '2026-07-28') =>
    post2026(
      h2.mcpUrl,
      token2,
      id,
      'tools/call',
      { name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } },
      { 'mcp-protocol-version': version, 'mcp-name': 'read_customer', ...headers },
    );

  it('forwards the checked header, and drops a dashed twin a CGI-style upstream would read as it', async () => {
    const res = await call2(1, { 'mcp-param-tenant_id': 'acme', 'mcp-param-tenant-id': 'globex' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ text: 'ok' }] } });
    const forwarded = upstream2.callHeaders.at(-1);
    expect(forwarded?.['mcp-param-tenant_id']).toBe('acme');
    expect(forwarded).not.toHaveProperty('mcp-param-tenant-id');
  });

  it('is still checked against the body, and dropped where it was not checked (an older revision)', async () => {
    const before = upstream2.callHeaders.length;
    const mismatch = await call2(2, { 'mcp-param-tenant_id': 'globex' });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('Mcp-Param-Tenant_Id header does not match');
    expect(upstream2.callHeaders.length).toBe(before);

    const older = await call2(3, { 'mcp-param-tenant_id': 'globex' }, '2025-11-25');
    expect(older.status).toBe(200);
    expect(upstream2.callHeaders.at(-1)).not.toHaveProperty('mcp-param-tenant_id');
  });
});
