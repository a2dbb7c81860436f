/**
 * Profiles `decision` of one bundle over the sample cases with V8's sampling profiler (wasm functions
 * included, by their names in the module) and prints self time per function plus inclusive time per
 * policy rule. Usage: node --import tsx bench/policy-perf/profile.ts bundleDir [caseFilter]
 */
import { Session } from 'node:inspector/promises';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { readBundle } from '../../src/policy/bundle.js';
import { sampleCases } from './cases.js';

const [dir, filter] = process.argv.slice(2);
const b = await readBundle(dir!);
const p = await loadPolicy(b.wasm);
p.setData(b.data);
const eps = p.entrypoints as Record<string, number>;
const cases = sampleCases().filter(([l]) => !filter || l.includes(filter));
const run = (n: number) => {
  for (let i = 0; i < n; i++) {
    const [, inp, e] = cases[i % cases.length]!;
    p.evaluate(inp, e === 'd' ? eps['mcp/authz/decision'] : eps['mcp/authz/visible']);
  }
};
run(20000);
const s = new Session();
s.connect();
await s.post('Profiler.enable');
await s.post('Profiler.setSamplingInterval', { interval: 50 });
await s.post('Profiler.start');
run(Number(process.env.PROF_N ?? 200000));
const { profile } = await s.post('Profiler.stop');
type Node = { id: number; callFrame: { functionName: string }; hitCount: number; children?: number[] };
const nodes = new Map<number, Node>((profile.nodes as Node[]).map((n) => [n.id, n]));
const self = new Map<string, number>();
const incl = new Map<string, number>();
let total = 0;
const walk = (id: number, stack: Set<string>) => {
  const n = nodes.get(id)!;
  const name = n.callFrame.functionName || '(anon)';
  total += n.hitCount;
  self.set(name, (self.get(name) ?? 0) + n.hitCount);
  const st = new Set(stack);
  st.add(name);
  for (const f of st) incl.set(f, (incl.get(f) ?? 0) + n.hitCount);
  for (const c of n.children ?? []) walk(c, st);
};
walk((profile.nodes as Node[])[0]!.id, new Set());
const top = (m: Map<string, number>, k: number, f: (x: string) => boolean = () => true) =>
  [...m]
    .filter(([x]) => f(x))
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([n, c]) => `${((100 * c) / total).toFixed(1).padStart(5)}%  ${n}`)
    .join('\n');
console.log(
  `samples ${total}\n-- self\n${top(self, 40)}\n-- inclusive (policy rules)\n${top(incl, 60, (x) => x.includes('data.') || x.includes('evaluate') || x.includes('eval'))}`,
);
// Where the runtime's time goes: self time of every non-rule function charged to its nearest rule
// (or to the JS/wasm entry for the parts outside the policy).
const charged = new Map<string, number>();
const walk2 = (id: number, owner: string) => {
  const n = nodes.get(id)!;
  const name = n.callFrame.functionName || '(anon)';
  const o = name.startsWith('g0.') ? name : owner;
  charged.set(o, (charged.get(o) ?? 0) + n.hitCount);
  for (const c of n.children ?? []) walk2(c, o);
};
walk2((profile.nodes as Node[])[0]!.id, '(outside policy)');
console.log(`-- self time charged to the nearest rule\n${top(charged, 45)}`);
