import { describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/report/build.js';
import {
  createSecurityCounters,
  FIELD,
  hourOf,
  MAX_VALUES_PER_HOUR,
  OTHER,
} from '../../../src/report/counters.js';
import { formatReport } from '../../../src/report/format.js';
import { reportRoute } from '../../../src/report/route.js';
import { parseSince } from '../../../src/report/since.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { AbuseEvent, Store } from '../../../src/store/store.js';
import { StoreError } from '../../../src/store/store-error.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';

const T0 = Date.UTC(2027, 0, 15, 10, 30); // 10:30, mid-hour
const HOUR = 3_600_000;

const EVENT: AbuseEvent = {
  rule: 'query-flood',
  kind: 'tool_calls',
  subject: 'alice',
  tenant: 'acme',
  ip: '203.0.113.7',
  tool: 'query_customer_data',
  count: 101,
  windowSec: 300,
  action: 'block',
  blockedUntil: new Date(T0 + 900_000).toISOString(),
  at: new Date(T0).toISOString(),
};

async function seeded(): Promise<{ store: MemoryStore; clock: { now: number } }> {
  const clock = { now: T0 - 2 * HOUR };
  const store = new MemoryStore({ now: () => clock.now });
  const counters = createSecurityCounters({ store, logger: silentLogger(), now: () => clock.now });
  counters.authFailure('invalid_token', '198.51.100.1'); // two hours ago
  clock.now = T0;
  counters.authFailure('invalid_token', '198.51.100.1');
  counters.authFailure('expired', '198.51.100.2');
  counters.denial('delete_all', 'acme/bob', 'not_in_role');
  counters.denial('delete_all', 'acme/alice', 'not_in_role');
  counters.denial(null, 'acme/bob', 'resource_hidden');
  counters.rateLimited('acme/alice', 'query_customer_data');
  counters.rateLimited(null, null);
  counters.anomaly(EVENT);
  await counters.flush();
  await store.putBlock({
    target: 'subject',
    value: 'acme/alice',
    reason: 'abuse rule query-flood: 101 calls of query_* in 300 s',
    until: EVENT.blockedUntil as string,
    createdAt: EVENT.at,
  });
  return { store, clock };
}

describe('security report', () => {
  it('sums the hourly counters of the period, largest first', async () => {
    const { store } = await seeded();
    const r = await buildReport(store, T0 - 3 * HOUR, T0);
    expect(r).toMatchObject({
      since: new Date(T0 - 3 * HOUR).toISOString(),
      until: new Date(T0).toISOString(),
      totals: { authFailures: 3, denials: 3, rateLimited: 2, anomalies: 1, blocks: 1 },
      authFailures: [
        { reason: 'invalid_token', count: 2 },
        { reason: 'expired', count: 1 },
      ],
      authFailuresByIp: [
        { ip: '198.51.100.1', count: 2 },
        { ip: '198.51.100.2', count: 1 },
      ],
      denials: [
        { tool: 'delete_all', count: 2 },
        { tool: '-', count: 1 },
      ],
      deniedSubjects: [
        { subject: 'acme/bob', count: 2 },
        { subject: 'acme/alice', count: 1 },
      ],
      denialReasons: [
        { reason: 'not_in_role', count: 2 },
        { reason: 'resource_hidden', count: 1 },
      ],
      rateLimited: [
        { subject: '-', count: 1 },
        { subject: 'acme/alice', count: 1 },
      ],
      rateLimitedTools: [
        { tool: '-', count: 1 },
        { tool: 'query_customer_data', count: 1 },
      ],
      anomalies: [EVENT],
      blocks: [{ target: 'subject', value: 'acme/alice' }],
    });
  });

  it('keeps no signed URL credentials in the denial reasons it stores', async () => {
    const store = new MemoryStore({ now: () => T0 });
    const counters = createSecurityCounters({ store, logger: silentLogger(), now: () => T0 });
    counters.denial(
      null,
      'acme/bob',
      'write the resource URI as https://b.example/r.pdf?X-Amz-Signature=s3cr3t&v=1',
    );
    await counters.flush();
    const r = await buildReport(store, T0 - HOUR, T0);
    expect(r.denialReasons).toEqual([
      { reason: 'write the resource URI as https://b.example/r.pdf?X-Amz-Signature=REDACTED&v=1', count: 1 },
    ]);
  });

  it("keeps no secret a denial reason quotes: one reason for the callers' many tokens", async () => {
    const store = new MemoryStore({ now: () => T0 });
    const counters = createSecurityCounters({ store, logger: silentLogger(), now: () => T0 });
    const jwt = (n: number) => `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.e30.S3CRET-${n}`;
    counters.denial('query', 'acme/bob', `token ${jwt(1)} is revoked`);
    counters.denial('query', 'acme/eve', `token ${jwt(2)} is revoked`);
    counters.denial('query', 'acme/bob', `dsn app:S3CRET-3@db.internal:5432/x, key ghp_${'S3cR'.repeat(9)}`);
    await counters.flush();
    const r = await buildReport(store, T0 - HOUR, T0);
    expect(JSON.stringify(r)).not.toMatch(/S3CRET|S3cR/);
    expect(r.denialReasons).toEqual([
      { reason: 'token [redacted] is revoked', count: 2 },
      { reason: 'dsn app:[redacted]@db.internal:5432/x, key [redacted]', count: 1 },
    ]);
  });

  it('counts whole hours: the hour holding `since` is included', async () => {
    const { store } = await seeded();
    // 30 minutes back from 10:30 is 10:00, in the current hour: the failure of 08:30 is out.
    const r = await buildReport(store, T0 - 30 * 60_000, T0);
    expect(r.totals.authFailures).toBe(2);
    const wider = await buildReport(store, T0 - 2 * HOUR + 60_000, T0); // 08:31 → the 08:00 hour counts
    expect(wider.totals.authFailures).toBe(3);
  });

  it('cuts lists to the top N', async () => {
    const { store } = await seeded();
    const r = await buildReport(store, T0 - HOUR, T0, { top: 1 });
    expect(r.authFailures).toEqual([{ reason: 'expired', count: 1 }]); // ties: by name
    expect(r.totals.authFailures).toBe(2);
  });

  it('formats readable tables', async () => {
    const { store } = await seeded();
    const text = formatReport(await buildReport(store, T0 - 3 * HOUR, T0));
    expect(text).toContain(
      `Security report ${new Date(T0 - 3 * HOUR).toISOString()} .. ${new Date(T0).toISOString()}`,
    );
    expect(text).toMatch(/Failed authentications: 3\nREASON\s+COUNT\ninvalid_token\s+2\nexpired\s+1\n/);
    expect(text).toMatch(/Denials: 3\nTOOL\s+COUNT\ndelete_all\s+2\n-\s+1\n/);
    expect(text).toMatch(
      /Anomalies: 1\nTIME\s+RULE\s+KIND\s+TENANT\s+SUBJECT\s+IP\s+TOOL\s+COUNT\s+WINDOW\s+ACTION\s+BLOCKED UNTIL\n/,
    );
    expect(text).toContain('query-flood');
    expect(text).toMatch(
      /Active blocks: 1\nTARGET\s+VALUE\s+UNTIL\s+CREATED\s+REASON\nsubject\s+acme\/alice/,
    );
  });

  it('says (none) for empty sections', async () => {
    const text = formatReport(await buildReport(new MemoryStore(), T0 - HOUR, T0));
    expect(text).toContain('Failed authentications: 0\n  (none)\n');
    expect(text).toContain('Active blocks: 0\n  (none)\n');
  });
});

describe('security counters', () => {
  it('never touches the store until a flush, and writes one batch', async () => {
    const store = new MemoryStore();
    let writes = 0;
    const counting = new Proxy(store, {
      get(target, prop) {
        if (prop === 'recordSecurityCounters')
          return (...args: Parameters<Store['recordSecurityCounters']>) => {
            writes++;
            return target.recordSecurityCounters(...args);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const counters = createSecurityCounters({ store: counting, logger: silentLogger(), now: () => T0 });
    for (let i = 0; i < 1_000; i++) counters.authFailure('invalid_token', `10.0.${i % 4}.1`);
    expect(writes).toBe(0);
    await counters.flush();
    await counters.flush(); // nothing pending: no call
    expect(writes).toBe(1);
    expect((await buildReport(store, T0 - HOUR, T0)).authFailuresByIp).toHaveLength(4);
  });

  it('records at most MAX_VALUES_PER_HOUR distinct values of a category an hour; the rest count as (other)', async () => {
    const store = new MemoryStore();
    const clock = { now: T0 };
    const counters = createSecurityCounters({ store, logger: silentLogger(), now: () => clock.now });
    // A caller inventing a tool name per denied call, then a known name again.
    for (let i = 0; i < MAX_VALUES_PER_HOUR + 50; i++)
      counters.denial(`invented_${i}`, 'acme/bob', 'unknown_tool');
    counters.denial('invented_0', 'acme/bob', 'unknown_tool');
    await counters.flush();
    const hour = await store.securityCounters([hourOf(T0)]);
    const tools = [...hour.keys()].filter((f) => f.startsWith(`${FIELD.denialTool}|`));
    expect(tools).toHaveLength(MAX_VALUES_PER_HOUR + 1);
    expect(hour.get(`${FIELD.denialTool}|${OTHER}`)).toBe(50);
    expect(hour.get(`${FIELD.denialTool}|invented_0`)).toBe(2);
    // A new hour has its own allowance.
    clock.now = T0 + HOUR;
    counters.denial('invented_9999', 'acme/bob', 'unknown_tool');
    await counters.flush();
    const next = await store.securityCounters([hourOf(T0 + HOUR)]);
    expect(next.get(`${FIELD.denialTool}|invented_9999`)).toBe(1);
  });

  it('keeps the counts when a flush fails, logs once, and writes them later', async () => {
    const store = new MemoryStore();
    const state = { down: true };
    const flaky = new Proxy(store, {
      get(target, prop) {
        if (prop === 'recordSecurityCounters')
          return (...args: Parameters<Store['recordSecurityCounters']>) =>
            state.down
              ? Promise.reject(new StoreError('recordSecurityCounters', 'not connected'))
              : target.recordSecurityCounters(...args);
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lines: string[] = [];
    const counters = createSecurityCounters({
      store: flaky,
      logger: createLogger('info', { write: (s: string) => void lines.push(s) }),
      now: () => T0,
    });
    counters.denial('t', 's', 'r');
    await counters.flush();
    counters.denial('t', 's', 'r');
    counters.anomaly(EVENT);
    await counters.flush();
    expect(counters.status().state).toBe('warn');
    expect(lines.filter((l) => l.includes('security counters not written'))).toHaveLength(1);
    state.down = false;
    await counters.stop();
    const r = await buildReport(store, T0 - HOUR, T0);
    expect(r.denials).toEqual([{ tool: 't', count: 2 }]);
    expect(r.anomalies).toHaveLength(1);
    expect(counters.status().state).toBe('ok');
  });
});

describe('report route', () => {
  it('serves JSON by default and text on request', async () => {
    const { store } = await seeded();
    const route = reportRoute(store, () => T0);
    const json = await route(new URL('http://admin/report?since=3h'));
    expect(json).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' });
    expect(JSON.parse(json.body)).toMatchObject({ totals: { authFailures: 3 } });
    const text = await route(new URL('http://admin/report?format=text'));
    expect(text).toMatchObject({ status: 200, type: 'text/plain; charset=utf-8' });
    expect(text.body).toContain('Failed authentications: 3'); // default: the last 24 h
  });

  it('answers 400 for a bad query and 503 when the store fails', async () => {
    const route = reportRoute(new MemoryStore(), () => T0);
    expect(await route(new URL('http://admin/report?since=yesterday'))).toMatchObject({ status: 400 });
    expect(await route(new URL('http://admin/report?format=xml'))).toMatchObject({ status: 400 });
    const broken = new Proxy(new MemoryStore(), {
      get(target, prop) {
        if (prop === 'securityCounters')
          return () => Promise.reject(new StoreError('securityCounters', 'down'));
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await reportRoute(broken, () => T0)(new URL('http://admin/report'));
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({
      error: 'store_unavailable',
      message: 'the security report cannot be read from the store',
    });
  });
});

describe('parseSince', () => {
  it('takes durations and times', () => {
    expect(parseSince('24h', T0)).toBe(T0 - 24 * HOUR);
    expect(parseSince('7d', T0)).toBe(T0 - 7 * 24 * HOUR);
    expect(parseSince('90m', T0)).toBe(T0 - 90 * 60_000);
    expect(parseSince('2027-01-15T00:00:00Z', T0)).toBe(Date.UTC(2027, 0, 15));
    expect(parseSince(String(T0 / 1000 - 60), T0)).toBe(T0 - 60_000);
    expect(() => parseSince('0h', T0)).toThrow(RangeError);
    expect(() => parseSince('soon', T0)).toThrow(/bad since/);
    expect(() => parseSince('2030-01-01T00:00:00Z', T0)).toThrow(/in the past/);
  });

  it('reads times as --expires-at does, not as Date.parse would', () => {
    // Date.parse took 01/02/2027 as January 2 and a time without a zone as this machine's local time.
    expect(() => parseSince('01/02/2027', T0)).toThrow(/bad since .*use ISO 8601/);
    expect(() => parseSince('2027-01-15T10:00', T0)).toThrow(/has no time zone/);
    expect(() => parseSince('2027-02-30', T0)).toThrow(/no such day/);
    // `?since=2027-01-15T10:00:00+01:00` decodes the + to a space: say how to send it.
    expect(() => parseSince('2027-01-15T10:00:00 01:00', T0)).toThrow(/write \+ as %2B/);
    expect(parseSince('2027-01-15 10:00:00+0100', T0)).toBe(Date.UTC(2027, 0, 15, 9));
    // RFC 3339 (5.6) lets t and z stand for T and Z; Date.parse took them, so must the parser that replaced it.
    expect(parseSince('2027-01-15t10:00:00z', T0)).toBe(Date.UTC(2027, 0, 15, 10));
  });
});
