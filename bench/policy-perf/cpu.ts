/**
 * Load-robust comparison of bundles: CPU time (process.cpuUsage, so time the scheduler gives to other
 * processes is not counted) per decision, as the median over batches, for exactly the pipeline of
 * bench/policy.bench.ts (classify -> buildDecisionInput -> PolicyEngine.decide) with its four rotating
 * cases, plus each case alone. Bundles are interleaved batch by batch.
 * Usage: node --import tsx bench/policy-perf/cpu.ts name=bundleDir [name=bundleDir ...]
 * Env: CPU_BATCHES (default 60), CPU_BATCH (decisions per batch, default 2000).
 */
import type { Principal } from '../../src/authn/principal.js';
import { classify } from '../../src/mcp/action.js';
import { readBundle } from '../../src/policy/bundle.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../../src/policy/input.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const BATCHES = Number(process.env.CPU_BATCHES ?? 60);
const BATCH = Number(process.env.CPU_BATCH ?? 2000);
const engines: { name: string; engine: PolicyEngine }[] = [];
for (const spec of process.argv.slice(2)) {
  const [name, dir] = spec.split('=') as [string, string];
  const engine = new PolicyEngine({
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
  });
  await engine.load(await readBundle(dir));
  engines.push({ name, engine });
}
const subject = (roles: string[]): Principal => ({
  id: 'u-42',
  tenant: 'acme',
  roles,
  scopes: ['mcp:tools'],
  clearance: null,
  authMethod: 'jwt',
  claims: { sub: 'u-42', iss: 'https://issuer.example', aud: 'https://mcp.example/mcp' },
});
// The same four cases as bench/policy.bench.ts.
const cases = [
  {
    label: 'allow analyst read_customer',
    p: subject(['analyst']),
    tool: 'read_customer',
    args: { tenant: 'acme', id: 'c-1' },
  },
  {
    label: 'deny user delete_customer',
    p: subject(['user']),
    tool: 'delete_customer',
    args: { tenant: 'acme', id: 'c-1' },
  },
  {
    label: 'allow premium query',
    p: subject(['premium']),
    tool: 'query_customer_data',
    args: { tenant: 'acme', query: 'q', limit: 10 },
  },
  {
    label: 'deny guest export',
    p: subject(['guest']),
    tool: 'export_customers',
    args: { tenant: 'globex', limit: 5000, format: 'csv' },
  },
];
const annotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
  seen: true,
};
const facts = (i: number): RequestFacts => ({
  now: new Date(),
  clientIp: '10.0.0.7',
  sessionId: 'sess-1',
  requestId: `r-${i}`,
  environment: 'prod',
  timezone: 'UTC',
});
function once(engine: PolicyEngine, c: (typeof cases)[number], i: number): boolean {
  const action = classify('tools/call', i, { name: c.tool, arguments: c.args });
  return engine.decide(buildDecisionInput(c.p, action, annotations, facts(i))).allow;
}
const variants: { label: string; pick: (i: number) => (typeof cases)[number] }[] = [
  { label: 'bench mix (4 cases rotating)', pick: (i) => cases[i % cases.length]! },
  ...cases.map((c) => ({ label: c.label, pick: () => c })),
];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const { engine } of engines) for (let i = 0; i < 20_000; i++) once(engine, cases[i % 4]!, i);
console.log(
  `| CPU µs per decision, min / median of ${BATCHES} batches × ${BATCH} | ${engines.map((e) => e.name).join(' | ')} |`,
);
console.log(`|---|${engines.map(() => '---').join('|')}|`);
for (const v of variants) {
  const per = engines.map(() => [] as number[]);
  for (let b = 0; b < BATCHES; b++) {
    engines.forEach(({ engine }, j) => {
      const u0 = process.cpuUsage();
      for (let i = 0; i < BATCH; i++) once(engine, v.pick(i), i);
      const u = process.cpuUsage(u0);
      per[j]!.push((u.user + u.system) / BATCH);
    });
  }
  console.log(
    `| ${v.label} | ${per.map((p) => `${Math.min(...p).toFixed(2)} / ${median(p).toFixed(2)}`).join(' | ')} |`,
  );
}
