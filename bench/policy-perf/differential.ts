/**
 * Differential check of two policy bundles: evaluates `decision` and `visible` of both with opa-wasm on
 * thousands of generated inputs (every role, pairs of roles, unknown/garbage roles, every catalog tool /
 * prompt / resource and unknown ones, arguments in and out of caps, tenants, clearances, hours, weekdays,
 * networks, environments, time zones, malformed and garbage inputs) and on several variants of the data
 * (the shipped data.json plus edits of the kinds the unit tests make), and compares the complete results.
 *
 *   node --import tsx bench/policy-perf/differential.ts [--old DIR|--old-ref REF] [--new DIR] [--n N]
 *
 * --old-ref (default HEAD) builds the bundle from `git show REF:policies/...` into a temp folder;
 * --new defaults to build/policy/bundle. Exits 1 on the first mismatches (prints up to 10).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { readBundle } from '../../src/policy/bundle.js';

// biome-ignore lint/suspicious/noExplicitAny: free-form reads and edits of JSON test data
type Json = any;

const argv = process.argv.slice(2);
const opt = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const N = Number(opt('--n') ?? 4000);

function buildFromGit(ref: string): string {
  const root = mkdtempSync(join(tmpdir(), 'policy-old-'));
  const src = join(root, 'src');
  mkdirSync(src);
  const files = execFileSync('git', ['ls-tree', '--name-only', `${ref}:policies`], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.rego') || f.endsWith('.json'));
  for (const f of files) {
    writeFileSync(join(src, f), execFileSync('git', ['show', `${ref}:policies/${f}`]));
  }
  execFileSync('node', ['scripts/policy-toolchain.mjs', 'build', '--src', src, '--out', join(root, 'out')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(root, 'out', 'bundle');
}

const oldDir = opt('--old') ?? buildFromGit(opt('--old-ref') ?? 'HEAD');
const newDir = opt('--new') ?? 'build/policy/bundle';

interface Loaded {
  policy: LoadedPolicy;
  decision: number;
  visible: number;
  data: Record<string, unknown>;
}
async function load(dir: string): Promise<Loaded> {
  const b = await readBundle(dir);
  const policy = await loadPolicy(b.wasm);
  const eps = policy.entrypoints as Record<string, number>;
  return { policy, decision: eps['mcp/authz/decision']!, visible: eps['mcp/authz/visible']!, data: b.data };
}
const oldP = await load(oldDir);
const newP = await load(newDir);
if (!isDeepStrictEqual(oldP.data, newP.data)) {
  console.log('note: the two bundles carry different data.json; each variant below is applied to both');
}

// ------------------------------------------------------------------------------------------- generators

let seed = 0x5eed;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const clone = <T>(x: T): T => structuredClone(x);

const base = clone(oldP.data) as { authz: Record<string, Json> };
const authz = base.authz;
const roleNames = Object.keys(authz.roles);
const tools = [...Object.keys(authz.catalog.tools), 'brand_new_tool', 'delete_everything', 'a/b', 'ECHO', ''];
const prompts = [...Object.keys(authz.catalog.prompts), 'brand_new_prompt', ''];
const resources = [
  ...Object.keys(authz.catalog.resources),
  'docs://a/b/c',
  'crm://customers/c-9',
  'crm://customers/c-9/notes',
  'crm://customers/',
  'crm://acme/customers/c-9',
  'crm://globex/customers/c-9',
  'file:///x',
  '',
];
const roleSets: unknown[] = [
  ...roleNames.map((r) => [r]),
  ...roleNames.flatMap((a) => roleNames.filter((b) => a < b).map((b) => [a, b])),
  [],
  ['superuser'],
  ['guest', 'superuser'],
  ['user', 'user'],
  ['admin', 7, null],
  [roleNames[0], roleNames[1], roleNames[2]],
  { a: 'admin' },
  'admin',
  null,
];
const clearances = [null, null, null, ...authz.sensitivity_levels, 'top-secret', '', 3];
const tenants = ['acme', 'acme', 'globex', null, '', 5, undefined];
const ids = ['u-42', 'u-42', 'u-42', 'u-42', '', null, 42, undefined];
const methods = [
  'tools/call',
  'tools/call',
  'tools/call',
  'tools/call',
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  ...authz.always_allowed_methods,
  'notifications/initialized',
  'notifications/roots/list_changed',
  'notifications',
  'foo/bar',
  'tools/list/extra',
  '',
  17,
  null,
  undefined,
];
const limits = [
  1,
  10,
  100,
  101,
  999,
  1000,
  1001,
  5000,
  100000,
  100001,
  200000,
  -1,
  0,
  10.5,
  1e21,
  '10',
  null,
  true,
];
const ips = [
  '10.0.0.7',
  '10.0.0.7',
  '127.0.0.1',
  '192.168.1.20',
  '172.16.5.4',
  '172.32.0.1',
  '203.0.113.5',
  '::1',
  '::ffff:10.0.0.7',
  '::FFFF:127.0.0.1',
  '::ffff:203.0.113.5',
  '::ffff:cb00:7105',
  '2001:db8::1',
  'not-an-ip',
  '',
  undefined,
];

function args(tool: string): unknown {
  const r = rand();
  if (r < 0.05) return undefined;
  if (r < 0.08) return null;
  if (r < 0.1) return pick([['x'], 'x', 3]);
  const a: Record<string, unknown> = {};
  const tenant = pick([...tenants, 'acme', 'acme', 'missing', 'missing']);
  if (tenant !== 'missing' && tenant !== undefined) a.tenant = tenant;
  if (rand() < 0.5) a.limit = pick(limits);
  if (rand() < 0.3) a.org = pick(['acme', 'globex']);
  if (rand() < 0.3) a.query = 'select 1';
  if (rand() < 0.2) a.customer_ssn = '123';
  if (tool === 'echo' && rand() < 0.5) a.text = 'hi';
  return a;
}

function context(): unknown {
  if (rand() < 0.02) return pick([undefined, null, 'now', {}]);
  const c: Record<string, unknown> = {
    time: '2026-11-23T10:00:00Z',
    hour: pick([0, 3, 7, 8, 9, 10, 12, 16, 17, 18, 19, 23, 8, 10, 10, 10]),
    minute: pick([0, 30, 59]),
    weekday: pick([0, 1, 2, 3, 4, 5, 6, 1, 2, 3]),
    date: '2026-11-23',
    timezone: pick(['UTC', 'UTC', 'Europe/Paris', '', null, undefined]),
    client_ip: pick(ips),
    session_id: 's-1',
    request_id: `r-${Math.floor(rand() * 1e6)}`,
    environment: pick(['prod', 'prod', 'dev', 'staging', undefined]),
  };
  if (rand() < 0.03) c.hour = pick(['10', null, 7.5, undefined]);
  if (rand() < 0.03) c.weekday = pick(['1', null, 9, undefined]);
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

function subject(): unknown {
  if (rand() < 0.02) return pick([undefined, null, 'u-1', 1, []]);
  const s: Record<string, unknown> = {
    id: pick(ids),
    tenant: pick(tenants),
    roles: pick(roleSets),
    scopes: ['mcp:tools'],
    clearance: pick(clearances),
    auth_method: 'jwt',
    key_id: null,
    claims: {},
  };
  if (rand() < 0.05) delete s.roles;
  if (rand() < 0.05) delete s.clearance;
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}

function annotations(tool: string): unknown {
  const cat = authz.catalog.tools[tool];
  const r = rand();
  if (r < 0.4 && cat)
    return { readOnlyHint: !!cat.read_only, destructiveHint: !!cat.destructive, seen: true };
  if (r < 0.6) return {};
  if (r < 0.75) return { destructiveHint: true };
  if (r < 0.85) return { destructiveHint: false, readOnlyHint: true };
  if (r < 0.9) return { destructiveHint: 'true' };
  return rand() < 0.5 ? undefined : null;
}

function decisionInput(): unknown {
  if (rand() < 0.01) return pick([{}, 'garbage', null, [], 0, { subject: 1, action: 'x' }]);
  const method = pick(methods);
  const action: Record<string, unknown> = {};
  if (method !== undefined) action.method = method;
  let kind: string = 'method';
  let name: unknown = typeof method === 'string' ? method : '';
  if (method === 'tools/call') {
    kind = 'tool';
    name = pick(tools);
    if (rand() < 0.95) action.tool = name;
    else if (rand() < 0.5) action.tool = pick([3, null, '']);
    const a = args(String(name));
    if (a !== undefined) action.arguments = a;
  } else if (method === 'prompts/get') {
    kind = 'prompt';
    name = pick(prompts);
    if (rand() < 0.95) action.prompt = name;
    action.arguments = {};
  } else if (typeof method === 'string' && method.startsWith('resources/') && !method.includes('list')) {
    kind = 'resource';
    name = pick(resources);
    if (rand() < 0.95) action.uri = name;
  }
  const resource: Record<string, unknown> = { kind, name, annotations: annotations(String(name)) };
  if (rand() < 0.03) resource.name = pick(['echo', '', 5]);
  if (resource.annotations === undefined) delete resource.annotations;
  const inp: Record<string, unknown> = { subject: subject(), action, resource, context: context() };
  if (rand() < 0.02) delete inp.action;
  if (rand() < 0.02) delete inp.resource;
  for (const k of Object.keys(inp)) if (inp[k] === undefined) delete inp[k];
  return inp;
}

const listMethods: Record<string, string> = {
  tool: 'tools/list',
  prompt: 'prompts/list',
  resource: 'resources/list',
  resource_template: 'resources/templates/list',
};
function visibleInput(): unknown {
  if (rand() < 0.02)
    return pick([
      {},
      'garbage',
      null,
      { subject: 1, resource: [] },
      { subject: { id: 'u' }, resource: { kind: 'tool' } },
    ]);
  const kind = pick(['tool', 'tool', 'prompt', 'resource', 'resource_template', 'method', 'widget']);
  const name =
    kind === 'tool'
      ? pick(tools)
      : kind === 'prompt'
        ? pick(prompts)
        : kind === 'resource' || kind === 'resource_template'
          ? pick(resources)
          : pick(['echo', 'tools/call', 5]);
  return {
    subject: subject(),
    action: { method: listMethods[kind] ?? 'tools/list' },
    resource: { kind, name, annotations: annotations(String(name)) ?? {} },
    context: context(),
  };
}

// Systematic part: every role set × every catalog tool with typical arguments, at a few times/networks.
function* systematic(): Generator<unknown> {
  const ctxs = [
    { hour: 10, weekday: 1, client_ip: '10.0.0.7', environment: 'prod' },
    { hour: 3, weekday: 0, client_ip: '203.0.113.5', environment: 'prod' },
    { hour: 20, weekday: 6, client_ip: '::1', environment: 'dev' },
  ];
  for (const roles of roleSets)
    for (const clearance of [null, 'restricted', 'public'])
      for (const tool of tools)
        for (const ctx of ctxs)
          for (const a of [{ tenant: 'acme', limit: 100 }, { tenant: 'globex', limit: 5000 }, {}])
            yield {
              subject: {
                id: 'u-42',
                tenant: 'acme',
                roles,
                scopes: [],
                clearance,
                auth_method: 'jwt',
                claims: {},
              },
              action: { method: 'tools/call', tool, arguments: a },
              resource: { kind: 'tool', name: tool, annotations: annotations(tool) ?? {} },
              context: { ...ctx, timezone: 'UTC', minute: 0, date: '2026-11-23', time: 'x', request_id: 'r' },
            };
  for (const roles of roleSets)
    for (const [method, field, names] of [
      ['prompts/get', 'prompt', prompts],
      ['resources/read', 'uri', resources],
    ] as const)
      for (const name of names)
        yield {
          subject: { id: 'u-42', tenant: 'acme', roles, clearance: null },
          action: { method, [field]: name },
          resource: { kind: field === 'uri' ? 'resource' : 'prompt', name, annotations: {} },
          context: { hour: 10, weekday: 1, client_ip: '10.0.0.7', environment: 'prod', timezone: 'UTC' },
        };
}

// Pattern matching in wasm: one role per pattern (granting tools and resources), every name.
const globPatterns = [
  'echo',
  '*',
  '**',
  'delete_*',
  'delete_**',
  'notifications/*',
  'notifications/**',
  'crm://customers/*',
  'crm://customers/**',
  'docs://**',
  'crm://*/c-9',
  'read_?ustomer',
  '{echo,ping}',
  '[a-d]*',
  '*_customer',
  'a*b*',
  '',
  'crm://customers/{id}',
  'a]b',
  'a}b',
  ']',
  '}',
  'x]*',
  'x}**',
  '***',
  '\\*',
  'ech?*',
  'docs:/[/]**',
  '[',
  'a[b',
  '{a',
  7,
];
const globNames = [
  'echo',
  'ping',
  'delete_customer',
  'delete_',
  'delete_a/b',
  'notifications/initialized',
  'notifications/roots/list_changed',
  'crm://customers/c-9',
  'crm://customers/c-9/notes',
  'crm://customers/{id}',
  'docs://handbook',
  'docs://a/b/c',
  'read_customer',
  'a_b',
  'wipe.cache',
  '*',
  'a]b',
  'a}b',
  ']',
  '}',
  'x]y',
  'x}/y',
  'x',
  'echo/x',
  '**',
  '[',
  'a[b',
  '{a',
];
function* globInputs(): Generator<unknown> {
  for (let i = 0; i < globPatterns.length; i++)
    for (const name of globNames)
      for (const kind of ['tool', 'resource'])
        yield {
          subject: { id: 'u-42', roles: [`g${i}`], clearance: 'restricted' },
          action: { method: kind === 'tool' ? 'tools/list' : 'resources/list' },
          resource: { kind, name, annotations: {} },
        };
}

// ------------------------------------------------------------------------------------------- data variants

const variants: [string, (a: Record<string, Json>) => void][] = [
  ['shipped data.json', () => {}],
  [
    'hours Mon, Wed, Fri 09:00–17:00',
    (a) => {
      a.restricted.business_hours = {
        weekdays: [5, 1, 3],
        start_hour: 9,
        end_hour: 17,
        timezone: 'Europe/Paris',
      };
    },
  ],
  [
    'confidential is restricted too, no exempt environment',
    (a) => {
      a.restricted.sensitivities = ['confidential', 'restricted'];
      a.restricted.exempt_environments = [];
    },
  ],
  [
    'tenant_argument and masks in the catalog',
    (a) => {
      a.catalog.tools.echo = {
        sensitivity: 'public',
        tenant_argument: 'org',
        mask_arguments: ['token', 'pin', 7],
      };
      a.mask_arguments_always = ['password', 'ssn', 'password', 3];
    },
  ],
  [
    'guest with caps, glob grants and denies',
    (a) => {
      a.roles.guest = {
        ...a.roles.guest,
        tools: ['*_products', 'ech?', '{echo,run_sql}', 'read_*'],
        deny_tools: ['[r]un_sql', 'delete_**'],
        clearance: 'restricted',
        argument_limits: { export_customers: { limit: 10 }, echo: { text: 5 } },
      };
      a.roles.user = {
        ...a.roles.user,
        rate_limit: { capacity: 5000, refill_per_second: 7 },
        resources: ['crm://*/c-9', 'docs://**'],
      };
    },
  ],
  [
    'always-allowed globs, default sensitivity confidential',
    (a) => {
      a.always_allowed_methods = ['**', 'tools/*', '{ping,initialize}', 'notifications/*'];
      a.default_sensitivity = 'confidential';
      a.catalog.resources['crm://{tenant}/customers/{id}'].match = [
        'crm://*/customers/?-*',
        'crm://*/customers/[c]*',
      ];
    },
  ],
  [
    'roles without tiers, odd hours data',
    (a) => {
      for (const r of Object.values<Json>(a.roles)) delete r.rate_limit;
      delete a.default_rate_limit;
      a.restricted.business_hours = { weekdays: [0, 6], start_hour: 0, end_hour: 24 };
    },
  ],
  [
    'one role per glob pattern',
    (a) => {
      globPatterns.forEach((p, i) => {
        a.roles[`g${i}`] = {
          clearance: 'restricted',
          tools: [p],
          resources: [p],
          deny_tools: [],
          destructive: true,
        };
      });
      a.always_allowed_methods = globPatterns;
    },
  ],
  [
    'empty data',
    (a) => {
      for (const k of Object.keys(a)) delete a[k];
    },
  ],
];

// ------------------------------------------------------------------------------------------- compare

const evaluate = (p: Loaded, inp: unknown, ep: number) => {
  try {
    return { ok: p.policy.evaluate(inp, ep) };
  } catch (err) {
    return { error: String((err as Error)?.message ?? err) };
  }
};

let total = 0;
const mismatches: string[] = [];
const counts = { allow: 0, deny: 0, visible: 0, hidden: 0 };
for (const [label, edit] of variants) {
  const data = clone(base);
  edit(data.authz);
  oldP.policy.setData(data);
  newP.policy.setData(data);
  const inputs: [unknown, 'decision' | 'visible'][] = [];
  if (label === 'shipped data.json') for (const x of systematic()) inputs.push([x, 'decision']);
  if (label === 'one role per glob pattern') {
    for (const x of globInputs()) inputs.push([x, 'visible']);
    for (const m of globNames) inputs.push([{ subject: { id: 'u' }, action: { method: m } }, 'decision']);
  }
  const n = label === 'shipped data.json' ? N * 3 : N;
  for (let i = 0; i < n; i++) inputs.push([decisionInput(), 'decision']);
  for (let i = 0; i < n / 4; i++) inputs.push([visibleInput(), 'visible']);
  let vn = 0;
  for (const [inp, which] of inputs) {
    const a = evaluate(oldP, inp, oldP[which]);
    const b = evaluate(newP, inp, newP[which]);
    total++;
    vn++;
    const res = (a.ok as Json)?.[0]?.result;
    if (which === 'decision') res?.allow ? counts.allow++ : counts.deny++;
    else res === true ? counts.visible++ : counts.hidden++;
    if (!isDeepStrictEqual(a, b) && mismatches.length < 10) {
      mismatches.push(
        `[${label}] ${which} ${JSON.stringify(inp)}\n  old: ${JSON.stringify(a)}\n  new: ${JSON.stringify(b)}`,
      );
    }
  }
  console.log(`${label}: ${vn} inputs`);
}
console.log(
  `${total} evaluations compared (decisions: ${counts.allow} allowed, ${counts.deny} denied; visible: ${counts.visible} true, ${counts.hidden} false)`,
);
if (mismatches.length) {
  console.log(`MISMATCHES (first ${mismatches.length}):\n${mismatches.join('\n')}`);
  process.exit(1);
}
console.log('identical: every decision object and visible result matches');
