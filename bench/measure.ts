/**
 * The measurements of `npm run bench` (`run.ts`): one load phase through the load generator, one
 * measured sample (CPU time of the server processes, Redis's and the OTLP receiver's counters around the
 * phase), the interleaved rounds over every target and concurrency with a progress line per sample, and
 * the median-round aggregate the reports are built from. Bad responses and Redis-less rate-limit phases
 * are added to a tally the caller owns.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { fmtRps, ms } from './format.js';
import type { LoadRequest, LoadResult } from './load.js';
import type { OtlpSignal, OtlpStats } from './otlp-sink.js';
import { cpu, next, sinkStats } from './processes.js';
import { type BenchRedis, redisCounters } from './redis.js';
import { CONCURRENCY, DURATION, ROUNDS, SDK_DURATION, WARMUP } from './settings.js';
import {
  BODY,
  type Credentials,
  checks,
  type Expected,
  HEADERS,
  type Target,
  type UpstreamKind,
} from './targets.js';

/** The processes a measurement reads from and drives. */
export interface Rig {
  readonly upstreams: ChildProcess;
  readonly proxies: ChildProcess;
  readonly load: ChildProcess;
  readonly sink: ChildProcess | null;
  readonly redis: BenchRedis | null;
}

/** What the run counts across phases, to judge it at the end. */
export interface Tally {
  failures: number;
  /** Measured phases of the Redis rate-limited sidecar where Redis ran fewer EVALSHAs than requests. */
  redisMisses: number;
  /** Requests answered per sidecar URL over the whole run (preflight included), for the OTLP totals. */
  readonly answered: Map<string, number>;
}

/** What the phases drive and read (the processes), check against (the upstreams' bodies) and count into. */
export interface Harness {
  readonly rig: Rig;
  readonly expected: Expected;
  readonly tally: Tally;
}

export interface Sample extends LoadResult {
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

/** A tally with the preflight's requests (3 per target, every credential once per sidecar) answered. */
export function newTally(targets: readonly Target[], credentials: Credentials): Tally {
  const answered = new Map<string, number>();
  for (const t of targets) answered.set(t.url, (answered.get(t.url) ?? 0) + 3);
  for (const t of targets.filter(checks))
    answered.set(t.url, (answered.get(t.url) ?? 0) + credentials[t.credentials].length);
  return { failures: 0, redisMisses: 0, answered };
}

export function countBad(r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.mismatches;
}

export async function phase(
  { rig, expected, tally }: Harness,
  t: Target,
  connections: number,
  durationS: number,
): Promise<LoadResult> {
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
  rig.load.send(req);
  const r = await next<LoadResult>(rig.load, 'result');
  tally.answered.set(t.url, (tally.answered.get(t.url) ?? 0) + r.requests);
  return r;
}

const signalSum = (a: OtlpStats | null, b: OtlpStats | null, f: (s: OtlpStats, k: OtlpSignal) => number) =>
  a && b ? (['traces', 'metrics', 'logs'] as const).reduce((acc, k) => acc + f(b, k) - f(a, k), 0) : 0;

async function measure(
  h: Harness,
  t: Target,
  connections: number,
  durationS: number,
  warmupS: number,
): Promise<Sample> {
  const { rig, tally } = h;
  if (warmupS > 0) tally.failures += countBad(await phase(h, t, connections, warmupS));
  const r0 = t.redis ? await redisCounters(rig.redis) : null;
  const o0 = t.otlp ? await sinkStats(rig.sink) : null;
  const s0 = t.otlp && rig.sink ? await cpu(rig.sink) : 0;
  const [p0, u0] = [await cpu(rig.proxies), await cpu(rig.upstreams)];
  const r = await phase(h, t, connections, durationS);
  const [p1, u1] = [await cpu(rig.proxies), await cpu(rig.upstreams)];
  const r1 = t.redis ? await redisCounters(rig.redis) : null;
  const o1 = t.otlp ? await sinkStats(rig.sink) : null;
  const s1 = t.otlp && rig.sink ? await cpu(rig.sink) : 0;
  tally.failures += countBad(r);
  const n = r.requests;
  const redisUse =
    r0 && r1
      ? {
          calls: (r1.calls - r0.calls) / n,
          evalsha: (r1.evalsha - r0.evalsha) / n,
          cpuUs: (r1.cpuUs - r0.cpuUs) / n,
        }
      : undefined;
  if (redisUse && t.rateLimited && redisUse.evalsha < 0.99) tally.redisMisses++;
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

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/**
 * The median over rounds of `a`'s throughput divided by `b`'s in the same round. Targets are measured in
 * interleaved rounds, and this VM's speed drifts between rounds (every target's CPU per request can double
 * from one round to the next): the ratio of each target's median round would pair rounds measured at
 * different speeds, this pairs each round with itself.
 */
export function pairedRatio(a: Aggregate, b: Aggregate): number {
  if (a.rpsRounds.length === 0 || a.rpsRounds.length !== b.rpsRounds.length) return a.rps / b.rps;
  return median(a.rpsRounds.map((v, k) => v / (b.rpsRounds[k] as number)));
}

export interface Aggregate {
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

/** The aggregate of one measured target (upstream and name) at one concurrency. */
export type Lookup = (upstream: UpstreamKind, name: string, c: number) => Aggregate;

/** The median over an aggregate's rounds of what `f` gives (rounds it gives nothing for left out). */
export const medianOf = (a: Aggregate, f: (s: Sample) => number | undefined) =>
  median(a.samples.map(f).filter((v): v is number => v !== undefined));
/** Per-round `f(on) − f(off)` (the rounds are interleaved, so each pair saw the same machine). */
export const paired = (on: Aggregate, off: Aggregate, f: (s: Sample) => number) =>
  on.samples.map((x, k) => f(x) - f(off.samples[k] as Sample));

/** Called after each measurement (the telemetry floor runs a block after the telemetry-off sidecar's). */
export type AfterMeasure = (upstream: UpstreamKind, t: Target, c: number) => Promise<void>;

/** Every target at every concurrency, in interleaved rounds (one on the SDK upstream), printing each sample. */
export async function measureAll(
  h: Harness,
  targets: readonly Target[],
  after?: AfterMeasure,
): Promise<Lookup> {
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
          const s = await measure(h, t, c, durationS, round === 0 ? WARMUP : Math.min(WARMUP, 0.5));
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
          await after?.(upstream, t, c);
        }
      }
      for (const t of ts) results.set(keyOf(upstream, t.name, c), aggregate(samples.get(t) ?? []));
    }
  }
  return (upstream, name, c) => results.get(keyOf(upstream, name, c)) as Aggregate;
}
