/**
 * Tests of the authenticate stage (src/pipeline/stages/authenticate.ts) with a fake authenticator: a
 * token verified before answers synchronously without the async path, a revoked one is refused on the
 * spot, and everything else goes through `authenticate` with the request's AbortSignal.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../../../../src/authn/authenticator.js';
import { AuthnError, type SidecarError } from '../../../../src/errors/errors.js';
import { NO_EVENTS } from '../../../../src/pipeline/events.js';
import { requestSignal } from '../../../../src/pipeline/stage.js';
import { authenticateStage } from '../../../../src/pipeline/stages/authenticate.js';
import { principal } from '../../../helpers/principal.js';
import { contextFor, fakeRequest } from '../fake-request.js';

const alice = principal();

function fake(over: Partial<Authenticator>): Authenticator & { slowCalls: (AbortSignal | undefined)[] } {
  const slowCalls: (AbortSignal | undefined)[] = [];
  return {
    name: 'authn',
    start: async () => undefined,
    stop: async () => undefined,
    status: () => ({ state: 'ok' }),
    cached: () => undefined,
    stillValid: () => undefined,
    authenticate: async (_req, signal) => {
      slowCalls.push(signal);
      return alice;
    },
    ...over,
    slowCalls,
  };
}

function run(authn: Authenticator) {
  const failures: SidecarError[] = [];
  const ctx = contextFor(fakeRequest({ authorization: 'Bearer x' }));
  const ac = new AbortController();
  const stage = authenticateStage(authn, { ...NO_EVENTS, authFailure: (_c, e) => failures.push(e) });
  return { ctx, failures, ac, result: stage.run(ctx, requestSignal(ac.signal)) };
}

describe('authenticate stage', () => {
  it('answers a cached token synchronously', () => {
    const authn = fake({ cached: () => alice });
    const { ctx, result } = run(authn);
    expect(result).toEqual({ kind: 'continue' });
    expect(ctx.principal).toBe(alice);
    expect(authn.slowCalls).toEqual([]);
  });

  it('refuses a revoked cached token on the spot and reports the failure', () => {
    const revoked = new AuthnError('ERR_AUTHN_REVOKED', 'token revoked');
    const { ctx, failures, result } = run(
      fake({
        cached: () => {
          throw revoked;
        },
      }),
    );
    expect(result).toEqual({ kind: 'deny', error: revoked });
    expect(failures).toEqual([revoked]);
    expect(ctx.principal).toBeUndefined();
  });

  it('takes the async path with the request signal otherwise', async () => {
    const authn = fake({});
    const { ctx, ac, result } = run(authn);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toEqual({ kind: 'continue' });
    expect(ctx.principal).toBe(alice);
    expect(authn.slowCalls).toEqual([ac.signal]);
  });

  it('denies with the error of a failed async check', async () => {
    const bad = new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'bad signature');
    const { failures, result } = run(fake({ authenticate: async () => Promise.reject(bad) }));
    await expect(result).resolves.toEqual({ kind: 'deny', error: bad });
    expect(failures).toEqual([bad]);
  });

  it('denies ERR_CLIENT_CLOSED, counting no failure, when the client left during the check', async () => {
    const { ctx, failures, ac, result } = run(
      fake({
        authenticate: (_req, signal) =>
          new Promise((_resolve, reject) => {
            signal?.addEventListener('abort', () =>
              reject(new AuthnError('ERR_AUTHN_UNAVAILABLE', 'JWKS fetch aborted')),
            );
          }),
      }),
    );
    ac.abort();
    await expect(result).resolves.toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_CLIENT_CLOSED', status: 499 },
    });
    expect(failures).toEqual([]);
    expect(ctx.principal).toBeUndefined();
  });

  it('checks the query string for credentials on every route but the legacy messages endpoint', async () => {
    const urls: (string | undefined)[] = [];
    const authn = fake({
      cached: (req) => {
        urls.push(req.url);
        return alice;
      },
    });
    const stage = authenticateStage(authn, NO_EVENTS);
    const ac = new AbortController();
    for (const route of ['mcp', 'legacy_sse', 'legacy_messages'] as const) {
      const req = fakeRequest({ authorization: 'Bearer x' });
      req.url = '/p?sessionId=eyJhbGciOiJFUzI1NiJ9.e30.c2ln';
      const ctx = contextFor(req);
      ctx.route = route;
      stage.run(ctx, requestSignal(ac.signal));
    }
    // The legacy messages query is the sidecar's own sessionId (an upstream's, maybe JWT-shaped), never forwarded.
    expect(urls).toEqual([
      '/p?sessionId=eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
      '/p?sessionId=eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
      undefined,
    ]);
  });

  it('tells the cache lookup of a re-check that it is one (an API key answered from it records no use)', () => {
    const seen: (boolean | undefined)[] = [];
    const authn = fake({
      cached: (req) => {
        seen.push(req.recheck);
        return alice;
      },
    });
    const ac = new AbortController();
    for (const recheck of [false, true]) {
      const stage = authenticateStage(authn, NO_EVENTS, recheck);
      expect(
        stage.run(contextFor(fakeRequest({ authorization: 'Bearer x' })), requestSignal(ac.signal)),
      ).toEqual({
        kind: 'continue',
      });
    }
    expect(seen).toEqual([false, true]);
  });
});
