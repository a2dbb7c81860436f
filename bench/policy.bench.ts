/**
 * `npm run bench:policy`: decisions per second and p50/p99 latency of input building + wasm evaluation +
 * result check for the default policy, over a mix of allowed and denied `tools/call` actions. Results go
 * to `bench/RESULTS.md`.
 *
 * @module
 */
import type { Principal } from '../src/authn/principal.js';
import { classify } from '../src/mcp/action.js';
import { readBundle } from '../src/policy/bundle.js';
import { PolicyEngine } from '../src/policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../src/policy/input.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { percentile, writeSection } from './results.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const WARMUP = 10_000;

const engine = new PolicyEngine({
  decisionEntrypoint: 'mcp/authz/decision',
  visibleEntrypoint: 'mcp/authz/visible',
  logger: silentLogger(),
});
await engine.load(await readBundle(process.env.BENCH_BUNDLE ?? 'build/policy/bundle'));

const subject = (roles: string[]): Principal => ({
  id: 'u-42',
  tenant: 'acme',
  roles,
  scopes: ['mcp:tools'],
  clearance: null,
  authMethod: 'jwt',
  claims: { sub: 'u-42', iss: 'https://issuer.example', aud: 'https://mcp.example/mcp' },
});
const cases = [
  { p: subject(['analyst']), tool: 'read_customer', args: { tenant: 'acme', id: 'c-1' } }, // allow
  { p: subject(['user']), tool: 'delete_customer', args: { tenant: 'acme', id: 'c-1' } }, // deny, several reasons
  { p: subject(['premium']), tool: 'query_customer_data', args: { tenant: 'acme', query: 'q', limit: 10 } }, // allow
  { p: subject(['guest']), tool: 'export_customers', args: { tenant: 'globex', limit: 5000, format: 'csv' } }, // deny
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

function once(i: number): boolean {
  const c = cases[i % cases.length]!;
  const action = classify('tools/call', i, { name: c.tool, arguments: c.args });
  return engine.decide(buildDecisionInput(c.p, action, annotations, facts(i))).allow;
}

for (let i = 0; i < WARMUP; i++) once(i);
const samples = new Float64Array(N);
let allowed = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const s = process.hrtime.bigint();
  if (once(i)) allowed++;
  samples[i] = Number(process.hrtime.bigint() - s) / 1000;
}
const totalS = Number(process.hrtime.bigint() - t0) / 1e9;
const sorted = [...samples].sort((a, b) => a - b);
const row = {
  decisions: N,
  perSecond: Math.round(N / totalS),
  p50: percentile(sorted, 50),
  p99: percentile(sorted, 99),
  p999: percentile(sorted, 99.9),
};
const table = `| decisions | allowed | decisions/s (one core) | p50 µs | p99 µs | p99.9 µs | target |
|---|---|---|---|---|---|---|
| ${row.decisions} | ${allowed} | ${row.perSecond} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.p999.toFixed(1)} | p50 ≤ 10 µs: ${row.p50 <= 10 ? 'met' : 'MISSED'} |

Each sample is one \`tools/call\`: classify → build the policy input (subject, action, annotations, context with
time fields) → \`evaluate\` the \`decision\` entrypoint in wasm → check the result against the schema. Four
cases rotate (two allowed, two denied with several reasons). Policy revision ${engine.revision}.`;
console.log(table);
if (process.env.BENCH_NO_WRITE !== '1') {
  writeSection(
    'policy',
    'Policy decisions (input building + wasm evaluation)',
    'npm run bench:policy',
    table,
  );
}
