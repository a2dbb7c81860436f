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
 * Two more comparisons run in the same rounds, on the raw upstream (sections `ratelimit` and `telemetry`
 * of RESULTS.md):
 *
 * - **Rate limiting** (issue 5): the JWT sidecar with its store in a real `redis-server` (started here on a
 *   free port, `--save '' --appendonly no`, pinned to the servers' CPU) with rate limiting on, the same
 *   with `ratelimit.enabled: false`, next to the default (in-memory store, rate limiting on; with
 *   BENCH_RL_MEMORY_OFF=1 also the in-memory one with rate limiting off). Redis's own `INFO
 *   commandstats` must show one EVALSHA per request of the rate-limited Redis sidecar (else the limiter
 *   fell back to in-process buckets and the run fails).
 * - **Telemetry** (issue 6): the JWT sidecar exporting traces, metrics and logs over OTLP/HTTP
 *   (`OTEL_EXPORTER_OTLP_ENDPOINT`, metric push every BENCH_OTLP_METRIC_INTERVAL ms) to `otlp-sink.ts`, a
 *   receiver in its own process pinned to the load generator's CPU, against the same sidecar without an
 *   endpoint. The receiver counts spans, server spans and log records, so dropped telemetry shows.
 *
 * Environment: BENCH_DURATION (measured s per round, default 3), BENCH_ROUNDS (default 3), BENCH_WARMUP
 * (s before a target's first measurement, at most 0.5 s before later ones; default 1),
 * BENCH_SDK_DURATION (s, default 3; the SDK upstream gets one round), BENCH_SUBJECTS (credentials the
 * requests rotate over, default 1000: the sidecar rate-limits per subject), BENCH_AUDIT=0 (skip the
 * audit-on sidecar), BENCH_REDIS=0 (skip the rate-limit comparison), BENCH_RL_MEMORY_OFF=1 (also measure
 * the in-memory sidecar without rate limiting; off by default to keep the run under ~4 minutes: the
 * in-memory bucket costs a few µs, below what a throughput run resolves), BENCH_TELEMETRY=0 (skip the OTLP
 * comparison), BENCH_OTLP_METRIC_INTERVAL (ms, default 5000), BENCH_OTLP_TRACES_SAMPLER /
 * BENCH_OTLP_TRACES_SAMPLER_ARG (a trace sampler for the OTLP sidecar; such a run writes only the
 * `telemetry-sampled` section of RESULTS.md), BENCH_PIN=0 (no CPU pinning),
 * BENCH_PROFILE=1 (afterwards CPU-profile the proxies process during one c=32 run each of the bare
 * proxy, the sidecar, and, where present, the OTLP-exporting and the two Redis sidecars on the raw
 * upstream, and report where the extra time goes), BENCH_NO_WRITE=1 (do not touch RESULTS.md).
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../test/helpers/redis-server.js';
import type { CredentialSets, LoadRequest, LoadResult } from './load.js';
import type { OtlpSignal, OtlpSinkReady, OtlpStats } from './otlp-sink.js';
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
const REDIS = process.env.BENCH_REDIS !== '0';
const RL_MEMORY_OFF = REDIS && process.env.BENCH_RL_MEMORY_OFF === '1';
const TELEMETRY = process.env.BENCH_TELEMETRY !== '0';
const OTLP_METRIC_INTERVAL_MS = Math.round(num('BENCH_OTLP_METRIC_INTERVAL', 5_000, 100));
const SUBJECTS = Math.round(num('BENCH_SUBJECTS', 1000, 1));
const PROFILE = process.env.BENCH_PROFILE === '1';
/** A trace sampler for the OTLP sidecar (`OTEL_TRACES_SAMPLER` / `_ARG`); set, the run records `telemetry-sampled`. */
const OTLP_SAMPLER = process.env.BENCH_OTLP_TRACES_SAMPLER ?? '';
const OTLP_SAMPLER_ARG = process.env.BENCH_OTLP_TRACES_SAMPLER_ARG ?? '';
const samplerText = OTLP_SAMPLER
  ? `\`${OTLP_SAMPLER}\`${OTLP_SAMPLER_ARG ? ` with ratio ${OTLP_SAMPLER_ARG}` : ''}`
  : '`parentbased_always_on` (the default)';
const CONCURRENCY = [1, 32] as const;
const TARGET_RPS_RATIO = 0.8;
const TARGET_ADDED_P50_MS = 0.3;
const TARGET_TELEMETRY_COST = 0.1;

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

/**
 * The measured processes run the compiled JavaScript (`tsc -p tsconfig.bench.json`, which `npm run bench`
 * runs first), as the container does: under tsx every closure the request path creates would also pay
 * for esbuild's `keepNames` helper, a cost production never has.
 */
function start(script: string, args: string[], cpu: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const compiled = join(ROOT, 'dist', 'bench', script.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled))
    throw new Error(`${compiled} is missing: run \`npx tsc -p tsconfig.bench.json\` (npm run bench does)`);
  const node = [process.execPath, compiled, ...args];
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
  /** Which RESULTS.md table it belongs in (the proxy table by default). */
  readonly section?: 'ratelimit' | 'telemetry';
  /** Rate limiting on (sidecars); checked against the reply's `ratelimit` header in the preflight. */
  readonly rateLimited?: boolean;
  /** The store is Redis: the measurements sample Redis's command counters. */
  readonly redis?: boolean;
  /** Exports OTLP: the measurements sample the receiver's counters. */
  readonly otlp?: boolean;
}

/** One request through `t` with one credential; returns status, body and the rate-limit headers. */
async function once(
  t: Target,
  credential: string,
): Promise<{ status: number; body: string; rateLimitPolicy: string | null; rateLimit: string | null }> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { ...HEADERS, authorization: `Bearer ${credential}` },
    body: BODY,
  });
  return {
    status: res.status,
    body: await res.text(),
    rateLimitPolicy: res.headers.get('ratelimit-policy'),
    rateLimit: res.headers.get('ratelimit'),
  };
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

// Redis for the rate-limit comparison: on the servers' CPU, like the sidecars that use it.
let redis: { server: RedisServer; client: Redis; pid: number; version: string } | null = null;
if (REDIS) {
  const server = await startRedis();
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const info = await client.info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  if (canPin) spawnSync('taskset', ['-a', '-p', '-c', SERVER_CPU, String(pid)], { stdio: 'ignore' });
  redis = { server, client, pid, version };
  process.on('exit', () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  });
}

/** Redis's own counters: commands executed (all, and EVALSHA, the token bucket) and its CPU time (µs). */
async function redisCounters(): Promise<{ calls: number; evalsha: number; cpuUs: number }> {
  if (!redis) return { calls: 0, evalsha: 0, cpuUs: 0 };
  const [stats, cpuInfo] = [await redis.client.info('commandstats'), await redis.client.info('cpu')];
  let calls = 0;
  let evalsha = 0;
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = m[1] as string;
    const n = Number(m[2]);
    if (name === 'info') continue; // our own probes
    calls += n;
    if (name === 'evalsha') evalsha += n;
  }
  const sec = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpuInfo)?.[1] ?? 0);
  return { calls, evalsha, cpuUs: (sec('used_cpu_user') + sec('used_cpu_sys')) * 1e6 };
}

// The OTLP receiver for the telemetry comparison: its own process, on the load generator's CPU (a
// collector runs elsewhere; its work must not be charged to the sidecar's CPU).
let sinkChild: ChildProcess | null = null;
let otlpEndpoint: string | null = null;
if (TELEMETRY) {
  sinkChild = start('otlp-sink.ts', [], LOAD_CPU);
  children.push(sinkChild);
  otlpEndpoint = (await next<OtlpSinkReady>(sinkChild, 'ready')).endpoint;
}
async function sinkStats(): Promise<OtlpStats | null> {
  if (!sinkChild) return null;
  sinkChild.send({ type: 'stats' });
  return next<OtlpStats>(sinkChild, 'stats');
}

const proxiesConfig: ProxiesConfig = {
  raw: up.raw,
  sdk: up.sdk,
  issuer: up.issuer,
  jwksUri: up.jwksUri,
  bundle,
  audit: AUDIT,
  noRateLimit: RL_MEMORY_OFF,
  redisUrl: redis?.server.url ?? null,
  otlpEndpoint,
  otlpMetricIntervalMs: OTLP_METRIC_INTERVAL_MS,
  ...(OTLP_SAMPLER
    ? {
        otlpEnv: {
          OTEL_TRACES_SAMPLER: OTLP_SAMPLER,
          ...(OTLP_SAMPLER_ARG ? { OTEL_TRACES_SAMPLER_ARG: OTLP_SAMPLER_ARG } : {}),
        },
      }
    : {}),
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
  {
    upstream: 'raw',
    name: 'sidecar, JWT',
    kind: 'sidecar',
    url: `${px.sidecarRaw}/mcp`,
    credentials: 'jwt',
    rateLimited: true,
  },
  {
    upstream: 'raw',
    name: 'sidecar, API key',
    kind: 'sidecar',
    url: `${px.sidecarRaw}/mcp`,
    credentials: 'apikey',
    rateLimited: true,
  },
  ...(px.sidecarRawAudit
    ? [
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, audit on',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawAudit}/mcp`,
          credentials: 'jwt' as const,
          rateLimited: true,
        },
      ]
    : []),
  ...(px.sidecarRawNoRateLimit
    ? [
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, no rate limit',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawNoRateLimit}/mcp`,
          credentials: 'jwt' as const,
          rateLimited: false,
          section: 'ratelimit' as const,
        },
      ]
    : []),
  ...(px.sidecarRawRedis && px.sidecarRawRedisNoRateLimit
    ? [
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, Redis, rate limit',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawRedis}/mcp`,
          credentials: 'jwt' as const,
          rateLimited: true,
          redis: true,
          section: 'ratelimit' as const,
        },
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, Redis, no rate limit',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawRedisNoRateLimit}/mcp`,
          credentials: 'jwt' as const,
          rateLimited: false,
          redis: true,
          section: 'ratelimit' as const,
        },
      ]
    : []),
  ...(px.sidecarRawOtlp
    ? [
        {
          upstream: 'raw' as const,
          name: 'sidecar, JWT, OTLP export',
          kind: 'sidecar' as const,
          url: `${px.sidecarRawOtlp}/mcp`,
          credentials: 'jwt' as const,
          rateLimited: true,
          otlp: true,
          section: 'telemetry' as const,
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
const check = (t: Target, r: Awaited<ReturnType<typeof once>>) => {
  if (r.status !== 200 || r.body !== expected[t.upstream]) {
    throw new Error(
      `preflight: ${t.upstream} / ${t.name} answered ${r.status} ${r.body.slice(0, 300)}; expected 200 ${expected[t.upstream].slice(0, 120)}`,
    );
  }
  if (t.rateLimited !== undefined && t.rateLimited !== (r.rateLimit !== null)) {
    throw new Error(
      `preflight: ${t.name} should ${t.rateLimited ? '' : 'not '}rate-limit, but its reply has ${r.rateLimit === null ? 'no' : 'a'} RateLimit header`,
    );
  }
};
/** The rate-limited sidecars' bucket, as their replies state it (`ratelimit-policy`). */
let rateLimitPolicy: string | null = null;
for (const t of targets) {
  for (let i = 0; i < 3; i++) {
    const r = await once(t, credentials[t.credentials][i] as string);
    if (t.kind === 'direct' && i === 0) expected[t.upstream] = r.body;
    check(t, r);
    if (t.rateLimited) rateLimitPolicy ??= r.rateLimitPolicy;
  }
}
// The warming is thousands of first-time ES256 verifications: let the servers use both CPUs meanwhile
// (nothing is measured yet), and pin them back before measuring.
const pinServers = (cpuList: string) => {
  if (!canPin) return;
  for (const pid of [upstreamsChild.pid, proxiesChild.pid])
    if (pid) spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
};
pinServers(`${LOAD_CPU},${SERVER_CPU}`);
await Promise.all(
  targets
    .filter((x) => x.kind === 'sidecar')
    .map(async (t) => {
      const list = credentials[t.credentials];
      let i = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (i < list.length) check(t, await once(t, list[i++] as string));
        }),
      );
    }),
);
pinServers(SERVER_CPU);
if (expected.raw !== RAW_CALL_REPLY) throw new Error(`raw upstream answered ${expected.raw}`);
console.log(
  `request: ${Buffer.byteLength(BODY)}-byte tools/call, ES256 tokens of ${up.tokens[0]?.length} bytes for ${SUBJECTS} subjects; replies: raw ` +
    `${Buffer.byteLength(expected.raw)} bytes, SDK ${Buffer.byteLength(expected.sdk)} bytes; every target preflighted OK ` +
    `(${((Date.now() - tStart) / 1000).toFixed(0)} s after the start)`,
);

// ---------------------------------------------------------------------------------------------------
// Measure
// ---------------------------------------------------------------------------------------------------

interface Sample extends LoadResult {
  /** CPU µs per request in the proxies process (0 for direct) and in the upstreams process. */
  readonly proxyCpuUs: number;
  readonly upstreamCpuUs: number;
  /** Redis targets: commands, EVALSHAs (token buckets) and Redis CPU µs, per request. */
  readonly redis?: { readonly calls: number; readonly evalsha: number; readonly cpuUs: number };
  /** OTLP targets: what the receiver got during the measurement, per request, and its CPU µs per request. */
  readonly otlp?: {
    readonly bytes: number;
    readonly spans: number;
    readonly serverSpans: number;
    readonly logs: number;
    readonly exports: number;
    readonly sinkCpuUs: number;
  };
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
  const r = await next<LoadResult>(loadChild, 'result');
  answered.set(t.url, (answered.get(t.url) ?? 0) + r.requests);
  return r;
}
/** Requests answered per sidecar URL over the whole run (preflight included), for the OTLP totals. */
const answered = new Map<string, number>();
for (const t of targets) answered.set(t.url, (answered.get(t.url) ?? 0) + 3);
for (const t of targets.filter((x) => x.kind === 'sidecar'))
  answered.set(t.url, (answered.get(t.url) ?? 0) + credentials[t.credentials].length);

const runCpu0 = machineCpu();
const ownCpu = async () =>
  (await cpu(proxiesChild)) +
  (await cpu(upstreamsChild)) +
  (await cpu(loadChild)) +
  (sinkChild ? await cpu(sinkChild) : 0) +
  (await redisCounters()).cpuUs +
  process.cpuUsage().user +
  process.cpuUsage().system;
const ownCpu0 = await ownCpu();

let failures = 0;
/** Measured phases of the Redis rate-limited sidecar where Redis ran fewer EVALSHAs than requests. */
let redisMisses = 0;
function countBad(r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.mismatches;
}

const signalSum = (a: OtlpStats | null, b: OtlpStats | null, f: (s: OtlpStats, k: OtlpSignal) => number) =>
  a && b ? (['traces', 'metrics', 'logs'] as const).reduce((acc, k) => acc + f(b, k) - f(a, k), 0) : 0;

async function measure(t: Target, connections: number, durationS: number, warmupS: number): Promise<Sample> {
  if (warmupS > 0) failures += countBad(await phase(t, connections, warmupS));
  const r0 = t.redis ? await redisCounters() : null;
  const o0 = t.otlp ? await sinkStats() : null;
  const s0 = t.otlp && sinkChild ? await cpu(sinkChild) : 0;
  const [p0, u0] = [await cpu(proxiesChild), await cpu(upstreamsChild)];
  const r = await phase(t, connections, durationS);
  const [p1, u1] = [await cpu(proxiesChild), await cpu(upstreamsChild)];
  const r1 = t.redis ? await redisCounters() : null;
  const o1 = t.otlp ? await sinkStats() : null;
  const s1 = t.otlp && sinkChild ? await cpu(sinkChild) : 0;
  failures += countBad(r);
  const n = r.requests;
  const redisUse =
    r0 && r1
      ? {
          calls: (r1.calls - r0.calls) / n,
          evalsha: (r1.evalsha - r0.evalsha) / n,
          cpuUs: (r1.cpuUs - r0.cpuUs) / n,
        }
      : undefined;
  if (redisUse && t.rateLimited && redisUse.evalsha < 0.99) redisMisses++;
  const per = (k: OtlpSignal, f: 'bytes' | 'records' | 'serverSpans' | 'requests') =>
    o0 && o1 ? (o1.signals[k][f] - o0.signals[k][f]) / n : 0;
  return {
    ...r,
    proxyCpuUs: t.kind === 'direct' ? 0 : (p1 - p0) / n,
    upstreamCpuUs: (u1 - u0) / n,
    ...(redisUse ? { redis: redisUse } : {}),
    ...(o0 && o1
      ? {
          otlp: {
            bytes: signalSum(o0, o1, (x, k) => x.signals[k].bytes) / n,
            spans: per('traces', 'records'),
            serverSpans: per('traces', 'serverSpans'),
            logs: per('logs', 'records'),
            exports: signalSum(o0, o1, (x, k) => x.signals[k].requests),
            sinkCpuUs: (s1 - s0) / n,
          },
        }
      : {}),
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
  readonly samples: Sample[];
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
    samples,
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
          `${upstream} c=${String(c).padEnd(2)} round ${round + 1}/${rounds} ${t.name.padEnd(34)} ` +
            `${fmtRps(s.rps).padStart(7)} req/s  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)} ms  ` +
            `CPU/req proxy ${s.proxyCpuUs.toFixed(0)} µs upstream ${s.upstreamCpuUs.toFixed(0)} µs  n=${s.requests}` +
            (s.redis
              ? `  Redis/req: ${s.redis.calls.toFixed(2)} cmds, ${s.redis.evalsha.toFixed(2)} EVALSHA, ${s.redis.cpuUs.toFixed(0)} µs CPU`
              : '') +
            (s.otlp
              ? `  OTLP/req: ${s.otlp.bytes.toFixed(0)} B, ${s.otlp.spans.toFixed(2)} spans (${s.otlp.serverSpans.toFixed(2)} server), ${s.otlp.logs.toFixed(2)} logs; ${s.otlp.exports} exports`
              : '') +
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
const tableRow = (t: Target): string => {
  const r1 = get(t.upstream, t.name, 1);
  const r32 = get(t.upstream, t.name, 32);
  const d1 = get(t.upstream, 'direct', 1);
  const bare32 = get(t.upstream, 'bare proxy', 32);
  const direct = t.kind === 'direct';
  return (
    `| ${t.upstream === 'raw' ? 'raw `node:http`' : 'MCP SDK example'} | ${t.name} | ${fmtRps(r1.rps)} | ` +
    `${ms(r1.p50Ms)} / ${ms(r1.p99Ms)} | ${direct ? '—' : `${plus(r1.p50Ms - d1.p50Ms)} / ${plus(r1.p99Ms - d1.p99Ms)}`} | ` +
    `${fmtRps(r32.rps)}${spread(r32)} | ${ms(r32.p50Ms)} / ${ms(r32.p99Ms)} | ${direct ? '—' : (r32.rps / bare32.rps).toFixed(2)} | ` +
    `${direct ? '—' : r32.proxyCpuUs.toFixed(0)} / ${r32.upstreamCpuUs.toFixed(0)} | ${r1.bad + r32.bad} |`
  );
};
for (const t of targets.filter((x) => !x.section)) rows.push(tableRow(t));

const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const targetRows: string[] = [
  '| sidecar (raw upstream) | c=32 throughput vs bare proxy (goal ≥ 0.80×) | c=1 added p50 vs direct (goal ≤ 0.300 ms) |',
  '|---|---|---|',
];
const rawDirect1 = get('raw', 'direct', 1);
const rawBare1 = get('raw', 'bare proxy', 1);
const rawBare32 = get('raw', 'bare proxy', 32);
let missed = 0;
for (const t of targets.filter((x) => x.upstream === 'raw' && x.kind === 'sidecar' && !x.section)) {
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
  'BENCH_SUBJECTS',
  'BENCH_AUDIT',
  'BENCH_REDIS',
  'BENCH_RL_MEMORY_OFF',
  'BENCH_TELEMETRY',
  'BENCH_OTLP_METRIC_INTERVAL',
  'BENCH_OTLP_TRACES_SAMPLER',
  'BENCH_OTLP_TRACES_SAMPLER_ARG',
  'BENCH_PIN',
  'BENCH_PROFILE',
]
  .map((k) => [k, process.env[k]] as const)
  .filter(([, v]) => v !== undefined && v !== '');
const command = `${envUsed.map(([k, v]) => `${k}=${v} `).join('')}npm run bench`;

interface Profiled {
  readonly s: ProfileSummary;
  readonly n: number;
  readonly profile: CpuProfile;
  readonly text: string;
}
const profiles = new Map<string, Profiled>();
if (PROFILE) {
  // Profile the proxies process with the upstreams (and Redis) moved to the load generator's CPU, so the
  // proxy has a CPU of its own: V8's sampler charges wall time, and time spent descheduled while the
  // upstream runs on the same CPU would otherwise land on whatever syscall was on the stack.
  const repin = (cpuList: string) => {
    if (!canPin) return;
    for (const pid of [upstreamsChild.pid, redis?.pid])
      if (pid) spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  };
  const dir = join(ROOT, 'bench', '.tmp');
  mkdirSync(dir, { recursive: true });
  repin(LOAD_CPU);
  const names = [
    'bare proxy',
    'sidecar, JWT',
    'sidecar, JWT, OTLP export',
    'sidecar, JWT, Redis, rate limit',
    'sidecar, JWT, Redis, no rate limit',
  ];
  for (const name of names) {
    const t = targets.find((x) => x.upstream === 'raw' && x.name === name);
    if (!t) continue;
    const file = join(dir, `${name.replace(/[^a-z]+/gi, '-')}-c32-${Date.now()}.cpuprofile`);
    await phase(t, 32, 1);
    const c0 = await cpu(proxiesChild);
    proxiesChild.send({ type: 'profile-start', intervalUs: 100 });
    await next(proxiesChild, 'profile-started');
    const r = await phase(t, 32, Math.max(DURATION, 5));
    proxiesChild.send({ type: 'profile-stop', file });
    await next(proxiesChild, 'profile-stopped');
    const c1 = await cpu(proxiesChild);
    failures += countBad(r);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const summary = summarize(profile, HOT_PATH);
    const text =
      `### ${name} (raw upstream, c=32): ${r.requests} requests, ${fmtRps(r.rps)} req/s under the profiler, ` +
      `process CPU ${((c1 - c0) / r.requests).toFixed(0)} µs/request (profiler included)\n` +
      formatSummary(summary, r.requests, name === 'bare proxy' ? 15 : 30);
    profiles.set(name, { s: summary, n: r.requests, profile, text });
    console.log(`\nCPU profile of the proxies process, ${name} (${file}):\n${text}`);
  }
  repin(SERVER_CPU);
}
/** `other − base` from the profiles, with the callers of `helpers` in `other`; '' without profiles. */
function profileDiff(baseName: string, otherName: string, title: string, helpers: RegExp[] = []): string {
  const base = profiles.get(baseName);
  const other = profiles.get(otherName);
  if (!base || !other) return '';
  const parts = [`### ${title}\n${formatDiff(base.s, base.n, other.s, other.n, 30)}`];
  if (helpers.length)
    parts.push(
      `### ${otherName}: callers of hot helpers\n${helpers
        .map(
          (re) =>
            `${re.source.replace(/[\^$]/g, '')} (inclusive), by caller:\n${formatCallers(other.profile, re, other.n)}`,
        )
        .join('\n')}`,
    );
  const text = parts.join('\n\n');
  console.log(`\n${text}`);
  return text;
}
const profileIntro = `CPU profiles of the proxies process during one extra c=32 run each on the raw upstream, with the
upstreams${redis ? ' and Redis' : ''} moved to the load generator's CPU so the proxy has a CPU to itself (V8 sampling profiler,
100 µs; µs per request):`;
const proxyProfile = [
  profiles.get('bare proxy')?.text,
  profiles.get('sidecar, JWT')?.text,
  profileDiff('bare proxy', 'sidecar, JWT', 'sidecar − bare proxy', [
    /^DOMException$/,
    /^createAbortSignal$/,
    /^hashAttributes$/,
    /^evaluate$/,
  ]),
]
  .filter(Boolean)
  .join('\n\n');
const profileText = proxyProfile;
const fence = (t: string) => (t ? `\n\n${profileIntro}\n\n\`\`\`\n${t}\n\`\`\`` : '');

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
proxies (bare proxies and sidecars) in another${canPin ? `, both pinned to CPU ${SERVER_CPU}` : ' (no CPU pinning)'}, all three
running the compiled JavaScript (\`tsconfig.bench.json\`) as the container image does.
Raw upstream: ${ROUNDS} interleaved round(s) per concurrency (every target once per round), each a warm-up
(${WARMUP} s in the first round, ${Math.min(WARMUP, 0.5)} s later) then ${DURATION} s measured; the table shows the median round. SDK upstream: one round of ${WARMUP} s + ${SDK_DURATION} s.
Latency is per response with microsecond resolution; "added" = target − direct at the same concurrency.
CPU µs/req is the server processes' \`process.cpuUsage()\` over the measured interval divided by the
requests answered (proxy column: the proxies process; upstream column: the upstreams process).
Bare proxy: \`bench/bare-proxy.ts\` (\`node:http\` + undici Pool, 64 keep-alive connections, body read then
forwarded, reply streamed back, no checks). Sidecar: \`createSidecar\` with JWT via the dev issuer's JWKS
(verified tokens cached), the compiled default policy (\`build/policy/bundle\`), in-memory store, upstream
pool of 64, everything else at its defaults (rate limiting and abuse rules on, decision cache on — every
request of a subject after its first in a minute is a cache hit, as repeated calls are in a real pod — no OTLP endpoint), log
level \`warn\`: **audit lines off** (they are \`info\`; with nothing to consume them, no audit records are built)${AUDIT ? '; the "audit on" row is a second sidecar at level `info` writing its audit lines to /dev/null (pino, async)' : ''}.
On these VMs a wake-up across vCPUs is slow and noisy, which inflates the c=1 latencies (p99 above all)
of every target; compare ratios and "added" columns within one run, not absolute numbers across runs.
The same run measures the sidecar variants of the \`ratelimit\` and \`telemetry\` sections, in the same
rounds; all sidecars live in the proxies process, idle while another target is measured.
${machineNote}${profileText ? `\n\n${profileIntro}\n\n\`\`\`\n${profileText}\n\`\`\`` : ''}`;

// --- Rate limiting (issue 5) -------------------------------------------------------------------------

const byName = (name: string) => targets.find((x) => x.upstream === 'raw' && x.name === name);
const RL = {
  memOn: byName('sidecar, JWT'),
  memOff: byName('sidecar, JWT, no rate limit'),
  redisOn: byName('sidecar, JWT, Redis, rate limit'),
  redisOff: byName('sidecar, JWT, Redis, no rate limit'),
};
const medianOf = (a: Aggregate, f: (s: Sample) => number | undefined) =>
  median(a.samples.map(f).filter((v): v is number => v !== undefined));
let ratelimitBody = '';
/** Per-round `f(on) − f(off)` (the rounds are interleaved, so each pair saw the same machine). */
const paired = (on: Aggregate, off: Aggregate, f: (s: Sample) => number) =>
  on.samples.map((x, k) => f(x) - f(off.samples[k] as Sample));
const roundsOf = (xs: number[], fmt: (v: number) => string) =>
  xs.length > 1 ? ` (rounds: ${xs.map(fmt).join(', ')})` : '';
if (RL.memOn && RL.redisOn && RL.redisOff) {
  const policy = /q=(\d+(?:\.\d+)?);w=(\d+(?:\.\d+)?)/.exec(rateLimitPolicy ?? '');
  const capacity = Number(policy?.[1] ?? Number.NaN);
  const refill = capacity / Number(policy?.[2] ?? Number.NaN);
  const peakRps = Math.max(
    ...[RL.memOn, RL.redisOn].flatMap((t) =>
      CONCURRENCY.map((c) => Math.max(...get('raw', t.name, c).rpsRounds)),
    ),
  );
  const tRows = [
    '| store | rate limiting | c=1 req/s | c=1 p50 / p99 ms | c=32 req/s (rounds: min–max) | c=32 p50 / p99 ms | CPU µs/req at c=32: proxy | Redis per request at c=32: commands / EVALSHA / CPU µs | bad responses |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const variants: Array<readonly [string, boolean, Target]> = [
    ['Redis', true, RL.redisOn],
    ['Redis', false, RL.redisOff],
    ['in-memory', true, RL.memOn],
    ...(RL.memOff ? [['in-memory', false, RL.memOff] as const] : []),
  ];
  for (const [store, on, t] of variants) {
    const r1 = get('raw', t.name, 1);
    const r32 = get('raw', t.name, 32);
    const rd = t.redis
      ? `${medianOf(r32, (x) => x.redis?.calls).toFixed(2)} / ${medianOf(r32, (x) => x.redis?.evalsha).toFixed(2)} / ${medianOf(r32, (x) => x.redis?.cpuUs).toFixed(1)}`
      : '—';
    tRows.push(
      `| ${store} | ${on ? '**on**' : 'off'} | ${fmtRps(r1.rps)} | ${ms(r1.p50Ms)} / ${ms(r1.p99Ms)} | ${fmtRps(r32.rps)}${spread(r32)} | ` +
        `${ms(r32.p50Ms)} / ${ms(r32.p99Ms)} | ${r32.proxyCpuUs.toFixed(0)} | ${rd} | ${r1.bad + r32.bad} |`,
    );
  }
  const costRows = [
    '| comparison | rate-limit checks/s at c=32 (c=1) | added p50 / p99 at c=1, ms (paired rounds) | added p50 / p99 at c=32, ms | c=32 throughput (per round) | added proxy CPU µs/check at c=32 | added Redis CPU µs/check |',
    '|---|---|---|---|---|---|---|',
  ];
  const comparisons: Array<readonly [string, Target, Target]> = [
    ['**Redis rate limiting on vs off** (same Redis sidecar)', RL.redisOn, RL.redisOff],
    ['Redis buckets vs in-memory buckets (both rate-limiting)', RL.redisOn, RL.memOn],
    ...(RL.memOff ? [['in-memory rate limiting on vs off', RL.memOn, RL.memOff] as const] : []),
  ];
  for (const [label, on, off] of comparisons) {
    const [on1, on32, off1, off32] = [
      get('raw', on.name, 1),
      get('raw', on.name, 32),
      get('raw', off.name, 1),
      get('raw', off.name, 32),
    ];
    const redisCpu =
      on.redis || off.redis
        ? (medianOf(on32, (x) => x.redis?.cpuUs ?? 0) - medianOf(off32, (x) => x.redis?.cpuUs ?? 0)).toFixed(
            1,
          )
        : '—';
    costRows.push(
      `| ${label} | ${fmtRps(on32.rps)} (${fmtRps(on1.rps)}) | ${plus(on1.p50Ms - off1.p50Ms)} / ${plus(on1.p99Ms - off1.p99Ms)}` +
        `${roundsOf(
          paired(on1, off1, (x) => x.p50Ms),
          plus,
        )} | ` +
        `${plus(on32.p50Ms - off32.p50Ms)} / ${plus(on32.p99Ms - off32.p99Ms)} | ${(on32.rps / off32.rps).toFixed(2)}×` +
        `${roundsOf(
          on32.rpsRounds.map((v, k) => v / (off32.rpsRounds[k] as number)),
          (v) => v.toFixed(2),
        )} | ` +
        `${plus(on32.proxyCpuUs - off32.proxyCpuUs).replace(/\.\d+$/, '')} | ${redisCpu} |`,
    );
  }
  ratelimitBody = `The JWT sidecar of the \`proxy\` section (same requests, same ${SUBJECTS} subjects, same validation: every reply
HTTP 200 with exactly the upstream's body) with its store in Redis (\`store.redisUrl\`; Redis ${redis?.version} started by the
benchmark on a free loopback port with \`--save '' --appendonly no\`${canPin ? `, pinned to CPU ${SERVER_CPU} with the sidecars, so its CPU competes with theirs` : ''}),
rate limiting on (the default) and off (\`ratelimit.enabled: false\`), next to the default in-memory sidecar of the proxy
table${RL.memOff ? ' and the in-memory one without rate limiting' : ''}; measured in the same run and the same interleaved rounds as the proxy table. Everything
else is the default config (\`failureMode: local\`, scope \`subject_tool\`, fast path on); the two Redis sidecars use
separate key prefixes. A rate-limit check is one token-bucket \`take\` per request: with Redis one EVALSHA, one round trip.
"Rate-limit checks/s" is the rate-limited sidecar's requests/s; "added" = first − second of the comparison.

${tRows.join('\n')}

${costRows.join('\n')}

Checks: Redis's own \`INFO commandstats\` ran ${medianOf(get('raw', RL.redisOn.name, 32), (x) => x.redis?.evalsha).toFixed(2)} EVALSHA per request of the rate-limited Redis
sidecar (median round at c=32; every measured phase had to show ≥ 0.99, else the limiter would have fallen back to
in-process buckets and the run would be invalid) and ${medianOf(get('raw', RL.redisOff.name, 32), (x) => x.redis?.calls).toFixed(3)} commands per request of the one without
rate limiting (commands count those run inside Lua scripts: the token bucket's, and the abuse rules'
sliding windows, which every sidecar flushes once a second as one script). Buckets never ran empty: the replies' bucket is
\`${rateLimitPolicy}\` (capacity ${capacity}, ${refill.toFixed(1)} tokens/s, the default policy's obligation for role \`user\`), the
credentials rotate over ${SUBJECTS} subjects, so even the fastest round (${fmtRps(peakRps)} req/s) asks ${(peakRps / SUBJECTS).toFixed(2)} tokens/s of each
bucket, below its refill; a 429 would count as a bad response and invalidate the run (there were none).
CPU µs/req is the proxies process's; Redis CPU is Redis's \`used_cpu_user + used_cpu_sys\` over the same interval.`;
  const rlProfile = profileDiff(
    'sidecar, JWT, Redis, no rate limit',
    'sidecar, JWT, Redis, rate limit',
    'Redis sidecar: rate limiting on − off',
  );
  ratelimitBody += fence(rlProfile);
  console.log(`\n${tRows.join('\n')}\n\n${costRows.join('\n')}`);
}

// --- Telemetry (issue 6) ---------------------------------------------------------------------------

const TEL = {
  off: byName('sidecar, JWT'),
  otlp: byName('sidecar, JWT, OTLP export'),
  audit: byName('sidecar, JWT, audit on'),
};
let telemetryBody = '';
let telemetryMissed = false;
if (TEL.off && TEL.otlp) {
  const finalSink = await sinkStats();
  const tel = [TEL.off, ...(TEL.audit ? [TEL.audit] : []), TEL.otlp];
  const tRows = [
    '| sidecar (raw upstream) | c=1 req/s | c=1 p50 / p99 ms | c=1 added p50 vs off, ms (paired rounds) | c=32 req/s (rounds: min–max) | c=32 p50 / p99 ms | c=32 throughput vs off (per round) | cost | CPU µs/req at c=32: proxy | bad responses |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const off1 = get('raw', TEL.off.name, 1);
  const off32 = get('raw', TEL.off.name, 32);
  let otlpCost = Number.NaN;
  for (const t of tel) {
    const r1 = get('raw', t.name, 1);
    const r32 = get('raw', t.name, 32);
    const base = t === TEL.off;
    const ratio = r32.rps / off32.rps;
    const perRound = r32.rpsRounds.map((v, k) => (v / (off32.rpsRounds[k] as number)).toFixed(2)).join(', ');
    if (t === TEL.otlp) otlpCost = 1 - ratio;
    const label = base
      ? 'telemetry off (no OTLP endpoint)'
      : t === TEL.otlp
        ? '**OTLP export on** (traces + metrics + logs)'
        : 'audit lines on (pino → /dev/null), no OTLP';
    tRows.push(
      `| ${label} | ${fmtRps(r1.rps)} | ${ms(r1.p50Ms)} / ${ms(r1.p99Ms)} | ${
        base
          ? '—'
          : `${plus(r1.p50Ms - off1.p50Ms)}${roundsOf(
              paired(r1, off1, (x) => x.p50Ms),
              plus,
            )}`
      } | ${fmtRps(r32.rps)}${spread(r32)} | ` +
        `${ms(r32.p50Ms)} / ${ms(r32.p99Ms)} | ${base ? '—' : `${ratio.toFixed(2)}× (${perRound})`} | ${base ? '—' : `${(100 * (1 - ratio)).toFixed(0)} %`} | ` +
        `${r32.proxyCpuUs.toFixed(0)}${base ? '' : ` (${plus(r32.proxyCpuUs - off32.proxyCpuUs).replace(/\.\d+$/, '')})`} | ${r1.bad + r32.bad} |`,
    );
  }
  telemetryMissed = !(otlpCost <= TARGET_TELEMETRY_COST);
  const o32 = get('raw', TEL.otlp.name, 32);
  const o = (f: (x: NonNullable<Sample['otlp']>) => number) =>
    medianOf(o32, (x) => (x.otlp ? f(x.otlp) : undefined));
  const sent = answered.get(TEL.otlp.url) ?? 0;
  const tr = finalSink?.signals.traces;
  const lg = finalSink?.signals.logs;
  const mt = finalSink?.signals.metrics;
  telemetryBody = `The JWT sidecar of the \`proxy\` section with OpenTelemetry export on — \`OTEL_EXPORTER_OTLP_ENDPOINT\` in the env
given to \`createSidecar\`, so traces (server span + stage spans, W3C context to the upstream), metrics (OTLP push every
${OTLP_METRIC_INTERVAL_MS / 1000} s via \`OTEL_METRIC_EXPORT_INTERVAL\`, besides the Prometheus reader every sidecar has) and logs (one audit
record per decision) go over OTLP/HTTP JSON, SDK defaults otherwise (trace sampler ${samplerText}, batch
processors: spans every 5 s or 512, logs every 1 s or 512, queues of 2048) — against the same sidecar without an endpoint, measured
in the same run and the same interleaved rounds (same requests and validation). The receiver
(\`bench/otlp-sink.ts\`) is a \`node:http\` server in its own process${canPin ? ` pinned to CPU ${LOAD_CPU} (the load generator's; a collector runs elsewhere)` : ''}: it answers
200 to POST /v1/traces|metrics|logs and counts bytes, spans and log records without decoding.

${tRows.join('\n')}

**Target** (telemetry ≤ ${100 * TARGET_TELEMETRY_COST} % of throughput at c=32): ${(100 * otlpCost).toFixed(0)} % — **${otlpCost <= TARGET_TELEMETRY_COST ? 'met' : 'MISSED'}**.

Exported per request (median round at c=32): ${o((x) => x.bytes).toFixed(0)} bytes of OTLP JSON, ${o((x) => x.spans).toFixed(2)} spans
(${o((x) => x.serverSpans).toFixed(2)} server spans), ${o((x) => x.logs).toFixed(2)} audit log records; the receiver used ${o((x) => x.sinkCpuUs).toFixed(0)} µs CPU per request.
Over the whole run (preflight, warm-ups, measurements) the load generator counted ${sent} answers from the OTLP sidecar
(requests cut off at the end of a phase come on top) and the receiver got
${tr?.serverSpans ?? 0} server spans (${tr?.records ?? 0} spans in ${tr?.requests ?? 0} exports, ${((tr?.bytes ?? 0) / 1e6).toFixed(1)} MB), ${lg?.records ?? 0} log records
(${lg?.requests ?? 0} exports, ${((lg?.bytes ?? 0) / 1e6).toFixed(1)} MB) and ${mt?.requests ?? 0} metric exports (${((mt?.bytes ?? 0) / 1e6).toFixed(2)} MB)${
    OTLP_SAMPLER
      ? `: ${(100 * ((tr?.serverSpans ?? 0) / Math.max(1, sent))).toFixed(1)} % of the requests were traced (the sampler's choice) and every one was audited`
      : (tr?.serverSpans ?? 0) < 0.95 * sent
        ? ` — **${(100 * (1 - (tr?.serverSpans ?? 0) / sent)).toFixed(0)} % of the traces never arrived** (the span batch processor drops spans when its queue of 2048 is full, so the measured cost is that of exporting only what arrived)`
        : ': every request was traced and exported, none dropped'
  }.`;
  telemetryBody += fence(
    profileDiff('sidecar, JWT', 'sidecar, JWT, OTLP export', 'OTLP export on − telemetry off', [
      /^startSpan$/,
      /^onEnd$/,
      /^emitOtel$/,
    ]),
  );
  console.log(
    `\n${tRows.join('\n')}\nOTLP cost ${(100 * otlpCost).toFixed(1)} % (target ≤ ${100 * TARGET_TELEMETRY_COST} %)`,
  );
}

console.log(`\n${rows.join('\n')}\n\n${targetRows.join('\n')}`);
if (machineNote) console.log(machineNote);
if (abuseAlerts) console.log(`(${abuseAlerts} abuse-rule alert lines from the sidecars)`);
if (abortedAtPhaseEnd)
  console.log(
    `(${abortedAtPhaseEnd} sidecar warnings for requests in flight when the load generator closed its sockets at the end of a phase: expected, not counted as errors)`,
  );
if (redisMisses > 0)
  console.error(
    `${redisMisses} measured phase(s) of the Redis rate-limited sidecar ran fewer EVALSHAs than requests: the limiter did not use Redis`,
  );
if (failures > 0 || redisMisses > 0) {
  console.error(
    `${failures} bad responses (non-2xx, errors, timeouts or mismatched bodies): results are not valid, RESULTS.md not written`,
  );
  process.exitCode = 1;
} else if (process.env.BENCH_NO_WRITE !== '1' && OTLP_SAMPLER) {
  // A sampled run answers one question (what telemetry costs with that sampler); the other sections stay.
  if (telemetryBody) {
    writeSection(
      'telemetry-sampled',
      `Telemetry with trace sampling (${OTLP_SAMPLER}${OTLP_SAMPLER_ARG ? ` ${OTLP_SAMPLER_ARG}` : ''})`,
      command,
      telemetryBody,
    );
    console.log('\nwrote the `telemetry-sampled` section of bench/RESULTS.md');
  }
} else if (process.env.BENCH_NO_WRITE !== '1') {
  writeSection('proxy', 'Proxy overhead: direct vs bare proxy vs sidecar', command, body);
  const written = ['proxy'];
  if (ratelimitBody) {
    writeSection(
      'ratelimit',
      'Rate limiting: Redis token buckets vs no rate limiting',
      command,
      ratelimitBody,
    );
    written.push('ratelimit');
  }
  if (telemetryBody) {
    writeSection('telemetry', 'Telemetry: OTLP export vs telemetry off', command, telemetryBody);
    written.push('telemetry');
  }
  console.log(`\nwrote the ${written.map((w) => `\`${w}\``).join(', ')} section(s) of bench/RESULTS.md`);
}
if (missed > 0) console.log(`${missed} proxy target(s) missed`);
if (telemetryMissed) console.log('telemetry target missed');
console.log(`total ${((Date.now() - tStart) / 1000).toFixed(0)} s`);

// The sidecars first: the OTLP one flushes to the receiver, the Redis ones close their connections.
const stopChild = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null) r();
    else {
      c.once('exit', () => r());
      c.send({ type: 'stop' });
    }
  });
await Promise.all([loadChild, proxiesChild, upstreamsChild].map(stopChild));
if (sinkChild) await stopChild(sinkChild);
if (redis) {
  redis.client.disconnect();
  await redis.server.stop();
}
