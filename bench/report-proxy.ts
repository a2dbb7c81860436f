/**
 * The `proxy` section of RESULTS.md from one `npm run bench` (`run.ts`): the table of every target of the
 * proxy table on both upstreams, the goals of the JWT sidecar on the raw upstream (throughput vs the bare
 * proxy, added p50 vs direct) with their verdicts, the method text and, with BENCH_PROFILE=1, the
 * profiles of the bare proxy and the sidecar and their difference.
 *
 * @module
 */
import { fmtRps, ms, plus, roundsOf, spread } from './format.js';
import { type Lookup, pairedRatio } from './measure.js';
import { canPin, imageNodeOptions, LOAD_CPU, SERVER_CPU } from './processes.js';
import { fence, type Profiles, profileDiff } from './profiling.js';
import {
  AUDIT,
  DURATION,
  ROUNDS,
  SDK_DURATION,
  SUBJECTS,
  TARGET_ADDED_P50_MS,
  TARGET_RPS_RATIO,
  WARMUP,
} from './settings.js';
import {
  BODY,
  checks,
  type Expected,
  MINIMAL,
  MINIMAL_EXTRAS,
  SDK_SUBJECTS,
  type Target,
} from './targets.js';

export interface ProxySection {
  /** The section's text for RESULTS.md. */
  readonly body: string;
  /** The proxy table and the goals table, as the run prints them at its end. */
  readonly tables: string;
  /** How many goals the judged sidecar missed. */
  readonly missed: number;
}

export interface ProxyInputs {
  readonly targets: readonly Target[];
  readonly get: Lookup;
  readonly expected: Expected;
  /** Length of the ES256 tokens the requests carry. */
  readonly tokenLength: number | undefined;
  readonly machineNote: string;
  readonly profiles: Profiles;
  /** Redis ran (it was moved with the upstreams while profiling). */
  readonly withRedis: boolean;
}

/** Builds the section; with profiles, prints the sidecar − bare proxy diff. */
export function proxySection({
  targets,
  get,
  expected,
  tokenLength,
  machineNote,
  profiles,
  withRedis,
}: ProxyInputs): ProxySection {
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
      `${fmtRps(r32.rps)}${spread(r32)} | ${ms(r32.p50Ms)} / ${ms(r32.p99Ms)} | ${direct ? '—' : pairedRatio(r32, bare32).toFixed(2)} | ` +
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
  for (const t of targets.filter((x) => x.upstream === 'raw' && checks(x) && !x.section)) {
    const r1 = get('raw', t.name, 1);
    const r32 = get('raw', t.name, 32);
    const ratio = pairedRatio(r32, rawBare32);
    const added = r1.p50Ms - rawDirect1.p50Ms;
    const judged = t.name === 'sidecar, JWT';
    if (judged && ratio < TARGET_RPS_RATIO) missed++;
    if (judged && added > TARGET_ADDED_P50_MS) missed++;
    targetRows.push(
      `| ${t.name}${judged ? ' (**judged**)' : t.kind === 'floor' ? ' (a floor)' : ''} | ${ratio.toFixed(2)}×${roundsOf(
        r32.rpsRounds.map((v, k) => v / (rawBare32.rpsRounds[k] as number)),
        (v) => v.toFixed(2),
      )}, median rounds ${fmtRps(r32.rps)} vs ${fmtRps(rawBare32.rps)} req/s: ` +
        `**${verdict(ratio >= TARGET_RPS_RATIO)}** | ${plus(added)} ms (bare proxy: ${plus(rawBare1.p50Ms - rawDirect1.p50Ms)} ms): ` +
        `**${verdict(added <= TARGET_ADDED_P50_MS)}** |`,
    );
  }
  const proxyProfile = [
    profiles.get('bare proxy')?.text,
    profiles.get('sidecar, JWT')?.text,
    profileDiff(profiles, 'bare proxy', 'sidecar, JWT', 'sidecar − bare proxy', [
      /^DOMException$/,
      /^createAbortSignal$/,
      /^hashAttributes$/,
      /^evaluate$/,
    ]),
  ]
    .filter(Boolean)
    .join('\n\n');
  const body = `Every request is a ${Buffer.byteLength(BODY)}-byte \`tools/call\` of \`echo\` (JSON-RPC id 1) with an ES256
bearer token of ${tokenLength} bytes from the dev issuer (role \`user\`, tenant \`acme\`, scope \`mcp:tools\`; the
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
running the compiled JavaScript (\`tsconfig.bench.json\`) as the container image does; the proxies process also
with the image's \`NODE_OPTIONS\` (\`${imageNodeOptions() || 'none'}\`, read from the Dockerfile).
Raw upstream: ${ROUNDS} interleaved round(s) per concurrency (every target once per round), each a warm-up
(${WARMUP} s in the first round, ${Math.min(WARMUP, 0.5)} s later) then ${DURATION} s measured; the table shows the median round, and "× bare" is the median of the per-round
ratios (each round's sidecar against the same round's bare proxy: the VM's speed drifts between rounds). SDK upstream: one round of ${WARMUP} s + ${SDK_DURATION} s.
Latency is per response with microsecond resolution; "added" = target − direct at the same concurrency.
CPU µs/req is the server processes' \`process.cpuUsage()\` over the measured interval divided by the
requests answered (proxy column: the proxies process; upstream column: the upstreams process).
Bare proxy: \`bench/bare-proxy.ts\` (\`node:http\` + undici Pool, 64 keep-alive connections, body read then
forwarded, reply streamed back, no checks). The floor, "${MINIMAL}": the same proxy checking each
request with the least an authorizing proxy does for it, written inline (\`bench/minimal-gate.ts\`): the
token's SHA-256 looked up among verified tokens, its expiry, the body parsed and checked to be a JSON-RPC
\`tools/call\`, the decision looked up by caller and call, a token from the caller's bucket for the tool
with the \`RateLimit\` headers, the token left out and the caller's identity and \`X-Forwarded-*\` added
upstream; no audit, metrics, abuse counts, origin or session checks, request ids or error bodies. The
second floor, "${MINIMAL_EXTRAS}", is the same gate adding what the sidecar does for every request besides
those checks, with the sidecar's own code (\`bench/floor-extras.ts\`): a request id and a decision id, the body
parsed by its JSON-RPC parser, the decision looked up as its policy engine looks it up (the whole policy
input built, its cache key, a \`DecisionCache\` of the gate's own), the call counted by its abuse detector
(default rules, memory store) and its metric records (request, decision, upstream) on a meter and tallied
histograms read by a Prometheus exporter, each where the sidecar makes it (before or after the reply); not the trace context the
sidecar reads from a message's \`_meta\`. What the sidecar costs above the first floor is the way it makes its
checks and what the other issues added; above the second, mostly the way (stages, events, the request
context, the reply handling) and the checks this benchmark's request does not need. Sidecar: \`createSidecar\` with JWT via the dev issuer's JWKS
(verified tokens cached), the compiled default policy (\`build/policy/bundle\`), in-memory store, upstream
pool of 64, everything else at its defaults (rate limiting and abuse rules on, decision cache on — every
request of a subject after its first in an hour is a cache hit, as repeated calls are in a real pod — no OTLP endpoint), log
level \`warn\`: **audit lines off** (they are \`info\`; with nothing to consume them, no audit records are built)${AUDIT ? '; the "audit on" row is a second sidecar at level `info` writing its audit lines to /dev/null through an asynchronous pino destination, as the sidecar writes stdout' : ''}.
On these VMs a wake-up across vCPUs is slow and noisy, which inflates the c=1 latencies (p99 above all)
of every target; compare ratios and "added" columns within one run, not absolute numbers across runs.
The same run measures the sidecar variants of the \`ratelimit\` and \`telemetry\` sections, in the same
rounds; all sidecars live in the proxies process, idle while another target is measured.
${machineNote}${fence(proxyProfile, withRedis)}`;
  return { body, tables: `${rows.join('\n')}\n\n${targetRows.join('\n')}`, missed };
}
