/**
 * Tests of the decision cache (src/policy/decision-cache.ts) through the real wasm engine: which inputs
 * share a result, that a reload empties it, and that a policy whose result depends on what the key
 * leaves out (context.time, context.request_id, rand.intn) is evaluated every time.
 *
 * @module
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import { type Bundle, readBundle } from '../../../src/policy/bundle.js';
import type { Decision } from '../../../src/policy/decision.js';
import {
  CLOCK_CONTEXT_FIELDS,
  cacheability,
  cacheKey,
  cacheOwner,
  DecisionCache,
  MAX_KEY_CHARS,
  probeInput,
  sameResult,
  VOLATILE_CONTEXT_FIELDS,
} from '../../../src/policy/decision-cache.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { buildDecisionInput, buildVisibleInput, type RequestFacts } from '../../../src/policy/input.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, defaultPolicyBundle } from '../../helpers/policy.js';
import { principal } from '../../helpers/principal.js';

const opts = (enabled = true, maxEntries = 100) => ({
  decisionEntrypoint: 'mcp/authz/decision',
  visibleEntrypoint: 'mcp/authz/visible',
  logger: silentLogger(),
  cache: { enabled, maxEntries },
});

const user = principal({ id: 'u-1' });

function facts(iso: string, requestId = 'r-1'): RequestFacts {
  return {
    now: new Date(iso),
    clientIp: '10.0.0.7',
    sessionId: null,
    requestId,
    environment: 'prod',
    timezone: 'UTC',
  };
}

/** As the sidecar sends it for a tool the example server lists as read-only. */
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, seen: true };

function call(tool: string, args: Record<string, unknown>, f: RequestFacts) {
  return buildDecisionInput(user, classify('tools/call', 1, { name: tool, arguments: args }), READ_ONLY, f);
}

/** Only the two fields every request changes: what the key leaves out for a policy that names all others. */
const VOLATILE: ReadonlySet<string> = new Set(['time', 'request_id']);

let defaultBundle: Bundle;
const fixtures: Record<string, Bundle> = {};

beforeAll(async () => {
  defaultBundle = await readBundle(await defaultPolicyBundle());
  for (const name of [
    'time',
    'request-id',
    'generic',
    'path-time',
    'walk',
    'built-name-time',
    'built-name-date',
    'data-path-time',
  ])
    fixtures[name] = await readBundle(await buildBundle(`test/fixtures/policies/cache/${name}`));
  fixtures.conflict = await readBundle(await buildBundle('test/fixtures/policies/conflict'));
});

describe('cache key', () => {
  it('leaves out only context.time and context.request_id', () => {
    const a = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01.000Z', 'r-1'));
    const b = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:59.999Z', 'r-2'));
    expect(cacheKey(a, VOLATILE)).toBe(cacheKey(b, VOLATILE));
    expect(cacheKey(a, VOLATILE)).not.toBe(
      cacheKey(call('echo', { text: 'ho' }, facts('2026-11-23T10:00:01Z')), VOLATILE),
    );
    // The minute is in the key, so an entry never answers for another minute.
    expect(cacheKey(a, VOLATILE)).not.toBe(
      cacheKey(call('echo', { text: 'hi' }, facts('2026-11-23T10:01:00Z')), VOLATILE),
    );
    expect(cacheKey(a, VOLATILE)).not.toContain('r-1');
  });

  it('names the subject by a serial number, the same for an equal subject in a new object', () => {
    const f = facts('2026-11-23T10:00:01Z');
    // A principal rebuilt for each request (token cache off) is the same subject: its entries must hit.
    const twin = { ...user, claims: { ...user.claims } };
    const other = { ...user, claims: { ...user.claims, extra: 1 } };
    const action = () => classify('tools/call', 1, { name: 'echo', arguments: { text: 'hi' } });
    const mine = cacheKey(buildDecisionInput(user, action(), {}, f), VOLATILE);
    expect(cacheKey(buildDecisionInput(twin, action(), {}, f), VOLATILE)).toBe(mine);
    expect(cacheKey(buildDecisionInput(other, action(), {}, f), VOLATILE)).not.toBe(mine);
    expect(mine).not.toContain('u-1');
  });

  it("counts a subject's results against one share whatever token it came with (refreshed tokens differ in claims)", () => {
    const f = facts('2026-11-23T10:00:01Z');
    const action = classify('tools/call', 1, { name: 'echo', arguments: { text: 'hi' } });
    const refreshed = { ...user, claims: { ...user.claims, jti: 'another', iat: 2 } };
    const owner = cacheOwner(buildDecisionInput(user, action, {}, f));
    expect(cacheOwner(buildDecisionInput(refreshed, action, {}, f))).toBe(owner);
    expect(cacheOwner(buildDecisionInput({ ...user, id: 'u-2' }, action, {}, f))).not.toBe(owner);
    expect(cacheOwner(buildDecisionInput({ ...user, tenant: 'globex' }, action, {}, f))).not.toBe(owner);
  });

  it('differs for another subject, tool, annotation, session, client or argument', () => {
    const f = facts('2026-11-23T10:00:01Z');
    const base = cacheKey(call('echo', { text: 'hi' }, f), VOLATILE);
    const other = (p: Principal) =>
      cacheKey(
        buildDecisionInput(p, classify('tools/call', 1, { name: 'echo', arguments: { text: 'hi' } }), {}, f),
        VOLATILE,
      );
    const variants = [
      other({ ...user, id: 'u-2' }),
      other({ ...user, roles: ['admin'] }),
      other({ ...user, tenant: 'globex' }),
      other({ ...user, claims: { email: 'x@example.com' } }),
      cacheKey(call('search_docs', { text: 'hi' }, f), VOLATILE),
      cacheKey(call('echo', { text: 'hi', extra: 1 }, f), VOLATILE),
      cacheKey(
        buildDecisionInput(
          user,
          classify('tools/call', 1, { name: 'echo', arguments: { text: 'hi' } }),
          { destructiveHint: true },
          f,
        ),
        VOLATILE,
      ),
      cacheKey(call('echo', { text: 'hi' }, { ...f, sessionId: 's-9' }), VOLATILE),
      cacheKey(call('echo', { text: 'hi' }, { ...f, clientIp: '203.0.113.9' }), VOLATILE),
      cacheKey(call('echo', { text: 'hi' }, { ...f, environment: 'staging' }), VOLATILE),
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('differs for a completion of another item, argument, typed value or context argument', () => {
    const f = facts('2026-11-23T10:00:01Z');
    const complete = (ref: unknown, name: string, value: string, args: Record<string, string>) =>
      cacheKey(
        buildDecisionInput(
          user,
          classify('completion/complete', 1, {
            ref,
            argument: { name, value },
            context: { arguments: args },
          }),
          undefined,
          f,
        ),
        VOLATILE,
      );
    const prompt = { type: 'ref/prompt', name: 'summarize_customer' };
    const keys = [
      complete(prompt, 'id', 'c', { tenant: 'acme' }),
      complete({ type: 'ref/prompt', name: 'greeting' }, 'id', 'c', { tenant: 'acme' }),
      // A template named as a prompt is: another kind of item all the same.
      complete({ type: 'ref/resource', uri: 'summarize_customer' }, 'id', 'c', { tenant: 'acme' }),
      complete(prompt, 'tenant', 'c', { tenant: 'acme' }),
      complete(prompt, 'id', 'c-', { tenant: 'acme' }),
      complete(prompt, 'id', 'c', { tenant: 'globex' }),
      complete(prompt, 'id', 'c', {}),
    ];
    expect(keys.every((k) => k !== undefined)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('probes with both left-out fields changed and everything else equal, every part of the time moved', () => {
    const input = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:10.500Z', 'r-7'));
    const probe = probeInput(input, VOLATILE);
    // A century, six weeks, 12 h 30 min ahead and 29 s within the minute: a grant ending at any instant
    // before then is seen to end (the entry would answer then), and so is one ending within a second.
    expect(probe?.context).toMatchObject({ time: '2127-01-04T22:30:39.500Z', request_id: 'r-7~probe' });
    expect(probe?.context.date).toBe(input.context.date); // in the key here: unchanged
    expect(probe && cacheKey(probe, VOLATILE)).toBe(cacheKey(input, VOLATILE));
    const late = probeInput(call('echo', {}, facts('2026-11-23T10:00:50Z')), VOLATILE);
    expect(late?.context.time).toBe('2127-01-04T22:30:21.000Z');
    // A date left out of the key moves with the time: a string past any cutoff day before then.
    const dated = probeInput(input, new Set([...VOLATILE, 'date']));
    expect(dated?.context.date).toBe('2127-01-04');
    const wider = new Set([...VOLATILE, 'minute', 'session_id', 'transport']);
    const probed = probeInput(input, wider);
    // A clock field moves half its range, so a threshold compared with it is crossed (10:00 → :30).
    expect(probed?.context).toMatchObject({
      minute: (input.context.minute + 30) % 60,
      session_id: '~probe',
      transport: 'streamable-http~probe',
      hour: input.context.hour,
    });
    expect(probed && cacheKey(probed, wider)).toBe(cacheKey(input, wider));
    // Each clock field moves half its range: an hour across noon (business hours 09–17 crossed from 10:00),
    // a weekday from Monday to Thursday.
    const clock = probeInput(input, new Set([...VOLATILE, 'hour', 'weekday']));
    expect(clock?.context).toMatchObject({ hour: 22, weekday: 4, minute: input.context.minute });
  });

  it('is not made for inputs too large to be worth keeping', () => {
    const big = call('echo', { text: 'x'.repeat(MAX_KEY_CHARS) }, facts('2026-11-23T10:00:00Z'));
    expect(cacheKey(big, VOLATILE)).toBeUndefined();
  });

  // Each entry here is another subject's: the share is another test's.
  it('drops the oldest entry when full', () => {
    const c = new DecisionCache<number>(2);
    c.set('a', 1, 'sa');
    c.set('b', 2, 'sb');
    c.set('c', 3, 'sc');
    expect([c.get('a'), c.get('b'), c.get('c'), c.size]).toEqual([undefined, 2, 3, 2]);
  });

  it('keeps the characters of its keys under a budget', () => {
    const c = new DecisionCache<number>(100, 10);
    c.set('aaaa', 1, 'sa');
    c.set('bbbb', 2, 'sb');
    c.set('cccc', 3, 'sc'); // 12 characters would be over 10: the oldest goes
    expect([c.get('aaaa'), c.get('bbbb'), c.get('cccc'), c.chars]).toEqual([undefined, 2, 3, 8]);
  });

  it("keeps at most a tenth of its entries for one subject, its own oldest going: its calls that never repeat evict no one else's", () => {
    const c = new DecisionCache<number>(100);
    for (let s = 0; s < 50; s++) c.set(`k${s}`, s, `subject-${s}`);
    // Subject 7 sends 10,000 calls with arguments made unique: it holds 10 entries, its newest.
    for (let i = 0; i < 10_000; i++) c.set(`x${i}`, i, 'subject-7');
    expect(c.size).toBe(59); // 50 subjects, and subject 7 nine more (its tenth is k7, gone first)
    expect(c.get('k7')).toBeUndefined();
    expect(c.get('x9999')).toBe(9_999);
    expect(c.get('x9990')).toBe(9_990);
    expect(c.get('x9989')).toBeUndefined();
    for (let s = 0; s < 50; s++) if (s !== 7) expect(c.get(`k${s}`)).toBe(s);
  });
});

describe('which bundles may be cached', () => {
  it('caches the default policy', () => {
    const c = cacheability(defaultBundle.wasm, defaultBundle.data);
    expect(c.cacheable).toBe(true);
    // The default policy reads hour and weekday, not minute or date: those, time and request_id are left out.
    // Every other field stays in the key whether the policy names it or not.
    expect(c.cacheable ? [...c.unused].sort() : []).toEqual(['date', 'minute', 'request_id', 'time']);
    const context = call('echo', {}, facts('2026-11-23T10:00:01Z')).context;
    for (const field of [...VOLATILE_CONTEXT_FIELDS, ...CLOCK_CONTEXT_FIELDS])
      expect(context).toHaveProperty(field);
  });

  it('bypasses a policy that names time or request_id, or calls rand.intn', () => {
    expect(cacheability(fixtures.time?.wasm ?? new Uint8Array(), {})).toMatchObject({
      cacheable: false,
      why: expect.stringContaining('"time"'),
    });
    expect(cacheability(fixtures['request-id']?.wasm ?? new Uint8Array(), {})).toMatchObject({
      cacheable: false,
      why: expect.stringContaining('"request_id"'),
    });
    // Our toolchain refuses rand.intn (the JS runtime cannot run it), but a bundle built elsewhere may call
    // it: its wasm then names the builtin, which is what the check looks for.
    const calling = Buffer.concat([defaultBundle.wasm, Buffer.from('\0rand.intn\0')]);
    expect(cacheability(calling, {})).toMatchObject({
      cacheable: false,
      why: expect.stringContaining('rand.intn'),
    });
  });

  it('bypasses a policy that names time only inside a longer string (a literal path, a pattern)', () => {
    expect(cacheability(fixtures['path-time']?.wasm ?? new Uint8Array(), {})).toMatchObject({
      cacheable: false,
      why: expect.stringContaining('"time"'),
    });
    const pattern = Buffer.concat([defaultBundle.wasm, Buffer.from('\0"context":\\{[^}]*"request_id"\0')]);
    expect(cacheability(pattern, {})).toMatchObject({ cacheable: false });
    // Part of a longer identifier is not the field (`timeout`, `uptime_s`).
    const longer = Buffer.concat([defaultBundle.wasm, Buffer.from('\0timeout uptime_s\0')]);
    expect(cacheability(longer, {}).cacheable).toBe(true);
  });

  it('keeps a clock field the policy data names in the key (a lookup through data)', () => {
    const c = cacheability(defaultBundle.wasm, { authz: { by_clock: ['minute'] } });
    expect(c.cacheable ? [...c.unused].sort() : []).toEqual(['date', 'request_id', 'time']);
  });

  it('bypasses a policy whose data names either field (a lookup through data)', () => {
    const data = { authz: { fields: ['hour', { pick: 'request_id' }] } };
    expect(cacheability(defaultBundle.wasm, data)).toMatchObject({ cacheable: false });
    expect(cacheability(defaultBundle.wasm, { authz: { time: 1 } })).toMatchObject({ cacheable: false });
  });

  it('reads a data string that is a path to a field as naming it (a path the input is filtered by)', () => {
    const paths = fixtures['data-path-time'] as Bundle;
    expect(cacheability(paths.wasm, paths.data)).toMatchObject({
      cacheable: false,
      why: 'the policy data names "time"',
    });
    // The default policy names hour and weekday; a path and a key here name minute and date: all in the key.
    const clock = cacheability(defaultBundle.wasm, { authz: { paths: ['context/minute'], 'x.date': 1 } });
    expect(clock.cacheable ? [...clock.unused].sort() : []).toEqual(['request_id', 'time']);
    // Part of a longer identifier is not the field, nor is prose (a catalog's descriptions): only a path.
    const prose = { authz: { note: 'timeout', uptime_s: 'x', about: 'Tells the time of day.' } };
    expect(cacheability(defaultBundle.wasm, prose).cacheable).toBe(true);
  });

  it('never serves a call inside a window the data names by a path: one probe a century ahead misses it', async () => {
    const e = new PolicyEngine(opts());
    await e.load(fixtures['data-path-time'] as Bundle);
    expect(e.decide(call('echo', {}, facts('2026-12-05T10:00:00Z'))).allow).toBe(true);
    expect(e.decide(call('echo', {}, facts('2026-12-10T10:00:00Z')))).toMatchObject({
      allow: false,
      reasons: ['maintenance window'],
    });
  });
});

describe('which results count as the same', () => {
  it('tells apart results that differ only in their obligations (a rate limit by the hour, say)', () => {
    const d = (capacity: number): Decision => ({
      allow: true,
      reasons: [],
      obligations: { rate_limit: { capacity, refill_per_second: 1 } },
      sensitivity: undefined,
      revision: 'r1',
      evalNs: 1,
    });
    expect(sameResult(d(10), d(10))).toBe(true);
    expect(sameResult(d(10), d(1000))).toBe(false);
  });
});

describe('engine with the cache', () => {
  it('never keeps a failed evaluation: it is evaluated again, and stays a failure', async () => {
    const e = new PolicyEngine(opts());
    await e.load(fixtures.conflict as Bundle);
    const conflicting = principal({ id: 'u-2', roles: ['a', 'b'] });
    const input = buildDecisionInput(
      conflicting,
      classify('tools/call', 1, { name: 'echo', arguments: {} }),
      READ_ONLY,
      facts('2026-11-23T10:00:01Z'),
    );
    for (let i = 0; i < 2; i++) {
      const d = e.decide(input);
      expect(d).toMatchObject({ allow: false, failure: 'evaluation_error' });
      expect(d.cached).toBeUndefined();
    }
  });

  it('stops caching visibility that turns out to depend on a left-out field', async () => {
    // The walk fixture hides anything holding a blocked value, wherever it is: here the request id.
    const cached = new PolicyEngine(opts());
    await cached.load(fixtures.walk as Bundle);
    const item = (requestId: string) =>
      buildVisibleInput(user, 'tools/list', 'tool', 'echo', READ_ONLY, {
        ...facts('2026-11-23T10:00:01Z', requestId),
      });
    expect(cached.visible(item('10.6.6.6'))).toBe(false);
    // The probe (another request id) said otherwise: nothing was kept, and the next request is judged anew.
    expect(cached.visible(item('r-2'))).toBe(true);
    expect(cached.status().decisionCache).toBeNull();
  });

  it('answers a repeated input from the cache with the same result', async () => {
    const e = new PolicyEngine(opts());
    await e.load(defaultBundle);
    const first = e.decide(call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01Z', 'r-1')));
    const again = e.decide(call('echo', { text: 'hi' }, facts('2026-11-23T10:00:02Z', 'r-2')));
    expect(first.cached).toBeUndefined();
    expect(again).toMatchObject({ cached: true, allow: first.allow, reasons: first.reasons });
    expect(again.obligations).toEqual(first.obligations);
    const denied = e.decide(call('run_sql', { query: 'drop' }, facts('2026-11-23T10:00:03Z')));
    const deniedAgain = e.decide(call('run_sql', { query: 'drop' }, facts('2026-11-23T10:00:04Z')));
    expect(denied.allow).toBe(false);
    expect(deniedAgain).toMatchObject({ cached: true, allow: false, reasons: denied.reasons });
    const v = buildVisibleInput(user, 'tools/list', 'tool', 'run_sql', {}, facts('2026-11-23T10:00:05Z'));
    expect([e.visible(v), e.visible(v)]).toEqual([false, false]);
    expect(e.status().decisionCache).toEqual({ entries: 3, hits: 3, misses: 3 });
  });

  it('shares no mutable state between requests through a cached result', async () => {
    const e = new PolicyEngine(opts());
    await e.load(defaultBundle);
    const input = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01Z'));
    e.decide(input);
    const hit = e.decide(input);
    expect(hit.cached).toBe(true);
    expect(() => (hit.reasons as string[]).push('x')).toThrow(TypeError);
    const limit = hit.obligations.rate_limit as { capacity: number };
    expect(() => {
      limit.capacity = 1;
    }).toThrow(TypeError);
    expect(e.decide(input).obligations.rate_limit?.capacity).toBe(200);
  });

  it('stops caching a policy whose result turns out to depend on the left-out fields', async () => {
    const generic = fixtures.generic as Bundle;
    expect(cacheability(generic.wasm, generic.data).cacheable).toBe(true); // nothing named
    const e = new PolicyEngine(opts());
    await e.load(generic);
    const first = e.decide(call('echo', {}, facts('2026-11-23T10:00:10Z', 'r-1')));
    const second = e.decide(call('echo', {}, facts('2026-11-23T10:00:11Z', 'r-2')));
    expect(first.reasons[0]).toContain('r-1');
    expect(second.reasons[0]).toContain('r-2');
    expect(second.cached).toBeUndefined();
    expect(e.status().decisionCache).toBeNull();
  });

  it('leaves clock fields the policy never names out of the key: one entry serves the whole hour', async () => {
    const e = new PolicyEngine(opts());
    await e.load(defaultBundle);
    e.decide(call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01Z')));
    const nextMinute = e.decide(call('echo', { text: 'hi' }, facts('2026-11-23T10:01:30Z')));
    const nextHour = e.decide(call('echo', { text: 'hi' }, facts('2026-11-23T11:00:01Z')));
    // Another session is another key, named by the policy or not.
    const otherSession = e.decide(
      call('echo', { text: 'hi' }, { ...facts('2026-11-23T10:02:00Z'), sessionId: 's-2' }),
    );
    expect([nextMinute.cached, nextHour.cached, otherSession.cached]).toEqual([true, undefined, undefined]);
  });

  it('answers as a fresh evaluation would for a policy that reads every field without naming one', async () => {
    const walk = fixtures.walk as Bundle;
    const cached = new PolicyEngine(opts());
    const fresh = new PolicyEngine(opts(false));
    await Promise.all([cached.load(walk), fresh.load(walk)]);
    const from = (ip: string) => call('echo', {}, { ...facts('2026-11-23T10:00:01Z'), clientIp: ip });
    expect(cached.decide(from('10.0.0.7')).allow).toBe(true);
    expect(cached.decide(from('10.0.0.7')).cached).toBe(true);
    const blocked = from('10.6.6.6');
    expect([cached.decide(blocked).allow, fresh.decide(blocked).allow]).toEqual([false, false]);
  });

  it('starts empty after a reload', async () => {
    const e = new PolicyEngine(opts());
    await e.load(defaultBundle);
    const input = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01Z'));
    e.decide(input);
    expect(e.decide(input).cached).toBe(true);
    await e.load({ ...defaultBundle, revision: 'next' });
    const after = e.decide(input);
    expect(after).toMatchObject({ revision: 'next', allow: true });
    expect(after.cached).toBeUndefined();
  });

  it('never caches when turned off', async () => {
    const e = new PolicyEngine(opts(false));
    await e.load(defaultBundle);
    const input = call('echo', { text: 'hi' }, facts('2026-11-23T10:00:01Z'));
    expect([e.decide(input).cached, e.decide(input).cached]).toEqual([undefined, undefined]);
    expect(e.status().decisionCache).toBeNull();
  });

  it('never serves a grant past its end to a policy reading time or date through a name built at run time', async () => {
    // Neither wasm names its field, so the key leaves out time, date and every clock field: an entry kept
    // before the cutoff would answer for good. The probe moves both far ahead and sees the grant end.
    for (const name of ['built-name-time', 'built-name-date']) {
      const bundle = fixtures[name] as Bundle;
      expect(cacheability(bundle.wasm, bundle.data).cacheable).toBe(true);
      const e = new PolicyEngine(opts());
      await e.load(bundle);
      expect(e.decide(call('echo', {}, facts('2026-11-30T23:59:00Z'))).allow).toBe(true);
      const after = e.decide(call('echo', {}, facts('2026-12-05T10:00:00Z')));
      expect(after).toMatchObject({ allow: false, reasons: ['the grant has ended'] });
      expect(after.cached).toBeUndefined();
      const item = (iso: string) =>
        buildVisibleInput(user, 'tools/list', 'tool', 'echo', READ_ONLY, facts(iso));
      const v = new PolicyEngine(opts());
      await v.load(bundle);
      expect([v.visible(item('2026-11-30T23:59:00Z')), v.visible(item('2026-12-05T10:00:00Z'))]).toEqual([
        true,
        false,
      ]);
    }
  });

  it('evaluates a time-dependent policy on every request', async () => {
    const e = new PolicyEngine(opts());
    await e.load(fixtures.time as Bundle);
    const early = e.decide(call('echo', {}, facts('2026-11-23T10:00:10Z')));
    const late = e.decide(call('echo', {}, facts('2026-11-23T10:00:40Z')));
    expect([early.allow, late.allow]).toEqual([true, false]);
    expect(e.status().decisionCache).toBeNull();
  });

  it('evaluates a request-id-dependent policy on every request', async () => {
    const e = new PolicyEngine(opts());
    await e.load(fixtures['request-id'] as Bundle);
    const reasons = ['r-1', 'r-2'].map(
      (id) => e.decide(call('echo', {}, facts('2026-11-23T10:00:10Z', id))).reasons[0],
    );
    expect(reasons).toEqual(['r-1', 'r-2']);
  });
});
