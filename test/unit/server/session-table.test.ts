/**
 * The session table's eviction wiring (src/server/session-table.ts): with `server.unknownSessions: reject`
 * (the default) a session evicted from the full table is DELETEd at the upstream; with `forward` it stays
 * usable there, so nothing is sent and it is counted as kept. An explicit unbind sends nothing either way.
 * A session that ended (evicted while unknown sessions are refused, or unbound) drops its late-reply holds.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { LATE_REPLY_GRACE_MS } from '../../../src/mcp/in-flight-ids.js';
import type { UpstreamRequest } from '../../../src/proxy/upstream.js';
import { createSessionTable } from '../../../src/server/session-table.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import type { SessionEvictionResult } from '../../../src/telemetry/metric-labels.js';
import { principal } from '../../helpers/principal.js';
import { settlesWithin } from '../../helpers/wait.js';

const alice = principal({ id: 'alice' });
const bob = principal({ id: 'bob' });

function table(unknownSessions: 'reject' | 'forward') {
  const sent: UpstreamRequest[] = [];
  const results: SessionEvictionResult[] = [];
  let answered = (): void => undefined;
  const firstAnswered = new Promise<void>((r) => {
    answered = r;
  });
  const t = createSessionTable(parseConfig({ server: { unknownSessions } }, {}), {
    upstream: {
      request: async (r) => {
        sent.push(r);
        answered();
        return {
          status: 200,
          headers: {},
          body: undefined as never,
          whole: Promise.resolve(Buffer.alloc(0)),
        };
      },
    },
    path: '/mcp',
    logger: silentLogger(),
    onEvicted: (r) => void results.push(r),
    caps: { perCaller: 1 },
  });
  return { ...t, sent, results, firstAnswered };
}

describe('createSessionTable', () => {
  it('ends a session evicted by the per-caller cap at the upstream while unknown sessions are refused', async () => {
    const t = table('reject');
    t.owners.bind('s-1', alice);
    t.owners.sawVersion('s-1', '2025-06-18');
    t.owners.bind('s-2', alice);
    t.owners.unbind('s-2');
    await settlesWithin(2_000, t.firstAnswered, 'the DELETE');
    expect(
      t.sent.map((r) => [r.method, r.path, r.headers['mcp-session-id'], r.headers['mcp-protocol-version']]),
    ).toEqual([['DELETE', '/mcp', 's-1', '2025-06-18']]);
    await settlesWithin(
      2_000,
      waitFor(() => t.results.length === 1),
      'the result',
    );
    expect(t.results).toEqual(['ended']);
    t.ender.stop();
  });

  it('sends nothing and counts the session as kept while unknown sessions are forwarded', async () => {
    const t = table('forward');
    t.owners.bind('s-1', alice);
    t.owners.bind('s-2', alice);
    expect(t.results).toEqual(['kept']);
    expect(t.ender.pending).toEqual({ inFlight: 0, queued: 0 });
    // Past the turn in which a DELETE would have started.
    await new Promise<void>((r) => setImmediate(r));
    expect(t.sent).toEqual([]);
  });

  it('drops the late-reply holds of a session that ended (evicted, or its DELETE), and only those', () => {
    const t = table('reject');
    const hold = (session: string, id: number) => {
      const c = t.inFlight.claim(session, [{ kind: 'request', id, method: 'tools/list', params: {} }]);
      if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
    };
    t.owners.bind('s-1', alice);
    t.owners.bind('b-1', bob);
    hold('s-1', 1);
    hold('b-1', 1);
    hold('b-1', 2);
    t.owners.bind('s-2', alice); // evicts s-1 (alice's cap is one session)
    expect(t.inFlight.lateIds).toBe(2);
    t.owners.unbind('b-1');
    expect(t.inFlight.lateIds).toBe(0);
    t.ender.stop();
  });

  it('keeps the holds of a session evicted while unknown sessions are forwarded (still usable upstream)', () => {
    const t = table('forward');
    t.owners.bind('s-1', alice);
    const c = t.inFlight.claim('s-1', [{ kind: 'request', id: 1, method: 'tools/list', params: {} }]);
    if ('release' in c) c.release(LATE_REPLY_GRACE_MS);
    t.owners.bind('s-2', alice);
    expect(t.results).toEqual(['kept']);
    expect(t.inFlight.lateIds).toBe(1);
    t.owners.unbind('s-1');
    expect(t.inFlight.lateIds).toBe(0);
  });
});

/** Resolves once `check` holds, checked after each turn of the event loop. */
function waitFor(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (check() ? resolve() : setImmediate(poll));
    poll();
  });
}
