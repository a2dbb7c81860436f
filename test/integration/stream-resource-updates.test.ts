/**
 * What a `subscriptions/listen` stream may cost the other callers and tell its own: open listens must not
 * hold the capped upstream pool (every 2026-07-28 client keeps one open, as a 2025 client kept its GET
 * stream), and a `notifications/resources/updated` on it (whose URI "might be a sub-resource of the one
 * that the client actually subscribed to") reaches the caller only for a URI the policy lets them
 * subscribe to; so on a Streamable HTTP GET stream.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenHarness, post2026, readUntil } from '../helpers/listen-upstream.js';
import type { Harness } from '../helpers/sidecar.js';
import { settlesWithin } from '../helpers/wait.js';

const GUARD_MS = 5_000;
const CONNECTIONS = 2;

let h: Harness;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ h, stop } = await listenHarness({ upstream: { connections: CONNECTIONS } }));
});

afterAll(async () => {
  await stop?.();
});

const post = (token: string, id: number, method: string, params?: Record<string, unknown>) =>
  post2026(h.mcpUrl, token, id, method, params);

describe('event streams: upstream pool and resource updates', () => {
  it('answers another caller while upstream.connections listen streams are open', async () => {
    const open = await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        const token = await h.token({ sub: `listener-${i}`, roles: ['user'] });
        const res = await post(token, i, 'subscriptions/listen', {
          notifications: { toolsListChanged: true },
        });
        expect(res.status).toBe(200);
        return readUntil(res, 'list_changed');
      }),
    );
    const other = await h.token({ sub: 'discoverer', roles: ['guest'] });
    const res = await settlesWithin(GUARD_MS, post(other, 9, 'server/discover'), 'server/discover');
    expect(res.status).toBe(200);
    for (const s of open) s.close();
  });

  it('passes on resources/updated only for URIs the policy lets the caller subscribe to', async () => {
    // `user` (clearance internal, resources **) may subscribe to crm://acme/customers (no catalog entry:
    // internal), not to crm://acme/customers/c-1 (catalog: confidential).
    const token = await h.token({ sub: 'curious', roles: ['user'], tenant: 'acme' });
    const res = await post(token, 20, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: ['crm://acme/customers'] },
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, 'list_changed');
    stream.close();
    expect(stream.text).toContain('"uri":"crm://acme/customers"');
    expect(stream.text).not.toContain('crm://acme/customers/c-1');
  });

  it.each([
    ['a Streamable HTTP GET stream', () => h.mcpUrl],
    ['the legacy SSE stream', () => h.sseUrl],
  ])('does the same on %s, judging a URI in its canonical form', async (_label, url) => {
    const token = await h.token({ sub: `curious-${_label}`, roles: ['user'], tenant: 'acme' });
    const res = await fetch(url(), {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    const stream = await readUntil(res, 'list_changed');
    stream.close();
    expect(stream.text).toContain('"uri":"crm://acme/customers"');
    expect(stream.text.toLowerCase()).not.toContain('crm://acme/customers/c-1');
  });
});
