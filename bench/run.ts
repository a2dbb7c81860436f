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
 * This file wires the pieces: `settings.ts` (the variables above), `processes.ts` (children, pinning,
 * IPC), `redis.ts`, `machine-load.ts`, `targets.ts` (request, targets, preflight), `measure.ts` (phases,
 * rounds, aggregates), `profiling.ts` (BENCH_PROFILE), and one `report-*.ts` per RESULTS.md section.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialSets } from './load.js';
import { backgroundLoad, cpuMark, machineLoadNote } from './machine-load.js';
import { type Harness, measureAll, newTally, type Rig } from './measure.js';
import type { OtlpSinkReady } from './otlp-sink.js';
import {
  canPin,
  childrenStoppedOnExit,
  imageNodeOptions,
  LOAD_CPU,
  next,
  SERVER_CPU,
  start,
  stopChild,
} from './processes.js';
import { type Profiles, profileProxies } from './profiling.js';
import { startBenchRedis, stopBenchRedis } from './redis.js';
import { proxySection } from './report-proxy.js';
import { ratelimitSection } from './report-ratelimit.js';
import { telemetrySection } from './report-telemetry.js';
import { writeSection } from './results.js';
import type { ProxiesConfig, ProxiesReady, UpstreamsReady } from './servers.js';
import {
  AUDIT,
  benchCommand,
  DURATION,
  OTLP_METRIC_INTERVAL_MS,
  OTLP_SAMPLER,
  OTLP_SAMPLER_ARG,
  PROFILE,
  REDIS,
  RL_MEMORY_OFF,
  ROOT,
  ROUNDS,
  SDK_DURATION,
  SUBJECTS,
  TELEMETRY,
  WARMUP,
} from './settings.js';
import { BODY, benchTargets, credentialSets, preflight } from './targets.js';
import { floorRunner } from './telemetry-floor-run.js';

const children = childrenStoppedOnExit();

// ---------------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------------

const bundle = join(ROOT, 'build', 'policy', 'bundle');
if (!existsSync(join(bundle, 'policy.wasm'))) {
  console.log('building the policy bundle (npm run policy:build) …');
  execFileSync('npm', ['run', 'policy:build'], { cwd: ROOT, stdio: 'inherit' });
}

const backgroundPct = await backgroundLoad();
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

const upstreamsChild = start(children, 'servers.ts', ['upstreams'], SERVER_CPU, {
  BENCH_SUBJECTS: String(SUBJECTS),
});
const up = await next<UpstreamsReady>(upstreamsChild, 'ready');

// Redis for the rate-limit comparison: on the servers' CPU, like the sidecars that use it.
const redis = REDIS ? await startBenchRedis() : null;

// The OTLP receiver for the telemetry comparison: its own process, on the load generator's CPU (a
// collector runs elsewhere; its work must not be charged to the sidecar's CPU).
const sinkChild = TELEMETRY ? start(children, 'otlp-sink.ts', [], LOAD_CPU) : null;
const otlpEndpoint = sinkChild ? (await next<OtlpSinkReady>(sinkChild, 'ready')).endpoint : null;

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
// The proxies run with the image's V8 flags (bare proxy and sidecars alike: they share the process), and so
// does the telemetry floor.
const nodeOptions = [process.env.NODE_OPTIONS, imageNodeOptions()].filter(Boolean).join(' ');
const proxiesChild = start(children, 'servers.ts', ['proxies'], SERVER_CPU, {
  BENCH_PROXIES_CONFIG: JSON.stringify(proxiesConfig),
  NODE_OPTIONS: nodeOptions,
});
const px = await next<ProxiesReady>(proxiesChild, 'ready');
const loadChild = start(children, 'load.ts', [], LOAD_CPU);
await next(loadChild, 'ready');
const credentials = credentialSets(up, px);
loadChild.send({ type: 'credentials', sets: credentials } satisfies CredentialSets);
await next(loadChild, 'credentials-set');

const targets = benchTargets(up, px);
const { expected, rateLimitPolicy } = await preflight(targets, credentials, [
  upstreamsChild.pid,
  proxiesChild.pid,
]);
console.log(
  `request: ${Buffer.byteLength(BODY)}-byte tools/call, ES256 tokens of ${up.tokens[0]?.length} bytes for ${SUBJECTS} subjects; replies: raw ` +
    `${Buffer.byteLength(expected.raw)} bytes, SDK ${Buffer.byteLength(expected.sdk)} bytes; every target preflighted OK ` +
    `(${((Date.now() - tStart) / 1000).toFixed(0)} s after the start)`,
);

// ---------------------------------------------------------------------------------------------------
// Measure
// ---------------------------------------------------------------------------------------------------

const rig: Rig = {
  upstreams: upstreamsChild,
  proxies: proxiesChild,
  load: loadChild,
  sink: sinkChild,
  redis,
};
const harness: Harness = { rig, expected, tally: newTally(targets, credentials) };
// The OpenTelemetry SDK's own cost for the same telemetry, in blocks paired with the telemetry-off rounds.
const otelEnv = { OTEL_METRIC_EXPORT_INTERVAL: String(OTLP_METRIC_INTERVAL_MS), ...proxiesConfig.otlpEnv };
const floor = floorRunner(children, sinkChild, otelEnv, nodeOptions);
const run0 = await cpuMark(rig);
const get = await measureAll(harness, targets, floor?.afterMeasure);
const run1 = await cpuMark(rig, await floor?.cpuUs());
const floorResult = (await floor?.result()) ?? null;
await floor?.stop();

// ---------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------

const machineNote = machineLoadNote(backgroundPct, run0, run1);
const command = benchCommand();
const profiles: Profiles = PROFILE ? await profileProxies(harness, targets) : new Map();
const withRedis = redis !== null;
const proxy = proxySection({
  targets,
  get,
  expected,
  tokenLength: up.tokens[0]?.length,
  machineNote,
  profiles,
  withRedis,
});
const ratelimitBody = ratelimitSection({
  targets,
  get,
  rateLimitPolicy,
  redisVersion: redis?.version,
  profiles,
  withRedis,
});
const telemetry = await telemetrySection({
  targets,
  get,
  sink: sinkChild,
  floor: floorResult,
  answered: harness.tally.answered,
  profiles,
  withRedis,
});

const { failures, redisMisses } = harness.tally;
console.log(`\n${proxy.tables}`);
if (machineNote) console.log(machineNote);
if (children.abuseAlerts) console.log(`(${children.abuseAlerts} abuse-rule alert lines from the sidecars)`);
if (children.abortedAtPhaseEnd)
  console.log(
    `(${children.abortedAtPhaseEnd} sidecar warnings for requests in flight when the load generator closed its sockets at the end of a phase: expected, not counted as errors)`,
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
  if (telemetry.body) {
    writeSection(
      'telemetry-sampled',
      `Telemetry with trace sampling (${OTLP_SAMPLER}${OTLP_SAMPLER_ARG ? ` ${OTLP_SAMPLER_ARG}` : ''})`,
      command,
      telemetry.body,
    );
    console.log('\nwrote the `telemetry-sampled` section of bench/RESULTS.md');
  }
} else if (process.env.BENCH_NO_WRITE !== '1') {
  writeSection('proxy', 'Proxy overhead: direct vs bare proxy vs sidecar', command, proxy.body);
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
  if (telemetry.body) {
    writeSection('telemetry', 'Telemetry: OTLP export vs telemetry off', command, telemetry.body);
    written.push('telemetry');
  }
  console.log(`\nwrote the ${written.map((w) => `\`${w}\``).join(', ')} section(s) of bench/RESULTS.md`);
}
if (proxy.missed > 0) console.log(`${proxy.missed} proxy target(s) missed`);
if (telemetry.missed) console.log('telemetry target missed');
console.log(`total ${((Date.now() - tStart) / 1000).toFixed(0)} s`);

// The sidecars first: the OTLP one flushes to the receiver, the Redis ones close their connections.
await Promise.all([loadChild, proxiesChild, upstreamsChild].map(stopChild));
if (sinkChild) await stopChild(sinkChild);
if (redis) await stopBenchRedis(redis);
