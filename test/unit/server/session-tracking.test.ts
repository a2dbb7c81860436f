/**
 * `trackSession`, what a forwarded reply means for Streamable HTTP session ownership, against a fake table:
 * a session the shared store says another caller holds is SESSION_TAKEN (its reply must not reach this
 * caller), a DELETE frees the session it ends, and a 404 for a session is reported (the upstream has none).
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import type { SessionOwners } from '../../../src/mcp/session-owners.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { SESSION_TAKEN, trackSession } from '../../../src/server/session-tracking.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { principal } from '../../helpers/principal.js';

function ctx(headers: Record<string, string>): RequestContext {
  return { req: { headers }, requestId: 'r1', principal: principal() } as unknown as RequestContext;
}

function owners(bind: (id: string) => boolean | Promise<boolean>): {
  calls: string[];
  sessions: SessionOwners;
} {
  const calls: string[] = [];
  const sessions = {
    bind: (id: string) => {
      calls.push(`bind ${id}`);
      return bind(id);
    },
    unbind: (id: string) => calls.push(`unbind ${id}`),
    notFound: (id: string) => calls.push(`not found ${id}`),
    sawVersion: (id: string, v: string) => calls.push(`version ${id} ${v}`),
  } as unknown as SessionOwners;
  return { calls, sessions };
}

describe('trackSession', () => {
  it('is SESSION_TAKEN when the shared store has the issued session bound to another caller', async () => {
    const { sessions } = owners(() => Promise.resolve(false));
    const reply = { status: 200, headers: { 'mcp-session-id': 'sess-1' } };
    const tracked = trackSession(ctx({}), 'POST', reply, sessions, silentLogger());
    expect(tracked).toBeInstanceOf(Promise);
    expect(await tracked).toBe(SESSION_TAKEN);
  });

  it('is the issued id once the shared store grants the claim', async () => {
    const { sessions } = owners(() => Promise.resolve(true));
    const reply = { status: 200, headers: { 'mcp-session-id': 'sess-1' } };
    expect(await trackSession(ctx({}), 'POST', reply, sessions, silentLogger())).toBe('sess-1');
  });

  it('frees the session a DELETE ends (the caller’s binding goes with it)', () => {
    const { calls, sessions } = owners(() => true);
    const reply = { status: 200, headers: {} };
    trackSession(ctx({ 'mcp-session-id': 'sess-1' }), 'DELETE', reply, sessions, silentLogger());
    expect(calls).toEqual(['unbind sess-1']);
  });

  it('keeps the binding when the upstream refused the DELETE', () => {
    const { calls, sessions } = owners(() => true);
    const reply = { status: 405, headers: {} };
    trackSession(ctx({ 'mcp-session-id': 'sess-1' }), 'DELETE', reply, sessions, silentLogger());
    expect(calls).toEqual([]);
  });

  it('reports a session the upstream answered 404 for (it has no such session), and nothing without one', () => {
    const { calls, sessions } = owners(() => true);
    const reply = { status: 404, headers: {} };
    for (const method of ['DELETE', 'POST', 'GET']) {
      trackSession(ctx({ 'mcp-session-id': 'sess-1' }), method, reply, sessions, silentLogger());
    }
    trackSession(ctx({}), 'POST', reply, sessions, silentLogger());
    trackSession(
      ctx({ 'mcp-session-id': 'sess-2' }),
      'POST',
      { status: 400, headers: {} },
      sessions,
      silentLogger(),
    );
    expect(calls).toEqual(['not found sess-1', 'not found sess-1', 'not found sess-1']);
  });
});
