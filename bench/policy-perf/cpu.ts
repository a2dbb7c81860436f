/**
 * Load-robust comparison of bundles: CPU time (process.cpuUsage, so time the scheduler gives to other
 * processes is not counted) per decision, as the median over batches, for exactly the pipeline of
 * bench/policy.bench.ts (classify -> buildDecisionInput -> PolicyEngine.decide) with its four rotating
 * cases, plus each case alone. Bundles are interleaved batch by batch.
 * Usage: node --import tsx bench/policy-perf/cpu.ts name=bundleDir [name=bundleDir ...]
 * Env: CPU_BATCHES (default 60), CPU_BATCH (decisions per batch, default 2000).
 */
import type { PolicyEngine } from '../../src/policy/engine.js';
import { type BenchCase, CASES, decideOnce, engineFor } from '../policy-pipeline.js';

const BATCHES = Number(process.env.CPU_BATCHES ?? 60);
const BATCH = Number(process.env.CPU_BATCH ?? 2000);
const engines: { name: string; engine: PolicyEngine }[] = [];
for (const spec of process.argv.slice(2)) {
  const [name, dir] = spec.split('=') as [string, string];
  engines.push({ name, engine: await engineFor(dir) });
}
const variants: { label: string; pick: (i: number) => BenchCase }[] = [
  { label: 'bench mix (4 cases rotating)', pick: (i) => CASES[i % CASES.length]! },
  ...CASES.map((c) => ({ label: c.label, pick: () => c })),
];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const { engine } of engines) for (let i = 0; i < 20_000; i++) decideOnce(engine, CASES[i % 4]!, i);
console.log(
  `| CPU µs per decision, min / median of ${BATCHES} batches × ${BATCH} | ${engines.map((e) => e.name).join(' | ')} |`,
);
console.log(`|---|${engines.map(() => '---').join('|')}|`);
for (const v of variants) {
  const per = engines.map(() => [] as number[]);
  for (let b = 0; b < BATCHES; b++) {
    engines.forEach(({ engine }, j) => {
      const u0 = process.cpuUsage();
      for (let i = 0; i < BATCH; i++) decideOnce(engine, v.pick(i), i);
      const u = process.cpuUsage(u0);
      per[j]!.push((u.user + u.system) / BATCH);
    });
  }
  console.log(
    `| ${v.label} | ${per.map((p) => `${Math.min(...p).toFixed(2)} / ${median(p).toFixed(2)}`).join(' | ')} |`,
  );
}
