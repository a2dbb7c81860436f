/**
 * Tests of the policy engine (src/policy/engine.ts) on the compiled default policy: what each role may call
 * and see, the obligations a decision carries, deny-by-default when there is no usable bundle, loading a
 * bundle from a folder or a .tar.gz. Hot reload is in reloader.test.ts.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import { readBundle } from '../../../src/policy/bundle.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { buildDecisionInput, buildVisibleInput } from '../../../src/policy/input.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, buildPlainBundle, defaultPolicyBundle, TRUSTED_FACTS } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const engineOpts = {
  decisionEntrypoint: 'mcp/authz/decision',
  visibleEntrypoint: 'mcp/authz/visible',
  logger: silentLogger(),
};

// Monday 10:00 UTC, from a trusted network, in prod: the hours/network rule holds.
const FACTS = TRUSTED_FACTS;

function principal(roles: string[], tenant = 'acme'): Principal {
  return {
    id: `u-${roles.join('-')}`,
    tenant,
    roles,
    scopes: [],
    clearance: null,
    authMethod: 'jwt',
    claims: {},
  };
}

const ARGS: Record<string, Record<string, unknown>> = {
  echo: { text: 'hi' },
  list_products: {},
  search_docs: { query: 'vpn' },
  read_customer: { tenant: 'acme', id: 'c-1' },
  query_customer_data: { tenant: 'acme', query: 'churn', limit: 10 },
  update_customer: { tenant: 'acme', id: 'c-1', fields: { name: 'x' } },
  delete_customer: { tenant: 'acme', id: 'c-1' },
  export_customers: { tenant: 'acme', limit: 50, format: 'csv' },
  run_sql: { query: 'select 1' },
  create_ticket: { tenant: 'acme', title: 't', body: 'b' },
};

// The annotations the example server lists (see examples/mcp-server).
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const ANNOTATIONS: Record<string, Record<string, unknown>> = {
  update_customer: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  delete_customer: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  run_sql: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  create_ticket: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

// role → tools it may call under the default policy (catalog sensitivity × clearance × grants × destructive).
const MATRIX: Record<string, string[]> = {
  guest: ['echo', 'list_products'],
  user: ['echo', 'list_products', 'search_docs', 'create_ticket'],
  analyst: ['echo', 'list_products', 'search_docs', 'read_customer', 'query_customer_data'],
  premium: [
    'echo',
    'list_products',
    'search_docs',
    'read_customer',
    'query_customer_data',
    'update_customer',
    'create_ticket',
  ],
  admin: Object.keys(ARGS),
};

function callInput(p: Principal, tool: string, args = ARGS[tool], facts = FACTS) {
  const action = classify('tools/call', 1, { name: tool, arguments: args });
  return buildDecisionInput(p, action, ANNOTATIONS[tool] ?? READ_ONLY, facts);
}

let bundleDir: string;
let engine: PolicyEngine;

beforeAll(async () => {
  bundleDir = await defaultPolicyBundle();
  engine = new PolicyEngine(engineOpts);
  await engine.load(await readBundle(bundleDir));
});

describe('default policy through the wasm engine', () => {
  for (const [role, allowed] of Object.entries(MATRIX)) {
    for (const tool of Object.keys(ARGS)) {
      const expected = allowed.includes(tool);
      it(`${role} ${expected ? 'may' : 'may not'} call ${tool}`, () => {
        const d = engine.decide(callInput(principal([role]), tool));
        expect(d.allow, d.reasons.join('; ')).toBe(expected);
        if (!expected) expect(d.reasons.length).toBeGreaterThan(0);
        expect(d.revision).toBe(engine.revision);
        expect(d.evalNs).toBeGreaterThan(0);
      });
    }
  }

  it('never hides a tool the caller may call (visible ⊇ allow)', () => {
    for (const role of Object.keys(MATRIX)) {
      for (const tool of Object.keys(ARGS)) {
        const p = principal([role]);
        const allow = engine.decide(callInput(p, tool)).allow;
        const visible = engine.visible(
          buildVisibleInput(p, 'tools/list', 'tool', tool, ANNOTATIONS[tool] ?? READ_ONLY, FACTS),
        );
        if (allow) expect(visible, `${role}/${tool}`).toBe(true);
      }
    }
  });

  it('gives each tier its rate limit as an obligation', () => {
    const tiers: Record<string, [number, number]> = {
      guest: [50, 1],
      user: [200, 5],
      premium: [1000, 20],
      admin: [5000, 100],
    };
    for (const [role, [capacity, refill]] of Object.entries(tiers)) {
      const d = engine.decide(callInput(principal([role]), 'echo'));
      expect(d.obligations.rate_limit).toEqual({ capacity, refill_per_second: refill });
    }
  });

  it('denies another tenant, restricted tools out of hours, and untrusted networks', () => {
    const admin = principal(['admin']);
    const analyst = principal(['analyst']);
    expect(engine.decide(callInput(analyst, 'read_customer', { tenant: 'globex', id: 'c-4' })).allow).toBe(
      false,
    );
    expect(engine.decide(callInput(admin, 'read_customer', { tenant: 'globex', id: 'c-4' })).allow).toBe(
      true,
    );
    const night = { ...FACTS, now: new Date('2026-11-23T22:00:00Z') };
    expect(engine.decide(callInput(admin, 'export_customers', ARGS.export_customers, night)).allow).toBe(
      false,
    );
    const outside = { ...FACTS, clientIp: '203.0.113.9' };
    expect(engine.decide(callInput(admin, 'export_customers', ARGS.export_customers, outside)).allow).toBe(
      false,
    );
  });

  it('caps an argument per role', () => {
    const user = principal(['user']);
    const d = engine.decide(callInput(user, 'query_customer_data'));
    expect(d.allow).toBe(false);
    const admin = principal(['admin']);
    expect(
      engine.decide(callInput(admin, 'export_customers', { tenant: 'acme', limit: 100_000, format: 'csv' }))
        .allow,
    ).toBe(true);
    expect(
      engine.decide(callInput(admin, 'export_customers', { tenant: 'acme', limit: 100_001, format: 'csv' }))
        .allow,
    ).toBe(false);
  });

  it('asks to mask sensitive arguments', () => {
    const d = engine.decide(
      callInput(principal(['user']), 'create_ticket', {
        tenant: 'acme',
        title: 't',
        body: 'b',
        customer_ssn: '900-00-0001',
      }),
    );
    expect(d.allow).toBe(true);
    expect(d.obligations.mask_arguments).toContain('customer_ssn');
  });

  it('lets authenticated callers initialize and denies unknown methods', () => {
    const p = principal(['guest']);
    const init = engine.decide(buildDecisionInput(p, classify('initialize', 1, {}), undefined, FACTS));
    expect(init.allow).toBe(true);
    const unknown = engine.decide(buildDecisionInput(p, classify('admin/shutdown', 2, {}), undefined, FACTS));
    expect(unknown.allow).toBe(false);
    expect(unknown.reasons.join(' ')).toMatch(/admin\/shutdown/);
  });
});

describe('deny by default', () => {
  it('denies everything with a reason when no bundle is loaded', () => {
    const empty = new PolicyEngine(engineOpts);
    const d = empty.decide(callInput(principal(['admin']), 'echo'));
    expect(d).toMatchObject({ allow: false, failure: 'no_policy', revision: null });
    expect(d.reasons[0]).toMatch(/no policy/);
    expect(
      empty.visible(buildVisibleInput(principal(['admin']), 'tools/list', 'tool', 'echo', {}, FACTS)),
    ).toBe(false);
    expect(empty.status().state).toBe('not_ready');
  });

  it('denies when the policy returns a malformed decision', async () => {
    const bad = new PolicyEngine(engineOpts);
    await bad.load(await readBundle(await buildBundle('test/fixtures/policies/malformed')));
    const d = bad.decide(callInput(principal(['admin']), 'echo'));
    // What failed is named with its path, for the log and `policy eval`; the caller only sees the reason.
    expect(d).toMatchObject({
      allow: false,
      reasons: ['policy returned a malformed decision'],
      failure: 'invalid_result',
      failureDetail: 'allow: Invalid input: expected boolean, received string',
    });
    expect(
      bad.visible(buildVisibleInput(principal(['admin']), 'tools/list', 'tool', 'echo', {}, FACTS)),
    ).toBe(false);
  });

  it('denies when the decision is undefined for the input, and says so', async () => {
    const e = new PolicyEngine(engineOpts);
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/undefined-decision')));
    const d = e.decide(callInput(principal(['admin']), 'echo'));
    expect(d).toMatchObject({ allow: false, failure: 'invalid_result' });
    expect(d.failureDetail).toBe(
      'mcp/authz/decision is undefined for this input: give it a default (default decision := {"allow": false})',
    );
  });

  it('gives a deny without reasons one, so the caller is never told "Forbidden: undefined"', async () => {
    const e = new PolicyEngine(engineOpts);
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/deny-without-reasons')));
    const d = e.decide(callInput(principal(['admin']), 'echo'));
    expect(d).toMatchObject({ allow: false, reasons: ['denied by policy'] });
    expect(d.failure).toBeUndefined();
  });

  it('hides an item whose visible is undefined or no boolean, and says which and how to fix it', async () => {
    const lines: string[] = [];
    const opts = {
      ...engineOpts,
      logger: createLogger('error', { write: (l: string) => void lines.push(l) }),
    };
    const undef = new PolicyEngine(opts);
    await undef.load(await readBundle(await buildBundle('test/fixtures/policies/undefined-decision')));
    const item = (name: string) =>
      buildVisibleInput(principal(['admin']), 'tools/list', 'tool', name, {}, FACTS);
    expect(undef.visible(item('echo'))).toBe(true);
    // Said once per revision, however many items and lists it hides.
    for (const name of ['other', 'other', 'third', 'fourth']) expect(undef.visible(item(name))).toBe(false);
    expect(undef.visibleExplained(item('other')).failure).toEqual({
      kind: 'invalid_result',
      detail: 'mcp/authz/visible is undefined for this input: give it a default (default visible := false)',
    });
    const bad = new PolicyEngine(opts);
    await bad.load(await readBundle(await buildBundle('test/fixtures/policies/malformed')));
    expect(bad.visible(item('echo'))).toBe(false);
    expect(bad.visibleExplained(item('echo')).failure).toEqual({
      kind: 'invalid_result',
      detail: 'mcp/authz/visible returned a string, not true or false',
    });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
    expect(logged.map((l) => [l.msg, l.err])).toEqual([
      ['policy visibility evaluation failed', expect.stringMatching(/is undefined for this input/)],
      ['policy visibility evaluation failed', 'mcp/authz/visible returned a string, not true or false'],
    ]);
  });

  it('warns once per revision of an obligation it does not know (a misspelt one is no obligation)', async () => {
    const lines: string[] = [];
    const opts = {
      ...engineOpts,
      logger: createLogger('warn', { write: (l: string) => void lines.push(l) }),
    };
    const e = new PolicyEngine(opts);
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/unknown-obligation')));
    expect(e.decide(callInput(principal(['user']), 'echo')).allow).toBe(true);
    expect(e.decide(callInput(principal(['admin']), 'echo')).allow).toBe(true);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'policy decision: obligation "ratelimit" is unknown and ignored (known: rate_limit, mask_arguments, audit)',
    ]);
  });

  it("denies on a rule conflict, and explains the wasm runtime's terse message", async () => {
    const e = new PolicyEngine(engineOpts);
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/conflict')));
    expect(e.decide(callInput(principal(['a']), 'echo')).allow).toBe(true);
    const d = e.decide(callInput(principal(['a', 'b']), 'echo'));
    expect(d).toMatchObject({ allow: false, failure: 'evaluation_error' });
    expect(d.failureDetail).toMatch(/^policy\.rego:\d+:\d+: var assignment conflict \(a complete rule/);
    // `visible` failing the same way hides the item: a list never shows what the policy could not judge.
    // (The fixture's partial object is keyed by `action.tool`, which a visible input built from a list lacks.)
    const item = (p: Principal) => ({
      ...buildVisibleInput(p, 'tools/list', 'tool', 'echo', {}, FACTS),
      action: { method: 'tools/list', tool: 'echo' },
    });
    expect(e.visible(item(principal(['a'])))).toBe(true);
    expect(e.visibleExplained(item(principal(['a', 'b']))).failure?.kind).toBe('evaluation_error');
    expect(e.visible(item(principal(['a', 'b'])))).toBe(false);
  });

  it('says once per revision and reason that visible threw, however many items and lists it hides', async () => {
    const lines: string[] = [];
    const logger = createLogger('error', { write: (l: string) => void lines.push(l) });
    const e = new PolicyEngine({ ...engineOpts, logger });
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/conflict')));
    // As in the test above: the fixture's partial object aborts on an input with action.tool.
    const item = (name: string) => ({
      ...buildVisibleInput(principal(['a', 'b']), 'tools/list', 'tool', name, {}, FACTS),
      action: { method: 'tools/list', tool: name },
    });
    // Three lists of 50 tools: each item hidden, every time (a failure is never cached).
    for (let list = 0; list < 3; list++)
      for (let i = 0; i < 50; i++) expect(e.visible(item(`tool-${i}`))).toBe(false);
    expect(e.visibleExplained(item('tool-0')).failure?.kind).toBe('evaluation_error');
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
    expect(logged.map((l) => [l.msg, l.err])).toEqual([
      ['policy visibility evaluation failed', expect.stringMatching(/object insert conflict/)],
    ]);
    // A new revision says it again.
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/conflict', { revision: 'r2' })));
    expect(e.visible(item('tool-0'))).toBe(false);
    expect(lines).toHaveLength(2);
  });

  it('remembers at most 100 warnings per revision, so input-made texts cannot grow it without end', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (l: string) => void lines.push(l) });
    const e = new PolicyEngine({ ...engineOpts, logger });
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/input-obligation')));
    for (let i = 0; i < 150; i++) expect(e.decide(callInput(principal(['user']), `t-${i}`)).allow).toBe(true);
    const warned = lines
      .map((l) => (JSON.parse(l) as { msg: string }).msg)
      .filter((m) => m.includes('obligation'));
    // 100 texts, then one line (once) saying further ones are not logged: the log does not just stop.
    expect(warned).toHaveLength(101);
    expect(warned.slice(0, 100).every((m) => m.startsWith('policy decision: obligation "t-'))).toBe(true);
    expect(warned[100]).toBe(
      'policy: 100 different unknown obligations logged for this revision; further ones are not logged',
    );
  });

  it('still logs a visible failure after a caller used up the obligation warnings with texts of its choosing', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (l: string) => void lines.push(l) });
    const e = new PolicyEngine({ ...engineOpts, logger });
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/input-obligation')));
    // The fixture names an obligation after the called tool: 150 tool names make 150 different warnings.
    for (let i = 0; i < 150; i++) e.decide(callInput(principal(['user']), `t-${i}`));
    lines.length = 0;
    // Its visible fails for the item "broken": that is still said (once), not lost behind the caller's texts.
    const item = buildVisibleInput(principal(['user']), 'tools/list', 'tool', 'broken', {}, FACTS);
    for (let i = 0; i < 3; i++) expect(e.visible(item)).toBe(false);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
    expect(logged.map((l) => [l.msg, l.err])).toEqual([
      ['policy visibility evaluation failed', expect.stringMatching(/var assignment conflict/)],
    ]);
  });

  it('keeps deciding after many aborted evaluations (each leaks wasm stack: a fresh instance follows one)', async () => {
    const lines: string[] = [];
    const e = new PolicyEngine({
      ...engineOpts,
      logger: createLogger('error', { write: (l: string) => void lines.push(l) }),
    });
    await e.load(await readBundle(await buildBundle('test/fixtures/policies/conflict')));
    // Past the ~500 aborts after which one instance traps on every call.
    for (let i = 0; i < 1_500; i++) {
      expect(e.decide(callInput(principal(['a', 'b']), 'echo')).failure).toBe('evaluation_error');
    }
    // Every one denied, the failure said once (not 1,500 error lines a caller could send at will).
    const failed = lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === 'policy evaluation failed');
    expect(failed).toHaveLength(1);
    expect(e.decide(callInput(principal(['a']), 'echo'))).toMatchObject({ allow: true });
  });

  it('refuses a bundle without the entrypoints and keeps the last good revision', async () => {
    const e = new PolicyEngine(engineOpts);
    await e.load(await readBundle(bundleDir));
    const good = e.revision;
    const ok = await readBundle(
      await buildBundle('test/fixtures/policies/toolchain/ok', { entrypoints: ['mcp/authz/allow'] }),
    );
    await expect(e.load(ok)).rejects.toThrow(/entrypoint/);
    expect(e.revision).toBe(good);
    expect(e.status()).toMatchObject({ state: 'warn', revision: good });
    expect(e.decide(callInput(principal(['guest']), 'echo')).allow).toBe(true);
  });

  it('refuses a bundle calling a builtin the wasm runtime cannot run, naming it, and keeps the last good one', async () => {
    const lines: string[] = [];
    const logger = createLogger('error', { write: (l: string) => void lines.push(l) });
    const e = new PolicyEngine({ ...engineOpts, logger });
    await e.load(await readBundle(bundleDir));
    const good = e.revision;
    // Built by plain `opa build`: policy:build refuses time.diff and rand.intn; sprintf opa-wasm runs in JS.
    const plain = await readBundle(await buildPlainBundle('test/fixtures/policies/missing-builtin'));
    const why =
      /^bundle calls builtin\(s\) the wasm runtime \(opa-wasm 1\.10\.0\) cannot run: rand\.intn, time\.diff;/;
    await expect(e.load(plain)).rejects.toThrow(why);
    expect(e.revision).toBe(good);
    expect(e.status()).toMatchObject({
      state: 'warn',
      revision: good,
      lastError: expect.stringMatching(why),
    });
    expect(e.decide(callInput(principal(['guest']), 'echo')).allow).toBe(true);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; err: string });
    expect(logged).toMatchObject([
      { msg: 'policy bundle rejected; keeping the last good policy', err: expect.stringMatching(why) },
    ]);
  });
});

describe('bundles', () => {
  it('loads the same bundle from a folder and from a .tar.gz with leading-slash entries', async () => {
    const fromDir = await readBundle(bundleDir);
    const fromTar = await readBundle(join(bundleDir, '..', 'bundle.tar.gz'));
    expect(fromTar.revision).toBe(fromDir.revision);
    expect(fromTar.data).toEqual(fromDir.data);
    expect(Buffer.from(fromTar.wasm).equals(Buffer.from(fromDir.wasm))).toBe(true);
  });

  it('names the problem in a corrupt bundle', async () => {
    const dir = tempDir('corrupt');
    await writeFile(join(dir, 'bundle.tar.gz'), 'not gzip');
    await expect(readBundle(join(dir, 'bundle.tar.gz'))).rejects.toThrow(/not a gzip/);
    await expect(readBundle(join(dir, 'missing'))).rejects.toThrow(/not found/);
    await writeFile(join(dir, 'policy.wasm'), 'garbage!');
    await expect(readBundle(dir)).rejects.toThrow(/not a WebAssembly module/);
  });
});
