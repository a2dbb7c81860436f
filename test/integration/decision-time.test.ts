/**
 * A call is decided at the time it is decided, not when its headers came: the default policy's business
 * hours (restricted tools Mon–Fri 08:00–18:00 UTC) hold for a body that arrives after 18:00 though its
 * headers came at 17:59:59. A real sidecar in front of the example MCP server, with a policy clock the test
 * moves once the sidecar has asked for the body (`100 Continue`).
 *
 * @module
 */
import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
const toolCalls = () =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call')
    .map((c) => c.name);
let policyClock = Date.parse('2026-11-23T17:59:59Z'); // a Monday

beforeAll(async () => {
  h = await startHarness({ upstreamStateless: true, policyNow: () => policyClock });
});

afterAll(async () => {
  await h?.stop();
});

/** POSTs `body` with `Expect: 100-continue`, calling `beforeBody` once the sidecar asked for the body. */
function postAfterContinue(
  headers: Record<string, string>,
  body: string,
  beforeBody: () => void,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(h.mcpUrl, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'content-length': String(Buffer.byteLength(body)),
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      beforeBody();
      req.end(body);
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

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
  const inHours = await postAfterContinue(auth, call(1), () => {});
  expect(inHours.text).not.toContain('Forbidden');
  expect(toolCalls()).toEqual(['export_customers']);
  // Headers at 17:59:59, body at 18:00:01.
  const late = await postAfterContinue(auth, call(2), () => {
    policyClock = Date.parse('2026-11-23T18:00:01Z');
  });
  expect(late.text).toMatch(/Forbidden: .*only available/);
  expect(toolCalls()).toEqual(['export_customers']);
});
