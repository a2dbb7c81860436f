/**
 * Tests of the last session check before a forward (src/server/session-gone.ts): a request the session stage
 * let use a Streamable HTTP session is not forwarded into it once its id went to another caller, nor, where
 * unknown sessions are refused, once it ended; with `unknownSessions: forward` a session unbound meanwhile (the
 * table's bounds evicted it: not ended, and an unknown session is forwarded) still goes on.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SessionOwners, type UnknownSessions } from '../../../src/mcp/session-owners.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { streamableSession } from '../../../src/pipeline/stages/session.js';
import { sessionGone } from '../../../src/server/session-gone.js';
import { principal } from '../../helpers/principal.js';

const alice = principal({ id: 'alice' });
const mallory = principal({ id: 'mallory' });

/** A request of `alice` naming session `id`, let use it by the session check. */
function checked(owners: SessionOwners, id: string): RequestContext {
  const req = { headers: { 'mcp-session-id': id } } as unknown as IncomingMessage;
  const ctx = { req, principal: alice } as unknown as RequestContext;
  expect(streamableSession(owners, ctx)).toMatchObject({ kind: 'continue' });
  expect(ctx.sessionBinding).not.toBeUndefined();
  return ctx;
}

/** Sessions of one each per caller: a caller's second session evicts its first. */
const table = (unknown: UnknownSessions) => new SessionOwners({ unknown, perCaller: 1 });

describe('sessionGone', () => {
  it('lets a request go on while its session keeps the binding it was checked with', () => {
    for (const unknown of ['reject', 'forward'] as const) {
      const owners = table(unknown);
      owners.bind('s-1', alice);
      const ctx = checked(owners, 's-1');
      expect(owners.mayUse('s-1', alice)).toBe(true);
      expect(sessionGone(ctx, owners)).toBe(false);
    }
  });

  it('refuses a request whose session id went to another caller meanwhile, whatever unknown sessions do', () => {
    for (const unknown of ['reject', 'forward'] as const) {
      const owners = table(unknown);
      owners.bind('s-1', alice);
      const ctx = checked(owners, 's-1');
      owners.unbind('s-1');
      owners.bind('s-1', mallory);
      expect(sessionGone(ctx, owners)).toBe(true);
    }
  });

  it('refuses a request whose session id went anew to the same caller meanwhile (its ids in flight ended with the session)', () => {
    for (const unknown of ['reject', 'forward'] as const) {
      const owners = table(unknown);
      owners.bind('s-1', alice);
      const ctx = checked(owners, 's-1');
      owners.unbind('s-1');
      owners.bind('s-1', alice);
      expect(owners.mayUse('s-1', alice)).toBe(true);
      expect(sessionGone(ctx, owners)).toBe(true);
    }
  });

  it('refuses a request whose session was evicted meanwhile where unknown sessions are refused (it ended)', () => {
    const owners = table('reject');
    owners.bind('s-1', alice);
    const ctx = checked(owners, 's-1');
    owners.bind('s-2', alice);
    expect(owners.binding('s-1')).toBeUndefined();
    expect(sessionGone(ctx, owners)).toBe(true);
  });

  it('forwards a request whose session was evicted meanwhile where unknown sessions are forwarded (it lives on)', () => {
    const owners = table('forward');
    owners.bind('s-1', alice);
    const ctx = checked(owners, 's-1');
    owners.bind('s-2', alice);
    expect(owners.binding('s-1')).toBeUndefined();
    // Checked now, it would be let through as unknown: the upstream still has it.
    expect(owners.mayUse('s-1', alice)).toBe(true);
    expect(sessionGone(ctx, owners)).toBe(false);
  });
});
