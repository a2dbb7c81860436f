/**
 * The `ratelimit` section of RESULTS.md (issue 5) from one `npm run bench` (`run.ts`): the JWT sidecar with
 * its store in Redis, rate limiting on and off, next to the in-memory sidecar of the proxy table; a table
 * per variant, a table of what rate limiting adds, the checks that make the comparison valid (one EVALSHA
 * per request, no bucket run empty) and, with BENCH_PROFILE=1, the profile diff of the two Redis sidecars.
 *
 * @module
 */
import { fmtRps, ms, plus, roundsOf, spread } from './format.js';
import { type Lookup, medianOf, paired, pairedRatio } from './measure.js';
import { canPin, SERVER_CPU } from './processes.js';
import { fence, type Profiles, profileDiff } from './profiling.js';
import { CONCURRENCY, SUBJECTS } from './settings.js';
import { byName, type Target } from './targets.js';

export interface RatelimitInputs {
  readonly targets: readonly Target[];
  readonly get: Lookup;
  /** The rate-limited sidecars' bucket, as their replies state it (`ratelimit-policy`). */
  readonly rateLimitPolicy: string | null;
  readonly redisVersion: string | undefined;
  readonly profiles: Profiles;
  /** Redis ran (it was moved with the upstreams while profiling). */
  readonly withRedis: boolean;
}

/** Builds the section and prints its tables (and profile diff); '' when the run had no Redis sidecars. */
export function ratelimitSection({
  targets,
  get,
  rateLimitPolicy,
  redisVersion,
  profiles,
  withRedis,
}: RatelimitInputs): string {
  const RL = {
    memOn: byName(targets, 'sidecar, JWT'),
    memOff: byName(targets, 'sidecar, JWT, no rate limit'),
    redisOn: byName(targets, 'sidecar, JWT, Redis, rate limit'),
    redisOff: byName(targets, 'sidecar, JWT, Redis, no rate limit'),
  };
  if (!(RL.memOn && RL.redisOn && RL.redisOff)) return '';
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
        `${plus(on32.p50Ms - off32.p50Ms)} / ${plus(on32.p99Ms - off32.p99Ms)} | ${pairedRatio(on32, off32).toFixed(2)}×` +
        `${roundsOf(
          on32.rpsRounds.map((v, k) => v / (off32.rpsRounds[k] as number)),
          (v) => v.toFixed(2),
        )} | ` +
        `${plus(on32.proxyCpuUs - off32.proxyCpuUs).replace(/\.\d+$/, '')} | ${redisCpu} |`,
    );
  }
  let ratelimitBody = `The JWT sidecar of the \`proxy\` section (same requests, same ${SUBJECTS} subjects, same validation: every reply
HTTP 200 with exactly the upstream's body) with its store in Redis (\`store.redisUrl\`; Redis ${redisVersion} started by the
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
    profiles,
    'sidecar, JWT, Redis, no rate limit',
    'sidecar, JWT, Redis, rate limit',
    'Redis sidecar: rate limiting on − off',
  );
  ratelimitBody += fence(rlProfile, withRedis);
  console.log(`\n${tRows.join('\n')}\n\n${costRows.join('\n')}`);
  return ratelimitBody;
}
