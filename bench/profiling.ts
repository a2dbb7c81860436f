/**
 * The BENCH_PROFILE=1 part of `npm run bench` (`run.ts`): after the measurements, CPU-profiles the
 * proxies process during one extra c=32 run each of the bare proxy and the sidecar variants on the raw
 * upstream (summaries via `profile-summary.ts`), and turns two such profiles into an "other − base" diff
 * and a fenced block for a RESULTS.md section.
 *
 * @module
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtRps } from './format.js';
import { countBad, type Harness, phase } from './measure.js';
import { cpu, LOAD_CPU, next, pin, SERVER_CPU } from './processes.js';
import {
  type CpuProfile,
  formatCallers,
  formatDiff,
  formatSummary,
  HOT_PATH,
  type ProfileSummary,
  summarize,
} from './profile-summary.js';
import { DURATION, ROOT } from './settings.js';
import type { Target } from './targets.js';

interface Profiled {
  readonly s: ProfileSummary;
  readonly n: number;
  readonly profile: CpuProfile;
  readonly text: string;
}

/** The profiles of one run by target name (empty without BENCH_PROFILE=1). */
export type Profiles = ReadonlyMap<string, Profiled>;

/** Profiles the proxies process during one c=32 run of each profiled raw-upstream target this run has. */
export async function profileProxies(h: Harness, targets: readonly Target[]): Promise<Profiles> {
  const { rig, tally } = h;
  const profiles = new Map<string, Profiled>();
  // Profile the proxies process with the upstreams (and Redis) moved to the load generator's CPU, so the
  // proxy has a CPU of its own: V8's sampler charges wall time, and time spent descheduled while the
  // upstream runs on the same CPU would otherwise land on whatever syscall was on the stack.
  const repin = (cpuList: string) => pin([rig.upstreams.pid, rig.redis?.pid], cpuList);
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
    await phase(h, t, 32, 1);
    const c0 = await cpu(rig.proxies);
    rig.proxies.send({ type: 'profile-start', intervalUs: 100 });
    await next(rig.proxies, 'profile-started');
    const r = await phase(h, t, 32, Math.max(DURATION, 5));
    rig.proxies.send({ type: 'profile-stop', file });
    await next(rig.proxies, 'profile-stopped');
    const c1 = await cpu(rig.proxies);
    tally.failures += countBad(r);
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
  return profiles;
}

/** `other − base` from the profiles, with the callers of `helpers` in `other`; '' without profiles. */
export function profileDiff(
  profiles: Profiles,
  baseName: string,
  otherName: string,
  title: string,
  helpers: RegExp[] = [],
): string {
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

/** Profile text `t` fenced under the profiles' introduction, for a section's end; '' for no text. */
export function fence(t: string, withRedis: boolean): string {
  const profileIntro = `CPU profiles of the proxies process during one extra c=32 run each on the raw upstream, with the
upstreams${withRedis ? ' and Redis' : ''} moved to the load generator's CPU so the proxy has a CPU to itself (V8 sampling profiler,
100 µs; µs per request):`;
  return t ? `\n\n${profileIntro}\n\n\`\`\`\n${t}\n\`\`\`` : '';
}
