/**
 * Micro harness: p50/p90 of `evaluate(decision)` per case for several bundles, interleaved so load from
 * other processes hits every bundle alike. Usage:
 *   node --import tsx bench/policy-perf/micro.ts name=bundleDir [name=bundleDir ...]
 * Env: MICRO_N (samples per case per bundle, default 20000).
 */
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { readBundle } from '../../src/policy/bundle.js';
import { sampleCases } from './cases.js';

const N = Number(process.env.MICRO_N ?? 20_000);
const specs = process.argv.slice(2).map((a) => a.split('=') as [string, string]);
const bundles = [];
for (const [name, dir] of specs) {
  const b = await readBundle(dir);
  const p = await loadPolicy(b.wasm);
  p.setData(b.data);
  const eps = p.entrypoints as Record<string, number>;
  bundles.push({ name, p, d: eps['mcp/authz/decision']!, v: eps['mcp/authz/visible']! });
}

const cases = sampleCases();

const pct = (a: Float64Array, q: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))]!;
};
// warm up
for (const b of bundles)
  for (const [, inp, e] of cases) for (let i = 0; i < 3000; i++) b.p.evaluate(inp, b[e]);

const header = ['case', ...bundles.flatMap((b) => [`${b.name} p50`, `${b.name} p90`])];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
const all = bundles.map(() => [] as number[]);
for (const [label, inp, e] of cases) {
  const samples = bundles.map(() => new Float64Array(N));
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < bundles.length; j++) {
      const b = bundles[j]!;
      const t = process.hrtime.bigint();
      b.p.evaluate(inp, b[e]);
      samples[j]![i] = Number(process.hrtime.bigint() - t) / 1000;
    }
  }
  const cells = samples.flatMap((s, j) => {
    all[j]!.push(...s);
    return [pct(s, 50).toFixed(1), pct(s, 90).toFixed(1)];
  });
  console.log(`| ${label} | ${cells.join(' | ')} |`);
}
const tot = all.map((a) => pct(Float64Array.from(a), 50).toFixed(1));
console.log(`| ALL p50 | ${tot.map((t) => `${t} | `).join('')}`);
