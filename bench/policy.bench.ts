/**
 * `npm run bench:policy`: decisions per second and p50/p99 latency of input building + wasm evaluation +
 * result check for the default policy, over a mix of allowed and denied `tools/call` actions. Results go
 * to `bench/RESULTS.md`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyEngine } from '../src/policy/engine.js';
import { imageNode } from './image-node.js';
import { type BenchCase, CASES, decideOnce, engineFor } from './policy-pipeline.js';
import { percentile, writeSection } from './results.js';

const N = Number(process.env.BENCH_N ?? 100_000);
const WARMUP = 10_000;
/** Set in the child that measures the default and the floor again on the container image's Node release. */
const IMAGE_CHILD = process.env.BENCH_POLICY_IMAGE_CHILD === '1';

// The machine's floor, measured in the same run: the same pipeline with a policy whose decision is a
// constant object (test/fixtures/policies/perf/baseline), so a loaded machine shows in both rows.
const baselineDir = join(tmpdir(), 'mcp-authz-bench-baseline');
if (!IMAGE_CHILD) {
  execFileSync(process.execPath, [
    'scripts/policy-toolchain.mjs',
    'build',
    '--src',
    'test/fixtures/policies/perf/baseline',
    '--out',
    baselineDir,
  ]);
}
const engine = await engineFor(process.env.BENCH_BUNDLE ?? 'build/policy/bundle');
const baseline = await engineFor(join(baselineDir, 'bundle'));

function once(e: PolicyEngine, i: number): boolean {
  return decideOnce(e, CASES[i % CASES.length] as BenchCase, i);
}

interface Row {
  perSecond: number;
  p50: number;
  p99: number;
  p999: number;
  allowed: number;
}

/** Interleaves the engines in blocks so drift of a shared machine hits both alike. */
function measure(engines: readonly PolicyEngine[]): Row[] {
  for (const e of engines) for (let i = 0; i < WARMUP; i++) once(e, i);
  const samples = engines.map(() => new Float64Array(N));
  const allowed = engines.map(() => 0);
  const busy = engines.map(() => 0n);
  const BLOCK = 1_000;
  for (let start = 0; start < N; start += BLOCK) {
    engines.forEach((e, k) => {
      const t0 = process.hrtime.bigint();
      for (let i = start; i < Math.min(N, start + BLOCK); i++) {
        const s = process.hrtime.bigint();
        if (once(e, i)) allowed[k] = (allowed[k] ?? 0) + 1;
        (samples[k] as Float64Array)[i] = Number(process.hrtime.bigint() - s) / 1000;
      }
      busy[k] = (busy[k] ?? 0n) + (process.hrtime.bigint() - t0);
    });
  }
  return engines.map((_, k) => {
    const sorted = [...(samples[k] as Float64Array)].sort((a, b) => a - b);
    return {
      perSecond: Math.round(N / (Number(busy[k]) / 1e9)),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      allowed: allowed[k] ?? 0,
    };
  });
}

if (IMAGE_CHILD) {
  const [row, base] = measure([engine, baseline]) as [Row, Row];
  process.stdout.write(`${JSON.stringify({ node: process.version, row, base })}\n`);
  process.exit(0);
}

const cachedEngine = await engineFor(process.env.BENCH_BUNDLE ?? 'build/policy/bundle', true);
const [row, base, cachedRow] = measure([engine, baseline, cachedEngine]) as [Row, Row, Row];

/**
 * The default and the floor again, interleaved the same way, in a child on the Node release the container
 * image runs (`scripts/node-image.mjs`, fetched once into .cache/); null with the reason when it cannot run
 * (`BENCH_NODE_IMAGE=0` skips it).
 */
function onImageNode(): { node: string; row: Row; base: Row } | { skipped: string } {
  const image = imageNode();
  if ('skipped' in image) return image;
  try {
    const out = execFileSync(image.node, ['--import', 'tsx', 'bench/policy.bench.ts'], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_POLICY_IMAGE_CHILD: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.trim().split('\n').pop() ?? '') as { node: string; row: Row; base: Row };
  } catch (err) {
    return { skipped: `not measured: ${String((err as Error).message).split('\n')[0]}` };
  }
}
const image = onImageNode();

const lookups = cachedEngine.status().decisionCache;
const hitRate = lookups ? lookups.hits / Math.max(1, lookups.hits + lookups.misses) : 0;
const line = (name: string, r: Row, target: string) =>
  `| ${name} | ${N} | ${r.allowed} | ${r.perSecond} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.p999.toFixed(1)} | ${target} |`;
const table = `| policy | decisions | allowed | decisions/s (one core) | p50 µs | p99 µs | p99.9 µs | target |
|---|---|---|---|---|---|---|---|
${line(`default (${engine.revision})`, row, `p50 ≤ 10 µs: ${row.p50 <= 10 ? 'met' : 'MISSED'}`)}
${line('constant decision (floor)', base, `default costs ${(row.p50 / base.p50).toFixed(2)}× the floor`)}
${line('default, decision cache on', cachedRow, `${(hitRate * 100).toFixed(2)} % hits (not judged: the four inputs repeat)`)}
${
  'row' in image
    ? `${line(`default, on Node ${image.node} (the image's)`, image.row, `p50 ≤ 10 µs: ${image.row.p50 <= 10 ? 'met' : 'MISSED'}`)}
${line(`constant decision (floor), on Node ${image.node}`, image.base, `default costs ${(image.row.p50 / image.base.p50).toFixed(2)}× the floor`)}`
    : `| on the image's Node release | — | — | — | — | — | — | ${image.skipped} |`
}

Each sample is one \`tools/call\`: classify → build the policy input (subject, action, annotations, context with
time fields) → \`evaluate\` the \`decision\` entrypoint in wasm → check the result against the schema. Four
cases rotate (two allowed, two denied with several reasons). The second row runs the same pipeline with a
policy whose decision is a constant object, interleaved in blocks of 1,000 with the first: it is the floor
of this machine at this moment (the JSON in and out of wasm, the result check), so on a loaded machine
compare the two rows rather than absolute figures. The third row is the sidecar's default configuration, the
decision cache on (\`policy.decisionCache\`): the same four inputs recur, so after the first of each per hour
every decision is a cache hit — the cost of building the input and its key and one Map lookup. It shows
what a hit costs, not a realistic hit rate; the target is judged on the first row, every decision evaluated.
The last two rows measure the first two again, interleaved the same way, in a child process on the Node
release the container image runs (\`scripts/node-image.mjs\`; this machine's own Node is older), right after
the rows above: compare them with each other.`;
console.log(table);
if (process.env.BENCH_NO_WRITE !== '1') {
  writeSection(
    'policy',
    'Policy decisions (input building + wasm evaluation)',
    'npm run bench:policy',
    table,
  );
}
