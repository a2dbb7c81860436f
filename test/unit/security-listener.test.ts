/**
 * The security listener feeds failed authentications to the abuse rules and the report counters. An
 * outage of the sidecar's own dependencies (JWKS or store unreachable: 503) is counted for the report but
 * not against the caller's address, so an outage cannot trip the IP-block rule for every client.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import type { AbuseDetector } from '../../src/abuse/detector.js';
import type { CredentialOwner } from '../../src/abuse/types.js';
import { ANONYMOUS } from '../../src/authn/principal.js';
import { AuthnError } from '../../src/errors/errors.js';
import { classify } from '../../src/mcp/action.js';
import type { MessageDecision } from '../../src/pipeline/context.js';
import type { SecurityCounters } from '../../src/report/counters.js';
import { reportedReason, securityListener, subjectKey } from '../../src/security-listener.js';
import { contextFor, fakeRequest } from './pipeline/fake-request.js';

function setup() {
  const recorded: string[] = [];
  const counted: string[] = [];
  const subjects: (CredentialOwner | null)[] = [];
  const detector = {
    recordAuthFailure: (s: CredentialOwner | null, _ip: string, code: string) => {
      recorded.push(code);
      subjects.push(s);
    },
  } as unknown as AbuseDetector;
  const counters = { authFailure: (code: string) => counted.push(code) } as unknown as SecurityCounters;
  const listener = securityListener(detector, counters);
  const fail = (
    code: ConstructorParameters<typeof AuthnError>[0],
    owner?: { subject: string; tenant?: string | null },
    uncounted?: boolean,
  ) =>
    listener.authFailure?.(
      contextFor(fakeRequest({})),
      Object.assign(new AuthnError(code, 'x'), owner ?? {}, uncounted ? { uncounted } : {}),
    );
  return { recorded, counted, subjects, fail };
}

describe('securityListener.authFailure', () => {
  it.each(['ERR_AUTHN_INVALID_TOKEN', 'ERR_AUTHN_INVALID_API_KEY', 'ERR_AUTHN_REVOKED'] as const)(
    'counts %s against the caller (abuse rules) and in the report',
    (code) => {
      const { recorded, counted, fail } = setup();
      fail(code);
      expect(recorded).toEqual([code]);
      expect(counted).toEqual([code]);
    },
  );

  it.each(['ERR_AUTHN_MISSING', 'ERR_AUTHN_INSUFFICIENT_SCOPE'] as const)(
    'does not count %s (no credential guessed: a client discovering the authorization server, a token short of a scope) against the caller',
    (code) => {
      const { recorded, counted, fail } = setup();
      fail(code);
      expect(recorded).toEqual([]);
      expect(counted).toEqual([code]);
    },
  );

  it('does not count an unavailable JWKS or store (503) against the caller, only in the report', () => {
    const { recorded, counted, fail } = setup();
    fail('ERR_AUTHN_UNAVAILABLE');
    expect(recorded).toEqual([]);
    expect(counted).toEqual(['ERR_AUTHN_UNAVAILABLE']);
  });

  it('does not count a token naming a key not fetched yet (JWKS cooldown) against the caller', () => {
    const { recorded, counted, fail } = setup();
    fail('ERR_AUTHN_INVALID_TOKEN', undefined, true);
    expect(recorded).toEqual([]);
    expect(counted).toEqual(['ERR_AUTHN_INVALID_TOKEN']);
  });

  it("counts a failure against the subject when the credential's owner is known (an API key)", () => {
    const { subjects, fail } = setup();
    fail('ERR_AUTHN_INVALID_API_KEY', { subject: 'svc-report', tenant: 'acme' });
    fail('ERR_AUTHN_REVOKED', { subject: 'svc-global', tenant: null });
    fail('ERR_AUTHN_INVALID_TOKEN');
    expect(subjects).toEqual([
      { subject: 'svc-report', tenant: 'acme' },
      { subject: 'svc-global', tenant: null },
      null,
    ]);
  });
});

describe('securityListener.decision', () => {
  it('tells the detector whether the upstream listed the tool, for allowed and dry-run calls, not for denials or rate-limit refusals', () => {
    const calls: Array<[string, boolean | undefined]> = [];
    const detector = {
      recordCall: (_p: unknown, tool: string, _ip: string, listed?: boolean) => calls.push([tool, listed]),
    } as unknown as AbuseDetector;
    const counters = { denial: () => undefined, rateLimited: () => undefined } as unknown as SecurityCounters;
    const listener = securityListener(detector, counters, (t) => t === 'echo');
    const ctx = contextFor(fakeRequest({}));
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt' };
    const decided = (tool: string, allow: boolean, dryRun?: true) =>
      ({
        index: 0,
        action: classify('tools/call', 1, { name: tool, arguments: {} }),
        decision: { allow, reasons: [], obligations: {}, sensitivity: undefined, revision: 'r', evalNs: 1 },
        decisionId: 'd',
        ...(dryRun ? { dryRun } : {}),
      }) as MessageDecision;
    listener.decision?.(ctx, decided('echo', true));
    listener.decision?.(ctx, decided('made_up_1', true));
    listener.decision?.(ctx, decided('made_up_2', false));
    listener.decision?.(ctx, decided('made_up_3', false, true));
    // Refused by the rate limiter (429) or for its store's outage (503): never made, not counted.
    listener.decision?.(ctx, {
      ...decided('echo', true),
      lateRefusal: { code: 'ERR_RATELIMIT_EXCEEDED', reason: 'rate limit exceeded' },
    } as MessageDecision);
    listener.decision?.(ctx, {
      ...decided('echo', true),
      lateRefusal: { code: 'ERR_RATELIMIT_BACKEND', reason: 'rate limits cannot be checked' },
    } as MessageDecision);
    // Refused after both (its legacy session ended while its stages ran): never made either.
    listener.decision?.(ctx, {
      ...decided('echo', true),
      lateRefusal: {
        code: 'ERR_REQUEST_SESSION',
        reason: 'the session ended before the request was forwarded',
      },
    } as MessageDecision);
    expect(calls).toEqual([
      ['echo', true],
      ['made_up_1', false],
      ['made_up_3', false],
    ]);
  });
});

describe('securityListener: what the report counts', () => {
  it('names a tool the upstream never listed as (unlisted tools), in the reason quoting it too, and an IPv6 address by its /64', () => {
    const denials: unknown[][] = [];
    const limited: unknown[][] = [];
    const ips: string[] = [];
    const counters = {
      denial: (...a: unknown[]) => denials.push(a),
      rateLimited: (...a: unknown[]) => limited.push(a),
      authFailure: (_code: string, ip: string) => ips.push(ip),
    } as unknown as SecurityCounters;
    const detector = {
      recordCall: () => undefined,
      recordAuthFailure: () => undefined,
    } as unknown as AbuseDetector;
    const listener = securityListener(detector, counters, (t) => t === 'echo');
    const ctx = contextFor(fakeRequest({}));
    ctx.principal = { ...ANONYMOUS, tenant: 'acme', id: 'g-1', authMethod: 'jwt' };
    const denied = (tool: string) =>
      ({
        index: 0,
        action: classify('tools/call', 1, { name: tool, arguments: {} }),
        decision: {
          allow: false,
          reasons: [`role guest may not call tool ${tool}`],
          obligations: {},
          sensitivity: undefined,
          revision: 'r',
          evalNs: 1,
        },
        decisionId: 'd',
      }) as MessageDecision;
    listener.decision?.(ctx, denied('echo'));
    listener.decision?.(ctx, denied('invented_4711'));
    listener.decision?.(ctx, {
      ...denied('invented_4712'),
      decision: { ...denied('x').decision, allow: true },
      lateRefusal: { code: 'ERR_RATELIMIT_EXCEEDED', reason: 'rate limit exceeded' },
    } as MessageDecision);
    expect(denials).toEqual([
      ['echo', 'acme/g-1', 'role guest may not call tool echo'],
      ['(unlisted tools)', 'acme/g-1', 'role guest may not call tool (unlisted tools)'],
    ]);
    expect(limited).toEqual([['acme/g-1', '(unlisted tools)']]);
    for (const ip of ['2001:db8:1:2::7', '2001:db8:1:2::8'])
      listener.authFailure?.(
        { ...contextFor(fakeRequest({})), clientIp: ip },
        new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'x'),
      );
    expect(ips).toEqual(['2001:db8:1:2::/64', '2001:db8:1:2::/64']);
  });
});

describe('reportedReason', () => {
  const tool = (name: string) => classify('tools/call', 1, { name, arguments: {} });
  it('replaces the freely chosen name where the reason quotes it last, and nothing else', () => {
    expect(reportedReason('role guest may not call tool o', tool('o'), false)).toBe(
      'role guest may not call tool (unlisted tools)',
    );
    expect(reportedReason('role guest may not call tool may', tool('may'), false)).toBe(
      'role guest may not call tool (unlisted tools)',
    );
    expect(reportedReason('role guest may not call tool echo', tool('echo'), true)).toBe(
      'role guest may not call tool echo',
    );
    // No name (a tools/call without one): the reason as it is, not a marker between every character.
    expect(reportedReason('tool name missing', tool(''), false)).toBe('tool name missing');
    expect(
      reportedReason(
        'role guest may not use prompt p-4711',
        classify('prompts/get', 1, { name: 'p-4711' }),
        true,
      ),
    ).toBe('role guest may not use prompt (name)');
    expect(
      reportedReason(
        'role guest may not access resource file:///y/4711',
        classify('resources/read', 1, { uri: 'file:///y/4711' }),
        true,
      ),
    ).toBe('role guest may not access resource (name)');
  });
});

describe('subjectKey', () => {
  it('names tenant/subject, keeping a slash inside either from making two callers one', () => {
    const key = (tenant: string, id: string) => subjectKey({ ...ANONYMOUS, id, tenant, authMethod: 'jwt' });
    expect(key('acme', 'alice')).toBe('acme/alice');
    expect(key('a/b', 'c')).not.toBe(key('a', 'b/c'));
    expect(key('a/b', 'c')).toBe('a%2Fb/c');
    expect(key('a', '50%/x')).toBe('a/50%25%2Fx');
    expect(subjectKey(undefined)).toBeNull();
  });
});
