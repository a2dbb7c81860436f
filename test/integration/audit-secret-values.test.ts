/**
 * Secrets by value in audit records, end to end (SDK client → sidecar → SDK example server, a compiled
 * policy, the sidecar's own log stream): a tool call's arguments (`audit.arguments: plain`) and the
 * policy's obligations carry a URL with a password, header pairs, a `Bearer` string, a JWT and an API key
 * under keys that name no credential; the audit line holds none of the secret text, and keeps the rest. A
 * denial's reason quoting the caller's token is recorded without it.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/authn/api-key-format.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { buildBundle } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
let client: Client;

beforeAll(async () => {
  const bundle = await buildBundle('test/fixtures/policies/secret-obligations');
  h = await startHarness({ config: { policy: { bundle }, audit: { arguments: 'plain' } } });
  client = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await h?.stop();
});

describe('audit record of a call whose arguments and obligations hold secrets by value', () => {
  it('writes none of the secret text, keeping the shape around it', async () => {
    // A JWT of the sidecar's own issuer, and an API key in this sidecar's format.
    const jwt = await h.token({ roles: ['admin'], sub: 'someone-else' });
    const apiKey = generateApiKey('mcpk').key;
    const args = {
      text: 'hello',
      dsn: 'postgres://app:arg-pw-4242@db.internal/x',
      headers: [['X-Api-Key', 'arg-header-key-77']],
      sent: `Bearer ${jwt}`,
      copy: jwt,
      key: `use ${apiKey}`,
    };
    const r = await client.callTool({ name: 'echo', arguments: args });
    expect(r.isError).toBeFalsy();

    const isEcho = (l: string) => l.includes('"log_type":"audit"') && l.includes('"tool":"echo"');
    await until(5_000, async () => h.logs.some(isEcho));
    const line = h.logs.find(isEcho) as string;
    const secrets = [
      'arg-pw-4242',
      'arg-header-key-77',
      jwt,
      (jwt.split('.')[2] as string).slice(0, 24),
      apiKey,
      apiKey.split('_').slice(2).join('_'),
      'policy-pw-5150',
      'opaque-policy-token-9f8e',
      'pol1cy-bearer-C0ffee',
    ];
    for (const s of secrets) expect(line, `audit line holds ${s.slice(0, 12)}…`).not.toContain(s);

    const record = JSON.parse(line) as {
      action: { arguments: Record<string, unknown> };
      obligations: { echoed: Record<string, unknown>; upstream: Record<string, unknown> };
    };
    expect(record.action.arguments).toMatchObject({
      text: 'hello',
      dsn: 'postgres://app:[redacted]@db.internal/x',
      sent: '[redacted]',
      copy: '[redacted]',
      key: 'use [redacted]',
    });
    expect(record.obligations.echoed).toMatchObject({
      dsn: 'postgres://app:[redacted]@db.internal/x',
      headers: [['X-Api-Key', '[redacted]']],
    });
    expect(record.obligations.upstream).toEqual({
      dsn: 'postgres://app:[redacted]@db.internal/sales',
      headers: [
        ['Authorization', '[redacted]'],
        ['Accept', 'application/json'],
      ],
      note: 'send Bearer [redacted] to the backend',
    });
    // Nowhere else in the sidecar's log either.
    for (const s of secrets) expect(h.logs.join('')).not.toContain(s);
  });
});

describe("audit record of a denial whose reason quotes the caller's secret", () => {
  it('writes the reason without the secret; the caller gets it as the policy wrote it', async () => {
    const jwt = await h.token({ roles: ['admin'], sub: 'quoted-in-a-reason' });
    const err = await client
      .callTool({ name: 'refuse', arguments: { sent: `Bearer ${jwt}` } })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/Forbidden/);
    // The reply is the policy author's: a reason is the caller's own input quoted back to it.
    expect((err as { data?: { reasons?: string[] } }).data?.reasons).toEqual([
      `refused: the caller sent Bearer ${jwt}`,
    ]);

    const isRefused = (l: string) => l.includes('"log_type":"audit"') && l.includes('"tool":"refuse"');
    await until(5_000, async () => h.logs.some(isRefused));
    const record = JSON.parse(h.logs.find(isRefused) as string) as { decision: string; reasons: string[] };
    expect(record.decision).toBe('deny');
    expect(record.reasons).toEqual(['refused: the caller sent Bearer [redacted]']);
    const signature = (jwt.split('.')[2] as string).slice(0, 24);
    expect(h.logs.join('')).not.toContain(signature);
  });
});
