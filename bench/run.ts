/**
 * `npm run bench`: what the sidecar costs as a proxy. Drives `tools/call` (an ES256-authenticated `echo`
 * call of ~300 bytes) at concurrency 1 and 32 against, for two upstreams:
 *
 * - **direct**: the upstream itself;
 * - **bare proxy** (`bare-proxy.ts`): `node:http` + undici Pool, read body, forward, stream back — the
 *   baseline;
 * - **sidecar**: `createSidecar` with JWT (dev issuer JWKS), the compiled default policy and the
 *   in-memory store, otherwise defaults (rate limits, abuse rules, metrics), log level `warn` (no audit
 *   lines); the same sidecar with API keys; and a second sidecar with audit lines on (level `info` to
 *   /dev/null).
 *
 * Upstreams: a raw `node:http` server with a fixed ~73-byte reply (isolates the proxy's own cost; the
 * targets are judged here) and the MCP SDK example server (realistic, but the SDK dominates).
 *
 * Processes: the load generator (`load.ts`, autocannon) in one child pinned to CPU 0; upstreams and
 * proxies in two children pinned to CPU 1 (`servers.ts`), when `taskset` and two CPUs exist. Targets are
 * measured in interleaved rounds (every target once per round) and the median round is reported, so
 * drift of a shared machine hits all targets alike. Every response must be HTTP 200 with exactly the body
 * the upstream gives directly; non-2xx, errors, timeouts and mismatched bodies are counted and printed,
 * and any of them fails the run (RESULTS.md is then left alone). CPU time per request is taken from the
 * server processes' own `process.cpuUsage()` around each measurement.
 *
 * Environment: BENCH_DURATION (measured s per round, default 3), BENCH_ROUNDS (default 3), BENCH_WARMUP
 * (s before a target's first measurement, at most 0.5 s before later ones; default 1),
 * BENCH_SDK_DURATION (s, default 3; the SDK upstream gets one round), BENCH_SUBJECTS (credentials the
 * requests rotate over, default 1000: the sidecar rate-limits per subject), BENCH_AUDIT=0 (skip the
 * audit-on sidecar), BENCH_PIN=0 (no CPU pinning), BENCH_PROFILE=1 (afterwards CPU-profile the proxies
 * process during one c=32 run each of the bare proxy and the sidecar on the raw upstream, and report
 * where the sidecar's extra time goes), BENCH_NO_WRITE=1 (do not touch RESULTS.md).
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { CredentialSets, LoadRequest, LoadResult } from './load.js';
import {
  type CpuProfile,
  formatCallers,
  formatDiff,
  formatSummary,
  HOT_PATH,
  type ProfileSummary,
  summarize,
} from './profile-summary.js';
import { RAW_CALL_REPLY } from './raw-upstream.js';
import { writeSection } from './results.js';
import type { CpuReply, ProxiesConfig, ProxiesReady, UpstreamsReady } from './servers.js';

const ROOT = resolve(import.meta.dirname, '..');
const num = (name: string, dflt: number, min = 0): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}`);
  return n;
};
const DURATION = num('BENCH_DURATION', 3, 1);
const ROUNDS = Math.round(num('BENCH_ROUNDS', 3, 1));
const WARMUP = num('BENCH_WARMUP', 1);
const SDK_DURATION = num('BENCH_SDK_DURATION', 3, 1);
const AUDIT = process.env.BENCH_AUDIT !== '0';
const SUBJECTS = Math.round(num('BENCH_SUBJECTS', 1000, 1));
const PROFILE = process.env.BENCH_PROFILE === '1';
const CONCURRENCY = [1, 32] as const;
const TARGET_RPS_RATIO = 0.8;
const TARGET_ADDED_P50_MS = 0.3;

// ---------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------

const canPin =
  process.env.BENCH_PIN !== '0' &&
  cpus().length >= 2 &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const LOAD_CPU = '0';
const SERVER_CPU = '1';

/** Busy and total CPU time of the whole machine so far (µs), from /proc/stat; null where there is none. */
function machineCpu(): { busyUs: number; stealUs: number; totalUs: number } | null {
  try {
    const f =
      readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const tick = 1e6 / 100; // USER_HZ
    const busy = user + nice + system + irq + softirq;
    return { busyUs: busy * tick, stealUs: steal * tick, totalUs: (busy + idle + iowait + steal) * tick };
  } catch {
    return null;
  }
}

/** Lines the sidecars log when the load generator closes its sockets with requests in flight. */
let abortedAtPhaseEnd = 0;
/** Abuse-rule alerts the sidecars log (tool-call-burst counts calls per subject). */
let abuseAlerts = 0;

function start(script: string, args: string[], cpu: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', join(ROOT, 'bench', script), ...args];
  const [cmd, ...argv] = canPin ? ['taskset', '-c', cpu, ...node] : node;
  const child = spawn(cmd as string, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  // Every autocannon phase ends by destroying its sockets; the sidecar logs each request that was in
  // flight then as a warning. Count those instead of printing them; print everything else.
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line.includes('"This operation was aborted"') || line.includes('"client went away"'))
      abortedAtPhaseEnd++;
    else if (line.includes('"abuse rule ')) abuseAlerts++;
    else console.log(line);
  });
  return child;
}

function next<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolveMsg, reject) => {
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === 'error') {
        cleanup();
        reject(new Error(m.message));
      } else if (m.type === type) {
        cleanup();
        resolveMsg(m as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code}) while waiting for ${type}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const children: ChildProcess[] = [];
function stopChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', stopChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    stopChildren();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------------

const TEXT =
  'Please summarise the open support tickets of customer c-1042 for the weekly account review; ' +
  'include priority, owner and the date of the last reply. Keep it short.';
const BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: TEXT }, _meta: { progressToken: 'bench-1' } },
});

/** Every request's headers; `authorization: Bearer <credential>` is added per request, round-robin. */
const HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

type UpstreamKind = 'raw' | 'sdk';

interface Target {
  readonly upstream: UpstreamKind;
  readonly name: string;
  readonly kind: 'direct' | 'bare' | 'sidecar';
  readonly url: string;
  /** Which credential set the requests rotate over. */
  readonly credentials: 'jwt' | 'apikey' | 'jwtSdk';
}

/** One request through `t` with one credential; returns status and body. */
async function once(t: Target, credential: string): Promise<{ status: number; body: string }> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { ...HEADERS, authorization: `Bearer ${credential}` },
    body: BODY,
  });
  return { status: res.status, body: await res.text() };
}

// ---------------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------------

const bundle = join(ROOT, 'build', 'policy', 'bundle');
if (!existsSync(join(bundle, 'policy.wasm'))) {
  console.log('building the policy bundle (npm run policy:build) …');
  execFileSync('npm', ['run', 'policy:build'], { cwd: ROOT, stdio: 'inherit' });
}

// How busy is the machine before we start? Other work on a 2-CPU VM skews everything.
const idle0 = machineCpu();
await new Promise((r) => setTimeout(r, 1_000));
const idle1 = machineCpu();
const backgroundPct =
  idle0 && idle1 ? (100 * (idle1.busyUs - idle0.busyUs)) / (idle1.totalUs - idle0.totalUs) : null;
if (backgroundPct !== null && backgroundPct > 10)
  console.log(`warning: the machine is ${backgroundPct.toFixed(0)} % busy before the benchmark starts`);

const tStart = Date.now();
console.log(
  `proxy benchmark: ${ROUNDS} round(s) × (${WARMUP} s warm-up + ${DURATION} s measured) per target and ` +
    `concurrency (SDK upstream: 1 × (${WARMUP} + ${SDK_DURATION}) s); ` +
    (canPin
      ? `load generator pinned to CPU ${LOAD_CPU}, servers to CPU ${SERVER_CPU}`
      : 'no CPU pinning (BENCH_PIN=0, or taskset or a second CPU missing)'),
);

const upstreamsChild = start('servers.ts', ['upstreams'], SERVER_CPU, { BENCH_SUBJECTS: String(SUBJECTS) });
children.push(upstreamsChild);
const up = await next<UpstreamsReady>(upstreamsChild, 'ready');
const proxiesConfig: ProxiesConfig = {
  raw: up.raw,
  sdk: up.sdk,
  issuer: up.issuer,
  jwksUri: up.jwksUri,
  bundle,
  audit: AUDIT,
  subjects: SUBJECTS,
};
const proxiesChild = start('servers.ts', ['proxies'], SERVER_CPU, {
  BENCH_PROXIES_CONFIG: JSON.stringify(proxiesConfig),
});
children.push(proxiesChild);
const px = await next<ProxiesReady>(proxiesChild, 'ready');
const loadChild = start('load.ts', [], LOAD_CPU);
children.push(loadChild);
await next(loadChild, 'ready');
// The SDK upstream manages a few hundred requests a second: a few subjects are plenty there, and keep the
// share of first-time (uncached) token checks out of its short measurement.
const SDK_SUBJECTS = Math.min(SUBJECTS, 50);
const credentials: Record<Target['credentials'], string[]> = {
  jwt: up.tokens,
  apikey: px.apiKeys,
  jwtSdk: up.tokens.slice(0, SDK_SUBJECTS),
};
loadChild.send({ type: 'credentials', sets: credentials } satisfies CredentialSets);
await next(loadChild, 'credentials-set');

const targets: Target[] = [
  { upstream: 'raw', name: 'direct', kind: 'direct', url: `${up.raw}/mcp`, credentials: 'jwt' },
  { upstream: 'raw', name: 'bare proxy', kind: 'bare', url: `${px.bareRaw}/mcp`, credentials: 'jwt' },
  { upstream: 'raw', name: 'sidecar, JWT', kind: 'sidecar', url: `${px.sidecarRaw}/mcp`, credentials: 'jwt' },
  {
    upstream: 'raw',
    name: 'sidecar, API key',
    kind: 'sidecar',
    url: `${px.sidecarRaw}/mcp`,
    credentials: 'apikey',
  },
  ...(px.sidecarRawAudit
    ? [
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, audit on',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawAudit}/mcp`,
          credentials: 'jwt' as const,
        },
      ]
    : []),
  { upstream: 'sdk', name: 'direct', kind: 'direct', url: `${up.sdk}/mcp`, credentials: 'jwtSdk' },
  { upstream: 'sdk', name: 'bare proxy', kind: 'bare', url: `${px.bareSdk}/mcp`, credentials: 'jwtSdk' },
  {
    upstream: 'sdk',
    name: 'sidecar, JWT',
    kind: 'sidecar',
    url: `${px.sidecarSdk}/mcp`,
    credentials: 'jwtSdk',
  },
];

// Preflight: every target answers 200 with exactly the direct body (a policy deny is a 200, too). The
// sidecars' first call also makes them learn `echo`'s annotations from the upstream. Then every
// credential goes once through each sidecar, so their verified-token and API-key caches are
// warm before anything is measured (an ES256 verification costs far more than a cached check).
const expected: Record<UpstreamKind, string> = { raw: '', sdk: '' };
const check = (t: Target, r: { status: number; body: string }) => {
  if (r.status !== 200 || r.body !== expected[t.upstream]) {
    throw new Error(
      `preflight: ${t.upstream} / ${t.name} answered ${r.status} ${r.body.slice(0, 300)}; expected 200 ${expected[t.upstream].slice(0, 120)}`,
    );
  }
};
for (const t of targets) {
  for (let i = 0; i < 3; i++) {
    const r = await once(t, credentials[t.credentials][i] as string);
    if (t.kind === 'direct' && i === 0) expected[t.upstream] = r.body;
    check(t, r);
  }
}
for (const t of targets.filter((x) => x.kind === 'sidecar')) {
  const list = credentials[t.credentials];
  let i = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (i < list.length) check(t, await once(t, list[i++] as string));
    }),
  );
}
if (expected.raw !== RAW_CALL_REPLY) throw new Error(`raw upstream answered ${expected.raw}`);
console.log(
  `request: ${Buffer.byteLength(BODY)}-byte tools/call, ES256 tokens of ${up.tokens[0]?.length} bytes for ${SUBJECTS} subjects; replies: raw ` +
    `${Buffer.byteLength(expected.raw)} bytes, SDK ${Buffer.byteLength(expected.sdk)} bytes; every target preflighted OK`,
);

// ---------------------------------------------------------------------------------------------------
// Measure
// ---------------------------------------------------------------------------------------------------

interface Sample extends LoadResult {
  /** CPU µs per request in the proxies process (0 for direct) and in the upstreams process. */
  readonly proxyCpuUs: number;
  readonly upstreamCpuUs: number;
}

async function cpu(child: ChildProcess): Promise<number> {
  child.send({ type: 'cpu' });
  return (await next<CpuReply>(child, 'cpu')).us;
}

async function phase(t: Target, connections: number, durationS: number): Promise<LoadResult> {
  const req: LoadRequest = {
    type: 'run',
    url: t.url,
    headers: HEADERS,
    credentials: t.credentials,
    body: BODY,
    connections,
    durationS,
    expectBody: expected[t.upstream],
  };
  loadChild.send(req);
  return next<LoadResult>(loadChild, 'result');
}

const runCpu0 = machineCpu();
const ownCpu = async () =>
  (await cpu(proxiesChild)) +
  (await cpu(upstreamsChild)) +
  (await cpu(loadChild)) +
  process.cpuUsage().user +
  process.cpuUsage().system;
const ownCpu0 = await ownCpu();

let failures = 0;
function countBad(r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.mismatches;
}

async function measure(t: Target, connections: number, durationS: number, warmupS: number): Promise<Sample> {
  if (warmupS > 0) failures += countBad(await phase(t, connections, warmupS));
  const [p0, u0] = [await cpu(proxiesChild), await cpu(upstreamsChild)];
  const r = await phase(t, connections, durationS);
  const [p1, u1] = [await cpu(proxiesChild), await cpu(upstreamsChild)];
  failures += countBad(r);
  return {
    ...r,
    proxyCpuUs: t.kind === 'direct' ? 0 : (p1 - p0) / r.requests,
    upstreamCpuUs: (u1 - u0) / r.requests,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

interface Aggregate {
  readonly rps: number;
  readonly rpsRounds: number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly proxyCpuUs: number;
  readonly upstreamCpuUs: number;
  readonly requests: number;
  readonly bad: number;
}

function aggregate(samples: Sample[]): Aggregate {
  return {
    rps: median(samples.map((s) => s.rps)),
    rpsRounds: samples.map((s) => s.rps),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    proxyCpuUs: median(samples.map((s) => s.proxyCpuUs)),
    upstreamCpuUs: median(samples.map((s) => s.upstreamCpuUs)),
    requests: samples.reduce((a, s) => a + s.requests, 0),
    bad: samples.reduce((a, s) => a + countBad(s), 0),
  };
}

function fmtRps(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : Math.round(v).toLocaleString('en-US');
}
const ms = (v: number): string => v.toFixed(3);
const plus = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;

const results = new Map<string, Aggregate>();
const keyOf = (upstream: UpstreamKind, name: string, c: number) => `${upstream}|${name}|${c}`;
for (const upstream of ['raw', 'sdk'] as const) {
  const rounds = upstream === 'raw' ? ROUNDS : 1;
  const durationS = upstream === 'raw' ? DURATION : SDK_DURATION;
  const ts = targets.filter((x) => x.upstream === upstream);
  for (const c of CONCURRENCY) {
    const samples = new Map<Target, Sample[]>(ts.map((t) => [t, []]));
    for (let round = 0; round < rounds; round++) {
      for (const t of ts) {
        // Later rounds find the target warm already; their warm-up only settles the new connections.
        const s = await measure(t, c, durationS, round === 0 ? WARMUP : Math.min(WARMUP, 0.5));
        samples.get(t)?.push(s);
        console.log(
          `${upstream} c=${String(c).padEnd(2)} round ${round + 1}/${rounds} ${t.name.padEnd(22)} ` +
            `${fmtRps(s.rps).padStart(7)} req/s  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)} ms  ` +
            `CPU/req proxy ${s.proxyCpuUs.toFixed(0)} µs upstream ${s.upstreamCpuUs.toFixed(0)} µs  n=${s.requests}` +
            (countBad(s)
              ? `  BAD: non-2xx ${s.non2xx} errors ${s.errors} timeouts ${s.timeouts} mismatches ${s.mismatches} ${JSON.stringify(s.statusCodes)}`
              : '') +
            (s.sampleMismatch ? `\n    first mismatching body: ${s.sampleMismatch}` : ''),
        );
      }
    }
    for (const t of ts) results.set(keyOf(upstream, t.name, c), aggregate(samples.get(t) ?? []));
  }
}

// ---------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------

// CPU the rest of the machine used while we measured (other processes, the kernel's own work), in % of
// all CPUs, and the hypervisor's steal.
const runCpu1 = machineCpu();
const ownCpu1 = await ownCpu();
const interference =
  runCpu0 && runCpu1
    ? {
        othersPct:
          (100 * (runCpu1.busyUs - runCpu0.busyUs - (ownCpu1 - ownCpu0))) /
          (runCpu1.totalUs - runCpu0.totalUs),
        stealPct: (100 * (runCpu1.stealUs - runCpu0.stealUs)) / (runCpu1.totalUs - runCpu0.totalUs),
      }
    : null;
const machineNote =
  interference && backgroundPct !== null
    ? `Machine load: ${backgroundPct.toFixed(0)} % of all CPUs busy just before the run; during the measurements ` +
      `other processes (and kernel work not charged to the benchmark's processes) used ${Math.max(0, interference.othersPct).toFixed(0)} % ` +
      `and the hypervisor stole ${interference.stealPct.toFixed(1)} %.`
    : '';

const spread = (a: Aggregate): string =>
  a.rpsRounds.length > 1 ? ` (${fmtRps(Math.min(...a.rpsRounds))}–${fmtRps(Math.max(...a.rpsRounds))})` : '';
const get = (upstream: UpstreamKind, name: string, c: number) =>
  results.get(keyOf(upstream, name, c)) as Aggregate;

const rows: string[] = [
  '| upstream | target | c=1 req/s | c=1 p50 / p99 ms | c=1 added p50 / p99 ms | c=32 req/s (rounds: min–max) | c=32 p50 / p99 ms | c=32 × bare | CPU µs/req at c=32: proxy / upstream | bad responses |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const t of targets) {
  const r1 = get(t.upstream, t.name, 1);
  const r32 = get(t.upstream, t.name, 32);
  const d1 = get(t.upstream, 'direct', 1);
  const bare32 = get(t.upstream, 'bare proxy', 32);
  const direct = t.kind === 'direct';
  rows.push(
    `| ${t.upstream === 'raw' ? 'raw `node:http`' : 'MCP SDK example'} | ${t.name} | ${fmtRps(r1.rps)} | ` +
      `${ms(r1.p50Ms)} / ${ms(r1.p99Ms)} | ${direct ? '—' : `${plus(r1.p50Ms - d1.p50Ms)} / ${plus(r1.p99Ms - d1.p99Ms)}`} | ` +
      `${fmtRps(r32.rps)}${spread(r32)} | ${ms(r32.p50Ms)} / ${ms(r32.p99Ms)} | ${direct ? '—' : (r32.rps / bare32.rps).toFixed(2)} | ` +
      `${direct ? '—' : r32.proxyCpuUs.toFixed(0)} / ${r32.upstreamCpuUs.toFixed(0)} | ${r1.bad + r32.bad} |`,
  );
}

const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const targetRows: string[] = [
  '| sidecar (raw upstream) | c=32 throughput vs bare proxy (goal ≥ 0.80×) | c=1 added p50 vs direct (goal ≤ 0.300 ms) |',
  '|---|---|---|',
];
const rawDirect1 = get('raw', 'direct', 1);
const rawBare1 = get('raw', 'bare proxy', 1);
const rawBare32 = get('raw', 'bare proxy', 32);
let missed = 0;
for (const t of targets.filter((x) => x.upstream === 'raw' && x.kind === 'sidecar')) {
  const r1 = get('raw', t.name, 1);
  const r32 = get('raw', t.name, 32);
  const ratio = r32.rps / rawBare32.rps;
  const added = r1.p50Ms - rawDirect1.p50Ms;
  const judged = t.name === 'sidecar, JWT';
  if (judged && ratio < TARGET_RPS_RATIO) missed++;
  if (judged && added > TARGET_ADDED_P50_MS) missed++;
  targetRows.push(
    `| ${t.name}${judged ? ' (**judged**)' : ''} | ${ratio.toFixed(2)}× (${fmtRps(r32.rps)} vs ${fmtRps(rawBare32.rps)} req/s): ` +
      `**${verdict(ratio >= TARGET_RPS_RATIO)}** | ${plus(added)} ms (bare proxy: ${plus(rawBare1.p50Ms - rawDirect1.p50Ms)} ms): ` +
      `**${verdict(added <= TARGET_ADDED_P50_MS)}** |`,
  );
}

const envUsed = [
  'BENCH_DURATION',
  'BENCH_ROUNDS',
  'BENCH_WARMUP',
  'BENCH_SDK_DURATION',
  'BENCH_AUDIT',
  'BENCH_PIN',
  'BENCH_PROFILE',
]
  .map((k) => [k, process.env[k]] as const)
  .filter(([, v]) => v !== undefined && v !== '');
const command = `${envUsed.map(([k, v]) => `${k}=${v} `).join('')}npm run bench`;

let profileText = '';
if (PROFILE) {
  // Profile the proxies process with the upstreams moved to the load generator's CPU, so the proxy has
  // a CPU of its own: V8's sampler charges wall time, and time spent descheduled while the upstream runs
  // on the same CPU would otherwise land on whatever syscall was on the stack.
  const repin = (cpuList: string) => {
    if (canPin && upstreamsChild.pid)
      spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(upstreamsChild.pid)], { stdio: 'ignore' });
  };
  const dir = join(ROOT, 'bench', '.tmp');
  mkdirSync(dir, { recursive: true });
  repin(LOAD_CPU);
  const parts: string[] = [];
  const summaries: Array<{ s: ProfileSummary; n: number }> = [];
  let sidecarProfile: CpuProfile | undefined;
  for (const name of ['bare proxy', 'sidecar, JWT']) {
    const t = targets.find((x) => x.upstream === 'raw' && x.name === name) as Target;
    const file = join(dir, `${name.replace(/[^a-z]+/gi, '-')}-c32-${Date.now()}.cpuprofile`);
    await phase(t, 32, 1);
    const c0 = await cpu(proxiesChild);
    proxiesChild.send({ type: 'profile-start', intervalUs: 100 });
    await next(proxiesChild, 'profile-started');
    const r = await phase(t, 32, Math.max(DURATION, 5));
    proxiesChild.send({ type: 'profile-stop', file });
    await next(proxiesChild, 'profile-stopped');
    const c1 = await cpu(proxiesChild);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const summary = summarize(profile, HOT_PATH);
    if (name !== 'bare proxy') sidecarProfile = profile;
    summaries.push({ s: summary, n: r.requests });
    parts.push(
      `### ${name} (raw upstream, c=32): ${r.requests} requests, ${fmtRps(r.rps)} req/s under the profiler, ` +
        `process CPU ${((c1 - c0) / r.requests).toFixed(0)} µs/request (profiler included)\n` +
        formatSummary(summary, r.requests, name === 'bare proxy' ? 15 : 30),
    );
    console.log(`\nCPU profile of the proxies process, ${name} (${file}):\n${parts[parts.length - 1]}`);
  }
  repin(SERVER_CPU);
  const [bare, side] = summaries as [{ s: ProfileSummary; n: number }, { s: ProfileSummary; n: number }];
  parts.push(`### sidecar − bare proxy\n${formatDiff(bare.s, bare.n, side.s, side.n, 30)}`);
  // Who pays for the most expensive generic helpers in the sidecar (inclusive time, µs per request).
  const callers = [/^DOMException$/, /^createAbortSignal$/, /^hashAttributes$/, /^evaluate$/]
    .map(
      (re) =>
        `${re.source.replace(/[\^$]/g, '')} (inclusive), by caller:\n${formatCallers(sidecarProfile as CpuProfile, re, side.n)}`,
    )
    .join('\n');
  parts.push(`### sidecar: callers of hot helpers\n${callers}`);
  console.log(`\n${parts[parts.length - 1]}`);
  profileText = parts.join('\n\n');
}

const body = `Every request is a ${Buffer.byteLength(BODY)}-byte \`tools/call\` of \`echo\` (JSON-RPC id 1) with an ES256
bearer token of ${up.tokens[0]?.length} bytes from the dev issuer (role \`user\`, tenant \`acme\`, scope \`mcp:tools\`; the
default policy allows it), \`Accept: application/json, text/event-stream\`, \`MCP-Protocol-Version: 2025-06-18\`.
The same requests go to every target; the API-key rows send \`Authorization: Bearer mcpk_…\` instead. The
credentials rotate over ${SUBJECTS} subjects (${SDK_SUBJECTS} on the SDK upstream; one token or key each), because the sidecar rate-limits per subject
and tool (the default policy gives role \`user\` 200 + 5/s) and counts calls per subject for its abuse rules:
one subject would be throttled within a second, many keep every request allowed, as in a real pod.
The sidecars' token and key caches were warmed with every credential before measuring.
Every response was checked to be HTTP 200 with exactly the body the upstream gives directly (raw:
${Buffer.byteLength(expected.raw)} bytes, SDK: ${Buffer.byteLength(expected.sdk)} bytes); "bad responses" counts non-2xx,
errors, timeouts and mismatched bodies over both concurrencies.

${rows.join('\n')}

**Targets** (raw upstream; judged on the JWT sidecar, the others for comparison):

${targetRows.join('\n')}

Method: autocannon 8 (programmatic API) in its own process${canPin ? ` pinned to CPU ${LOAD_CPU}` : ''}; upstreams (raw
\`node:http\`, MCP SDK example server stateless with JSON replies, dev issuer) in one process and the
proxies (bare proxies and sidecars) in another${canPin ? `, both pinned to CPU ${SERVER_CPU}` : ' (no CPU pinning)'}.
Raw upstream: ${ROUNDS} interleaved round(s) per concurrency (every target once per round), each a warm-up
(${WARMUP} s in the first round, ${Math.min(WARMUP, 0.5)} s later) then ${DURATION} s measured; the table shows the median round. SDK upstream: one round of ${WARMUP} s + ${SDK_DURATION} s.
Latency is per response with microsecond resolution; "added" = target − direct at the same concurrency.
CPU µs/req is the server processes' \`process.cpuUsage()\` over the measured interval divided by the
requests answered (proxy column: the proxies process; upstream column: the upstreams process).
Bare proxy: \`bench/bare-proxy.ts\` (\`node:http\` + undici Pool, 64 keep-alive connections, body read then
forwarded, reply streamed back, no checks). Sidecar: \`createSidecar\` with JWT via the dev issuer's JWKS
(verified tokens cached), the compiled default policy (\`build/policy/bundle\`), in-memory store, upstream
pool of 64, everything else at its defaults (rate limiting and abuse rules on, no OTLP endpoint), log
level \`warn\`: **audit lines off** (they are \`info\`; the records are still built and queued)${AUDIT ? '; the "audit on" row is a second sidecar at level `info` writing its audit lines to /dev/null (pino, async)' : ''}.
On these VMs a wake-up across vCPUs is slow and noisy, which inflates the c=1 latencies (p99 above all)
of every target; compare ratios and "added" columns within one run, not absolute numbers across runs.
${machineNote}${
  profileText
    ? `\n\nCPU profiles of the proxies process during one extra c=32 run each on the raw upstream, with the
upstreams moved to the load generator's CPU so the proxy has a CPU to itself (V8 sampling profiler,
100 µs; µs per request):\n\n\`\`\`\n${profileText}\n\`\`\``
    : ''
}`;

console.log(`\n${rows.join('\n')}\n\n${targetRows.join('\n')}`);
if (machineNote) console.log(machineNote);
if (abuseAlerts) console.log(`(${abuseAlerts} abuse-rule alert lines from the sidecars)`);
if (abortedAtPhaseEnd)
  console.log(
    `(${abortedAtPhaseEnd} sidecar warnings for requests in flight when the load generator closed its sockets at the end of a phase: expected, not counted as errors)`,
  );
if (failures > 0) {
  console.error(
    `${failures} bad responses (non-2xx, errors, timeouts or mismatched bodies): results are not valid, RESULTS.md not written`,
  );
  process.exitCode = 1;
} else if (process.env.BENCH_NO_WRITE !== '1') {
  writeSection('proxy', 'Proxy overhead: direct vs bare proxy vs sidecar', command, body);
  console.log('\nwrote the `proxy` section of bench/RESULTS.md');
}
if (missed > 0) console.log(`${missed} target(s) missed`);
console.log(`total ${((Date.now() - tStart) / 1000).toFixed(0)} s`);

for (const c of [loadChild, proxiesChild, upstreamsChild]) c.send({ type: 'stop' });
await Promise.all(
  [loadChild, proxiesChild, upstreamsChild].map(
    (c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))),
  ),
);
