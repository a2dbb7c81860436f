/**
 * The `telemetry` (or, with a trace sampler, `telemetry-sampled`) section of RESULTS.md (issue 6) from one
 * `npm run bench` (`run.ts`): the JWT sidecar exporting traces, metrics and logs over OTLP/HTTP against the
 * same sidecar without an endpoint (and the audit-on one), the telemetry goal with its verdict, what was
 * exported per request and over the whole run (so dropped spans show) and, with BENCH_PROFILE=1, the
 * profile diff of the two.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { fmtRps, ms, plus, roundsOf, spread } from './format.js';
import { type Lookup, median, medianOf, paired, pairedRatio, type Sample } from './measure.js';
import { canPin, LOAD_CPU, sinkStats } from './processes.js';
import { fence, type Profiles, profileDiff } from './profiling.js';
import { OTLP_METRIC_INTERVAL_MS, OTLP_SAMPLER, samplerText, TARGET_TELEMETRY_COST } from './settings.js';
import { byName, type Target } from './targets.js';
import type { FloorOnNode, TelemetryFloor } from './telemetry-floor-run.js';

export interface TelemetryInputs {
  readonly targets: readonly Target[];
  readonly get: Lookup;
  /** The OTLP receiver, asked for its final counts. */
  readonly sink: ChildProcess | null;
  /** The OpenTelemetry SDK's own cost for the same telemetry (`telemetry-floor.ts`). */
  readonly floor: TelemetryFloor | null;
  /** Requests answered per sidecar URL over the whole run. */
  readonly answered: ReadonlyMap<string, number>;
  readonly profiles: Profiles;
  /** Redis ran (it was moved with the upstreams while profiling). */
  readonly withRedis: boolean;
}

export interface TelemetrySection {
  /** The section's text for RESULTS.md; '' when the run had no OTLP sidecar. */
  readonly body: string;
  /** The OTLP export cost more throughput than the goal allows. */
  readonly missed: boolean;
}

/** Builds the section and prints its table, cost (and profile diff). */
export async function telemetrySection({
  targets,
  get,
  sink,
  floor,
  answered,
  profiles,
  withRedis,
}: TelemetryInputs): Promise<TelemetrySection> {
  const TEL = {
    off: byName(targets, 'sidecar, JWT'),
    otlp: byName(targets, 'sidecar, JWT, OTLP export'),
    audit: byName(targets, 'sidecar, JWT, audit on'),
  };
  if (!(TEL.off && TEL.otlp)) return { body: '', missed: false };
  const finalSink = await sinkStats(sink);
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
    const ratio = pairedRatio(r32, off32);
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
  const missed = !(otlpCost <= TARGET_TELEMETRY_COST);
  const o32 = get('raw', TEL.otlp.name, 32);
  const o = (f: (x: NonNullable<Sample['otlp']>) => number) =>
    medianOf(o32, (x) => (x.otlp ? f(x.otlp) : undefined));
  const sent = answered.get(TEL.otlp.url) ?? 0;
  const tr = finalSink?.signals.traces;
  const lg = finalSink?.signals.logs;
  const mt = finalSink?.signals.metrics;
  let telemetryBody = `The JWT sidecar of the \`proxy\` section with OpenTelemetry export on — \`OTEL_EXPORTER_OTLP_ENDPOINT\` in the env
given to \`createSidecar\`, so traces (server span + stage spans, W3C context to the upstream), metrics (OTLP push every
${OTLP_METRIC_INTERVAL_MS / 1000} s via \`OTEL_METRIC_EXPORT_INTERVAL\`, besides the Prometheus reader every sidecar has) and logs (one audit
record per decision) go over OTLP/HTTP with protobuf bodies (the default), SDK defaults otherwise (trace sampler ${samplerText}, batch
processors: spans every 5 s or 512, logs every 1 s or 512, queues of 2048) — against the same sidecar without an endpoint, measured
in the same run and the same interleaved rounds (same requests and validation). The receiver
(\`bench/otlp-sink.ts\`) is a \`node:http\` server in its own process${canPin ? ` pinned to CPU ${LOAD_CPU} (the load generator's; a collector runs elsewhere)` : ''}: it answers
200 to POST /v1/traces|metrics|logs and counts bytes, spans and log records without decoding.

${tRows.join('\n')}

**Target** (telemetry ≤ ${100 * TARGET_TELEMETRY_COST} % of throughput at c=32): ${(100 * otlpCost).toFixed(0)} % — **${otlpCost <= TARGET_TELEMETRY_COST ? 'met' : 'MISSED'}**.

Exported per request (median round at c=32): ${o((x) => x.bytes).toFixed(0)} bytes of OTLP protobuf, ${o((x) => x.spans).toFixed(2)} spans
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
  const floorText = floor
    ? floorSection(
        floor,
        off32.samples.map((x) => ({ cpuUs: x.proxyCpuUs + x.upstreamCpuUs, rps: x.rps })),
      )
    : '';
  telemetryBody += floorText;
  telemetryBody += fence(
    profileDiff(profiles, 'sidecar, JWT', 'sidecar, JWT, OTLP export', 'OTLP export on − telemetry off', [
      /^startSpan$/,
      /^onEnd$/,
      /^emitOtel$/,
    ]),
    withRedis,
  );
  console.log(
    `\n${tRows.join('\n')}\nOTLP cost ${(100 * otlpCost).toFixed(1)} % (target ≤ ${100 * TARGET_TELEMETRY_COST} %)${floorText}`,
  );
  return { body: telemetryBody, missed };
}

/** One c=32 round of the telemetry-off sidecar: its and its upstream's CPU µs per request, and its req/s. */
export interface OffRound {
  readonly cpuUs: number;
  readonly rps: number;
}

/**
 * The floor's table. At c=32 the sidecar and its upstream share one CPU (when pinned), which they keep
 * busy, so throughput is one over their CPU per request: telemetry costing F µs on top of their X leaves
 * X / (X + F) of it, and a cost of at most c allows F ≤ X · c / (1 − c). Each floor block is paired with the
 * telemetry-off round measured just before it. X is measured on this Node only: a floor over the budget
 * on the image's Node is over it there too if the sidecar is no slower there, but one within it proves
 * nothing, so only the first verdict is drawn for it.
 */
export function floorSection(floor: TelemetryFloor, off: readonly OffRound[]): string {
  const xs = off.map((o) => o.cpuUs);
  const allowedOf = (x: number) => (x * TARGET_TELEMETRY_COST) / (1 - TARGET_TELEMETRY_COST);
  const best = (r: FloorOnNode) =>
    r.rounds.slice(0, xs.length).map((f, k) => {
      const x = xs[k] as number;
      return x / (x + f);
    });
  const list = (v: readonly number[], digits: number) => v.map((x) => x.toFixed(digits)).join(', ');
  const rows = floor.results.map((r) => {
    const ratios = best(r);
    const m = median(ratios);
    return `| ${r.node} | ${median([...r.rounds]).toFixed(1)} (${list(r.rounds, 1)}) | ${median(xs.map(allowedOf)).toFixed(1)} | ${m.toFixed(2)}× (${list(ratios, 2)}), cost ${(100 * (1 - m)).toFixed(0)} % |`;
  });
  const over = (r: FloorOnNode) => median(best(r)) < 1 - TARGET_TELEMETRY_COST;
  const here = process.version;
  const first = floor.results[0];
  const overAll = floor.results.length > 0 && floor.results.every(over);
  const fits = floor.results.filter((r) => !over(r));
  const verdict =
    floor.results.length === 0
      ? 'Not measured.'
      : overAll
        ? 'On every Node release measured the SDK alone costs more than the goal allows: no code that exports this telemetry through the OpenTelemetry JS SDK, with these settings, can meet it on this machine.'
        : `The SDK alone fits within the goal on ${fits.map((r) => r.node).join(' and ')}${
            fits.some((r) => r.node !== here)
              ? ` (against the telemetry-off sidecar measured on ${here}: on a faster Node the sidecar's own CPU, and with it the budget, may be smaller)`
              : ''
          }; the rest of the measured cost is the sidecar's own.`;
  const busy = off.map((o) => (o.rps * o.cpuUs) / 1e6);
  const exported = floor.exported
    ? ` Its receiver got ${floor.exported.spans.toFixed(2)} spans and ${floor.exported.logs.toFixed(2)} log records per replayed request.`
    : '';
  return `

**Floor: the OpenTelemetry SDK alone.** \`bench/telemetry-floor.ts\` replays one request's telemetry as the
receiver got it from the OTLP sidecar in this run — ${first ? `${first.spans} spans (${first.spanNames.map((n) => `\`${n}\``).join(', ')}) and ${first.logs} audit log record` : 'its spans and audit log record'} —
through the SDK set up as the sidecar sets it up (\`createTelemetry\`, the same \`OTEL_*\` variables and V8 flags, a receiver like the sidecar's),
with none of the sidecar's own code around it${canPin ? ", in a process on the proxies' CPU" : ''}: CPU per request over blocks of
20,000 requests, one block right after each c=32 round of the telemetry-off sidecar (the batch exports and their
HTTP posts included; an empty loop's CPU subtracted).${exported} ${
    canPin
      ? `At c=32 the sidecar and its upstream share one CPU and keep it busy (req/s × X: ${list(
          busy.map((b) => 100 * b),
          0,
        )} %), so telemetry costing F µs of CPU per request on top of their X leaves X / (X + F) of the throughput`
      : 'Without CPU pinning the sidecar and its upstream do not share one CPU, so X / (X + F) only estimates the throughput telemetry costing F µs on top of their X leaves'
  }; each block is paired with the round before it (X, on ${here}: ${list(xs, 0)} µs), and a cost ≤ ${100 * TARGET_TELEMETRY_COST} % allows F ≤ X / ${((1 - TARGET_TELEMETRY_COST) / TARGET_TELEMETRY_COST).toFixed(0)}.

| Node | SDK alone: CPU µs per request, median (rounds) | the goal allows, µs (median round) | best c=32 throughput vs off it leaves: median (rounds) |
|---|---|---|---|
${rows.join('\n')}
${floor.skipped.map((x) => `| ${x} | — | — | — |`).join('\n')}

${verdict}`.replace(/\n\n\n/g, '\n\n');
}
