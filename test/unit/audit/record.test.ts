import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hmacTag } from '../../../src/audit/mask.js';
import {
  AUDIT_NAME_MAX_CHARS,
  AUDIT_REASON_MAX_CHARS,
  AUDIT_TASK_ID_MAX_CHARS,
  type AuditInput,
  type AuditRecord,
  auditRecordSize,
  buildAuditRecord,
} from '../../../src/audit/record.js';
import type { Principal } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import type { Decision } from '../../../src/policy/decision.js';

const KEY = Buffer.alloc(32, 3);
const principal: Principal = {
  id: 'u-42',
  tenant: 'acme',
  roles: ['analyst'],
  scopes: ['mcp:tools'],
  clearance: null,
  authMethod: 'api_key',
  keyId: 'k1',
  tokenId: 'jti-secret-ish',
  claims: { email: 'ada@example.com', raw: 'eyJhbGciOi.fake.token' },
};
const allow: Decision = {
  allow: true,
  reasons: ['analyst may read customers'],
  obligations: { rate_limit: { capacity: 10, refill_per_second: 1 }, mask_arguments: ['ssn'], audit: 'full' },
  sensitivity: 'confidential',
  revision: 'rev-1',
  evalNs: 41_734,
};

function input(over: Partial<AuditInput> = {}): AuditInput {
  return {
    decisionId: 'd-1',
    time: new Date('2026-11-23T10:00:00.000Z'),
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceSampled: true,
    requestId: 'r-1',
    principal,
    action: classify('tools/call', 7, {
      name: 'read_customer',
      arguments: { id: 'c-9', ssn: '123-45-6789' },
    }),
    decision: allow,
    rateLimit: { limit: 10, remaining: 9, retryAfterMs: 0, allowed: true },
    totalMs: 1.23456,
    upstreamStatus: 200,
    clientIp: '10.0.0.7',
    sessionId: 's-9',
    transport: 'streamable-http',
    ...over,
  };
}

describe('buildAuditRecord', () => {
  it('cuts caller-chosen names, and the reasons quoting them, so a record stays one line a pipeline takes', () => {
    const huge = 'x'.repeat(1_000_000);
    const r = buildAuditRecord(
      input({
        action: classify('tools/call', 7, { name: huge, arguments: {} }),
        decision: { ...allow, allow: false, reasons: [`tool ${huge} is not in the catalog`] },
      }),
      { arguments: 'plain', maskArguments: [], key: KEY },
    );
    expect(r.action.tool).toBe(`${'x'.repeat(AUDIT_NAME_MAX_CHARS)}…`);
    expect(r.resource.name).toBe(`${'x'.repeat(AUDIT_NAME_MAX_CHARS)}…`);
    expect(r.reasons[0]).toHaveLength(AUDIT_REASON_MAX_CHARS + 1);
    expect(JSON.stringify(r).length).toBeLessThan(8_192);
  });

  it('names the task the request names or created, cutting a long id, and weighs it', () => {
    const masking = { arguments: 'plain', maskArguments: [], key: KEY } as const;
    expect(buildAuditRecord({ ...input(), taskId: 't-1' }, masking).action.task_id).toBe('t-1');
    const long = buildAuditRecord({ ...input(), taskId: 'x'.repeat(10_000) }, masking);
    expect(long.action.task_id).toBe(`${'x'.repeat(AUDIT_TASK_ID_MAX_CHARS)}…`);
    expect(auditRecordSize(long) - auditRecordSize(buildAuditRecord(input(), masking))).toBe(
      AUDIT_TASK_ID_MAX_CHARS + 1,
    );
  });

  it('builds the documented record', () => {
    const r = buildAuditRecord(input(), { arguments: 'plain', maskArguments: [], key: KEY });
    expect(r).toEqual({
      schema_version: 1,
      decision_id: 'd-1',
      time: '2026-11-23T10:00:00.000Z',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
      trace_sampled: true,
      request_id: 'r-1',
      subject: { id: 'u-42', tenant: 'acme', roles: ['analyst'], auth_method: 'api_key', key_id: 'k1' },
      action: {
        method: 'tools/call',
        tool: 'read_customer',
        arguments: { id: 'c-9', ssn: hmacTag('123-45-6789', KEY) },
        task_id: null,
      },
      resource: { kind: 'tool', name: 'read_customer', sensitivity: 'confidential' },
      decision: 'allow',
      deny_reason: null,
      enforced: true,
      reasons: ['analyst may read customers'],
      failure: null,
      obligations: allow.obligations,
      obligations_applied: ['mask_arguments', 'rate_limit', 'audit'],
      policy_revision: 'rev-1',
      rate_limit: { limit: 10, remaining: 9, retry_after_ms: 0, allowed: true },
      latency: { eval_us: 41.7, total_ms: 1.235 },
      upstream: { status: 200 },
      client_ip: '10.0.0.7',
      session_id: 's-9',
      transport: 'streamable-http',
    } satisfies AuditRecord);
  });

  it('never carries claims, the token id or raw argument values in hash mode', () => {
    const json = JSON.stringify(
      buildAuditRecord(input(), { arguments: 'hash', maskArguments: [], key: KEY }),
    );
    for (const secret of ['eyJhbGciOi', 'jti-secret-ish', 'ada@example.com', '123-45-6789', 'c-9']) {
      expect(json).not.toContain(secret);
    }
  });

  it('records a rate-limited message as a deny with reason ratelimit', () => {
    const r = buildAuditRecord(
      input({
        rateLimit: { limit: 10, remaining: 0, retryAfterMs: 1500, allowed: false },
        upstreamStatus: null,
      }),
      { arguments: 'drop', maskArguments: [], key: KEY },
    );
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'ratelimit',
      reasons: ['analyst may read customers', 'rate limit exceeded'],
      rate_limit: { remaining: 0, retry_after_ms: 1500, allowed: false },
      upstream: null,
    });
  });

  it('records a message refused with the rest of its batch (no bucket of its own charged) as a ratelimit deny', () => {
    const r = buildAuditRecord(
      input({
        rateLimit: null,
        lateRefusal: {
          code: 'ERR_RATELIMIT_EXCEEDED',
          reason: 'rate limit exceeded (for echo, in the same batch)',
        },
        upstreamStatus: null,
      }),
      { arguments: 'drop', maskArguments: [], key: KEY },
    );
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'ratelimit',
      reasons: ['analyst may read customers', 'rate limit exceeded (for echo, in the same batch)'],
      rate_limit: null,
    });
  });

  it('records a policy deny or failure with reason policy, and method-level actions without arguments', () => {
    const r = buildAuditRecord(
      input({
        action: classify('tools/list', 1, {}),
        decision: {
          ...allow,
          allow: false,
          reasons: ['no policy'],
          failure: 'no_policy',
          revision: null,
          obligations: {},
        },
        rateLimit: null,
        upstreamStatus: null,
        totalMs: null,
      }),
      { arguments: 'plain', maskArguments: [], key: KEY },
    );
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'policy',
      failure: 'no_policy',
      action: { method: 'tools/list', tool: null, arguments: null },
      resource: { kind: 'method', name: 'tools/list' },
      obligations_applied: [],
      policy_revision: null,
      rate_limit: null,
      latency: { total_ms: null },
    });
  });

  it('records a policy deny that policy.dryRun let through as not enforced, with the upstream status', () => {
    const denied = { ...allow, allow: false, reasons: ['role analyst may not call tool delete_customer'] };
    const r = buildAuditRecord(
      input({ decision: denied, dryRun: true, rateLimit: null, upstreamStatus: 200 }),
      {
        arguments: 'drop',
        maskArguments: [],
        key: KEY,
      },
    );
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'policy',
      enforced: false,
      reasons: ['role analyst may not call tool delete_customer'],
      upstream: { status: 200 },
    });
    // Its bucket refused it: the rate limit's refusal was enforced.
    const limited = buildAuditRecord(
      input({
        decision: denied,
        dryRun: true,
        rateLimit: { limit: 10, remaining: 0, retryAfterMs: 1500, allowed: false },
        upstreamStatus: null,
      }),
      { arguments: 'drop', maskArguments: [], key: KEY },
    );
    expect(limited).toMatchObject({ decision: 'deny', deny_reason: 'ratelimit', enforced: true });
  });

  it('masks config paths too, and leaves arguments out for audit: minimal', () => {
    const masked = buildAuditRecord(input(), {
      arguments: 'plain',
      maskArguments: ['id'],
      listedMode: 'redact',
      key: KEY,
    });
    expect(masked.action.arguments).toEqual({ id: '[redacted]', ssn: '[redacted]' });
    const minimal = buildAuditRecord(input({ decision: { ...allow, obligations: { audit: 'minimal' } } }), {
      arguments: 'plain',
      maskArguments: [],
      key: KEY,
    });
    expect(minimal.action.arguments).toBeNull();
    expect(minimal.obligations_applied).toEqual(['audit']);
  });

  it('cuts the secrets of URIs out of the method, the names and every reason, as the spans do', () => {
    const uri = 'https://b.example/r.pdf?X-Amz-Signature=S3CR3T-SIG&v=1';
    const shown = 'https://b.example/r.pdf?X-Amz-Signature=REDACTED&v=1';
    const r = buildAuditRecord(
      input({
        action: classify(`x/${uri}`, 7, {}),
        decision: { ...allow, reasons: [`may read ${uri}`] },
        lateRefusal: { code: 'ERR_RATELIMIT_EXCEEDED', reason: `bucket of ${uri} is empty` },
      }),
      { arguments: 'plain', maskArguments: [], key: KEY },
    );
    expect(JSON.stringify(r)).not.toContain('S3CR3T-SIG');
    expect(r.action.method).toBe(`x/${shown}`);
    expect(r.reasons).toEqual([`may read ${shown}`, `bucket of ${shown} is empty`]);
  });

  it('scrubs secrets a reason quotes by value, as in kept arguments, before cutting it', () => {
    const jwt = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.e30.c2lnbmF0dXJlLXNlY3JldA`;
    const pat = `ghp_${'S3cR'.repeat(9)}`;
    const long = `${'x'.repeat(AUDIT_REASON_MAX_CHARS - 20)} Bearer Zm9vOmJhcjEyMzQ1Ng== ${'y'.repeat(9_000)}`;
    const r = buildAuditRecord(
      input({
        decision: {
          ...allow,
          allow: false,
          reasons: [
            `token ${jwt} is revoked`,
            'caller sent Authorization: Bearer opaque-S3CRET-1',
            `key ${pat} belongs to another tenant`,
            'dsn app:S3CRET-2@db.internal:5432/sales and https://u:S3CRET-3@h.example/x?sig=S3CRET-4',
            long,
          ],
        },
      }),
      { arguments: 'plain', maskArguments: [], key: KEY },
    );
    const text = JSON.stringify(r.reasons);
    for (const secret of [jwt, 'S3CRET', 'S3cR', 'Zm9vOmJhcjEyMzQ1Ng']) expect(text).not.toContain(secret);
    expect(r.reasons.slice(0, 4)).toEqual([
      'token [redacted] is revoked',
      'caller sent Authorization: Bearer [redacted]',
      'key [redacted] belongs to another tenant',
      'dsn app:[redacted]@db.internal:5432/sales and https://REDACTED@h.example/x?sig=REDACTED',
    ]);
    expect(r.reasons[4]).toHaveLength(AUDIT_REASON_MAX_CHARS + 1);
    expect(r.reasons[4]).toMatch(/ Bearer \[redacted\] y+…$/);
  });

  it('records a request refused after its decision (its legacy session ended) as a denial, not forwarded', () => {
    const masking = { arguments: 'hash', maskArguments: [], key: KEY } as const;
    const lateRefusal = {
      code: 'ERR_REQUEST_SESSION',
      reason: 'the session ended before the request was forwarded',
    } as const;
    const r = buildAuditRecord(input({ lateRefusal, upstreamStatus: null, rateLimit: null }), masking);
    expect(r).toMatchObject({
      decision: 'deny',
      deny_reason: 'request',
      enforced: true,
      reasons: ['analyst may read customers', 'the session ended before the request was forwarded'],
      upstream: null,
    });
    // A dry-run denial refused so was not let through after all: enforced, for the later refusal's reason.
    const dry = buildAuditRecord(
      input({ decision: { ...allow, allow: false }, dryRun: true, lateRefusal, upstreamStatus: null }),
      masking,
    );
    expect([dry.decision, dry.deny_reason, dry.enforced]).toEqual(['deny', 'request', true]);
  });

  it('scrubs secret-named fields a policy put in its obligations (audit lines have no generic redaction)', () => {
    const obligations = { audit: 'full' as const, token: 'tok-123', apiKey: 'k', route_hint: 'blue' };
    const r = buildAuditRecord(input({ decision: { ...allow, obligations } }), {
      arguments: 'hash',
      maskArguments: [],
      key: KEY,
    });
    expect(r.obligations).toEqual({
      audit: 'full',
      token: '[redacted]',
      apiKey: '[redacted]',
      route_hint: 'blue',
    });
    expect(JSON.stringify(r)).not.toContain('tok-123');
  });

  it('scrubs secrets a policy put in its obligations by value, under keys that name none', () => {
    const obligations = {
      upstream: {
        dsn: 'postgres://app:ob-pw-31@db/x',
        headers: [['Authorization', 'opaque-ob-token']],
        hint: 'Bearer ob-Bearer-123456',
      },
      audit: 'full' as const,
    };
    const r = buildAuditRecord(input({ decision: { ...allow, obligations } }), {
      arguments: 'hash',
      maskArguments: [],
      key: KEY,
    });
    expect(r.obligations).toEqual({
      upstream: {
        dsn: 'postgres://app:[redacted]@db/x',
        headers: [['Authorization', '[redacted]']],
        hint: '[redacted]',
      },
      audit: 'full',
    });
  });

  it('scrubs secret-named keys nested in obligations too, bounded like arguments', () => {
    const obligations = {
      upstream: { headers: { authorization: 'Bearer eyJ.nested.secret', 'x-trace': 'keep-me' } },
      forward: [{ api_key: 'sk-in-array', region: 'eu' }, { deeper: { client_secret: 'cs-deep' } }],
      audit: 'full' as const,
    };
    const r = buildAuditRecord(input({ decision: { ...allow, obligations } }), {
      arguments: 'hash',
      maskArguments: [],
      key: KEY,
    });
    expect(r.obligations).toEqual({
      upstream: { headers: { authorization: '[redacted]', 'x-trace': 'keep-me' } },
      forward: [{ api_key: '[redacted]', region: 'eu' }, { deeper: { client_secret: '[redacted]' } }],
      audit: 'full',
    });
    const line = JSON.stringify(r);
    for (const secret of ['eyJ.nested.secret', 'sk-in-array', 'cs-deep']) expect(line).not.toContain(secret);
    // A policy echoing a huge value into its obligations does not make a huge line, and the queue weighs it.
    const huge = { blob: Array.from({ length: 100_000 }, (_, i) => ({ i, note: 'x'.repeat(50) })) };
    const big = buildAuditRecord(input({ decision: { ...allow, obligations: huge } }), {
      arguments: 'hash',
      maskArguments: [],
      key: KEY,
    });
    expect(JSON.stringify(big).length).toBeLessThan(20_000);
    const base = buildAuditRecord(input({ decision: { ...allow, obligations: {} } }), {
      arguments: 'hash',
      maskArguments: [],
      key: KEY,
    });
    expect(auditRecordSize(big) - auditRecordSize(base)).toBeGreaterThan(4_000);
  });
});

/** Dotted paths of a record's fields; arrays and free-form objects are leaves. */
function fieldPaths(v: Record<string, unknown>, prefix = ''): string[] {
  const leaves = new Set(['action.arguments', 'obligations']);
  return Object.entries(v).flatMap(([k, x]) => {
    const p = prefix + k;
    return typeof x === 'object' && x !== null && !Array.isArray(x) && !leaves.has(p)
      ? fieldPaths(x as Record<string, unknown>, `${p}.`)
      : [p];
  });
}

describe('docs/audit.md', () => {
  it('documents exactly the fields a record has', () => {
    const doc = readFileSync(new URL('../../../docs/audit.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Fields'), doc.indexOf('## Example'));
    const documented = [...section.matchAll(/^\|\s*`([a-z_.]+)`\s*\|/gm)].map((m) => m[1]);
    const record = buildAuditRecord(input(), { arguments: 'hash', maskArguments: [], key: KEY });
    expect(documented.sort()).toEqual(fieldPaths(record as unknown as Record<string, unknown>).sort());
  });
});
