/**
 * `/readyz` follows the MCP server beside the sidecar: not ready while it does not accept connections
 * (before it listens, or after it went down), ready once it does — the upstream is the pod's own
 * container, so only this pod leaves the Service.
 *
 * @module
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness | undefined;
afterAll(async () => {
  await h?.stop();
});

type Ready = { status: number; upstream?: { state: string; detail?: string } };
async function readyz(adminUrl: string): Promise<Ready> {
  const res = await fetch(`${adminUrl}/readyz`);
  const body = (await res.json()) as { components: Record<string, { state: string; detail?: string }> };
  return { status: res.status, upstream: body.components.upstream };
}

describe('upstream readiness', () => {
  it('is not ready while the MCP server does not accept connections, and ready again once it does', async () => {
    const upstream = await startExampleServer({ stateless: true });
    h = await startHarness({ upstream, config: { upstream: { readinessCheckMs: 50 } } });
    const admin = h.sidecar.adminUrl;
    expect(await readyz(admin)).toMatchObject({ status: 200, upstream: { state: 'ok' } });

    const port = new URL(upstream.url).port;
    await upstream.close();
    await expect
      .poll(() => readyz(admin), { timeout: 5_000, interval: 25 })
      .toMatchObject({
        status: 503,
        upstream: { state: 'not_ready', detail: expect.stringContaining('ECONNREFUSED') },
      });
    expect(h.logs.join('\n')).toContain('upstream does not accept connections');

    const again = await startExampleServer({ stateless: true, port: Number(port) });
    try {
      await expect
        .poll(() => readyz(admin), { timeout: 5_000, interval: 25 })
        .toMatchObject({ status: 200, upstream: { state: 'ok' } });
    } finally {
      await again.close();
    }
  });
});
