/**
 * Reads a V8 `.cpuprofile` (from `node:inspector` or `--cpu-prof`) and says where the time went, per
 * request: self time by function, inclusive time of the functions that matter for the sidecar's hot
 * path, and self time by area (sidecar source, undici, node:http internals, wasm, GC, idle).
 *
 * Usage on its own: `node --import tsx bench/profile-summary.ts FILE.cpuprofile [requests]`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}
export interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

export interface ProfileSummary {
  readonly wallUs: number;
  readonly busyUs: number;
  readonly selfByFunction: Array<{ name: string; us: number }>;
  readonly inclusive: Array<{ name: string; us: number }>;
  readonly byArea: Array<{ area: string; us: number }>;
}

function label(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const file = f.url.replace(/^file:\/\//, '');
  const short = file.includes('/node_modules/')
    ? file.slice(file.lastIndexOf('/node_modules/') + '/node_modules/'.length)
    : file.includes('/src/') || file.includes('/bench/') || file.includes('/examples/')
      ? file.slice(file.search(/\/(src|bench|examples)\//) + 1)
      : basename(file);
  return `${name} ${short}:${f.lineNumber + 1}`;
}

function area(f: CallFrame): string {
  const u = f.url;
  if (!u) {
    if (f.functionName === '(garbage collector)') return 'GC';
    if (f.functionName === '(idle)') return 'idle';
    if (f.functionName === '(program)') return 'program (native, not attributed)';
    if (f.functionName.startsWith('wasm-function') || f.functionName.startsWith('$'))
      return "wasm (OPA policy; undici's llhttp too)";
    return 'native / builtins';
  }
  if (u.startsWith('wasm://')) return "wasm (OPA policy; undici's llhttp too)";
  if (u.includes('/node_modules/')) {
    const rest = u.slice(u.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '?');
    return `npm: ${pkg}`;
  }
  if (u.startsWith('node:')) {
    if (u.includes('_http_') || u.includes('/http') || u.includes('_http')) return 'node: http';
    if (u.includes('stream')) return 'node: streams';
    if (u.includes('net') || u.includes('tcp')) return 'node: net';
    return 'node: other internals';
  }
  const m = /\/(src\/[^/]+)\//.exec(u);
  if (m) return m[1] as string;
  return 'other';
}

export function summarize(p: CpuProfile, interesting: readonly RegExp[] = []): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let wall = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const node = byId.get(p.samples[i] as number);
    if (!node) continue;
    wall += dt;
    const f = node.callFrame;
    if (f.functionName !== '(idle)') busy += dt;
    const l = label(f);
    self.set(l, (self.get(l) ?? 0) + dt);
    const a = area(f);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    if (interesting.length) {
      const seen = new Set<string>();
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const cf = (byId.get(id) as ProfileNode).callFrame;
        const name = label(cf);
        if (seen.has(name) || !interesting.some((re) => re.test(name))) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
      }
    }
  }
  const sorted = <K extends string>(m: Map<string, number>, key: K) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => ({ [key]: k, us }) as { [P in K]: string } & { us: number });
  return {
    wallUs: wall,
    busyUs: busy,
    selfByFunction: sorted(self, 'name'),
    inclusive: sorted(inclusive, 'name'),
    byArea: sorted(areas, 'area'),
  };
}

/** Functions on the sidecar's request path whose inclusive time is worth reporting. */
export const HOT_PATH: readonly RegExp[] = [
  /^handleMcp /,
  /^handle bench\/bare-proxy/,
  /^runStages /,
  /^run src\/pipeline\/stages\//,
  /^authenticate src\/authn\/authenticator/,
  /^verify src\/authn\/(jwt-verifier|api-keys)/,
  /^tokenKey /,
  /^decide src\/policy\/engine/,
  /^evaluate .*opa-wasm/,
  /^buildDecisionInput /,
  /^safeParse /,
  /^decision src\/audit/,
  /^forward src\/server\/forward/,
  /^upstreamRequestHeaders /,
  /^clientResponseHeaders /,
  /^context src\/server\/runtime/,
  /^randomUUID /,
  /^parseBody /,
  /^readLimited /,
  /^request src\/proxy\/upstream/,
  /^request .*undici\/lib\/api\/api-request/,
  /^pipeline /,
  /^abortable /,
  /^ReplyFilter /,
  /^stringify /,
  /^parse /,
];

export function formatSummary(s: ProfileSummary, requests: number, top = 25): string {
  const per = (us: number) => (us / requests).toFixed(1);
  const pct = (us: number) => ((100 * us) / s.wallUs).toFixed(1);
  const lines: string[] = [];
  lines.push(
    `profile: ${(s.wallUs / 1e6).toFixed(2)} s, busy ${pct(s.busyUs)} %, ${requests} requests → ${per(s.busyUs)} µs CPU per request`,
  );
  lines.push('', 'self time by area (µs per request, % of wall):');
  for (const a of s.byArea.slice(0, 16))
    lines.push(`  ${per(a.us).padStart(7)}  ${pct(a.us).padStart(5)} %  ${a.area}`);
  if (s.inclusive.length) {
    lines.push('', 'inclusive time of hot-path functions (µs per request):');
    for (const f of s.inclusive.slice(0, 30)) lines.push(`  ${per(f.us).padStart(7)}  ${f.name}`);
  }
  lines.push('', `top ${top} functions by self time (µs per request, % of wall):`);
  for (const f of s.selfByFunction.slice(0, top))
    lines.push(`  ${per(f.us).padStart(7)}  ${pct(f.us).padStart(5)} %  ${f.name}`);
  return lines.join('\n');
}

/**
 * Where the time under a function goes, by caller: for every sample with a frame whose function name
 * matches `fn` on its stack, the `depth` frames above the nearest such frame (µs per request).
 */
export function formatCallers(p: CpuProfile, fn: RegExp, requests: number, depth = 4, top = 4): string {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byChain = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    let id: number | undefined = p.samples[i];
    while (id !== undefined && !fn.test((byId.get(id) as ProfileNode).callFrame.functionName))
      id = parent.get(id);
    if (id === undefined) continue;
    const chain: string[] = [];
    for (let up = parent.get(id), d = 0; up !== undefined && d < depth; up = parent.get(up), d++) {
      const f = (byId.get(up) as ProfileNode).callFrame;
      chain.push(`${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}`);
    }
    const k = chain.join(' ← ');
    byChain.set(k, (byChain.get(k) ?? 0) + dt);
  }
  return [...byChain.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => `  ${(us / requests).toFixed(1).padStart(7)}  ← ${k}`)
    .join('\n');
}

/** Self time per request that `other` spends above `base`, by function and by area (largest first). */
export function formatDiff(
  base: ProfileSummary,
  baseRequests: number,
  other: ProfileSummary,
  otherRequests: number,
  top = 30,
): string {
  const diff = (a: Array<{ us: number } & Record<string, unknown>>, b: typeof a, key: string) => {
    const m = new Map<string, number>();
    for (const x of b) m.set(String(x[key]), x.us / otherRequests);
    for (const x of a) m.set(String(x[key]), (m.get(String(x[key])) ?? 0) - x.us / baseRequests);
    return [...m.entries()].filter(([k]) => k !== '(idle)' && k !== 'idle').sort((x, y) => y[1] - x[1]);
  };
  const lines = ['added self time by area (µs per request):'];
  for (const [k, v] of diff(base.byArea, other.byArea, 'area').slice(0, 12))
    lines.push(`  ${v >= 0 ? '+' : ''}${v.toFixed(1).padStart(6)}  ${k}`);
  lines.push('', `top ${top} functions by added self time (µs per request):`);
  for (const [k, v] of diff(base.selfByFunction, other.selfByFunction, 'name').slice(0, top))
    lines.push(`  ${v >= 0 ? '+' : ''}${v.toFixed(1).padStart(6)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [requests]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  console.log(formatSummary(summarize(profile, HOT_PATH), Number(process.argv[3] ?? 1)));
}
