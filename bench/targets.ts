/**
 * What `npm run bench` (`run.ts`) sends and where: the one `tools/call` request, the credential sets the
 * requests rotate over, the targets (direct, bare proxy and sidecar variants on the raw and the SDK
 * upstream), and the preflight that checks every target answers HTTP 200 with exactly the upstream's body
 * and warms the token and key caches of the sidecars and the floor before anything is measured.
 *
 * @module
 */

import { LOAD_CPU, pin, SERVER_CPU } from './processes.js';
import { RAW_CALL_REPLY } from './raw-upstream.js';
import type { ProxiesReady, UpstreamsReady } from './servers.js';
import { SUBJECTS } from './settings.js';

// ---------------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------------

const TEXT =
  'Please summarise the open support tickets of customer c-1042 for the weekly account review; ' +
  'include priority, owner and the date of the last reply. Keep it short.';
export const BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: TEXT }, _meta: { progressToken: 'bench-1' } },
});

/** Every request's headers; `authorization: Bearer <credential>` is added per request, round-robin. */
export const HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

export type UpstreamKind = 'raw' | 'sdk';

/** The floor's name in the tables. */
export const MINIMAL = 'minimal authorizing proxy';
/** The second floor's name: the floor with the sidecar's per-request extras. */
export const MINIMAL_EXTRAS = 'minimal proxy + the sidecar’s extras';

/** Targets that check credentials: their caches are warmed before measuring. */
export const checks = (t: Target): boolean => t.kind === 'sidecar' || t.kind === 'floor';

export interface Target {
  readonly upstream: UpstreamKind;
  readonly name: string;
  /** `floor`: the bare proxy with the least checks an authorizing proxy makes (`minimal-gate.ts`). */
  readonly kind: 'direct' | 'bare' | 'floor' | 'sidecar';
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

/** The credentials of each set, sent to the load generator once. */
export type Credentials = Record<Target['credentials'], string[]>;

/** Every upstream's reply as it gives it directly: the body every target must answer with. */
export type Expected = Record<UpstreamKind, string>;

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
// Credentials and targets
// ---------------------------------------------------------------------------------------------------

// The SDK upstream manages a few hundred requests a second: a few subjects are plenty there, and keep the
// share of first-time (uncached) token checks out of its short measurement.
export const SDK_SUBJECTS = Math.min(SUBJECTS, 50);

export function credentialSets(up: UpstreamsReady, px: ProxiesReady): Credentials {
  return {
    jwt: up.tokens,
    apikey: px.apiKeys,
    jwtSdk: up.tokens.slice(0, SDK_SUBJECTS),
  };
}

/** Every target the servers started, in the order a round measures them. */
export function benchTargets(up: UpstreamsReady, px: ProxiesReady): Target[] {
  return [
    { upstream: 'raw', name: 'direct', kind: 'direct', url: `${up.raw}/mcp`, credentials: 'jwt' },
    { upstream: 'raw', name: 'bare proxy', kind: 'bare', url: `${px.bareRaw}/mcp`, credentials: 'jwt' },
    {
      upstream: 'raw',
      name: MINIMAL,
      kind: 'floor',
      url: `${px.minimalRaw}/mcp`,
      credentials: 'jwt',
      rateLimited: true,
    },
    {
      upstream: 'raw',
      name: MINIMAL_EXTRAS,
      kind: 'floor',
      url: `${px.extrasRaw}/mcp`,
      credentials: 'jwt',
      rateLimited: true,
    },
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
}

/** The raw-upstream target called `name`, if this run has it. */
export const byName = (targets: readonly Target[], name: string) =>
  targets.find((x) => x.upstream === 'raw' && x.name === name);

// ---------------------------------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------------------------------

export interface Preflight {
  readonly expected: Expected;
  /** The rate-limited sidecars' bucket, as their replies state it (`ratelimit-policy`). */
  readonly rateLimitPolicy: string | null;
}

/**
 * Checks every target and warms the caches of those that check credentials; `serverPids` (upstreams and proxies) may use both
 * CPUs meanwhile and are pinned back to the servers' CPU afterwards.
 */
export async function preflight(
  targets: readonly Target[],
  credentials: Credentials,
  serverPids: ReadonlyArray<number | undefined>,
): Promise<Preflight> {
  // Preflight: every target answers 200 with exactly the direct body (a policy deny is a 200, too). The
  // sidecars' first call also makes them learn `echo`'s annotations from the upstream. Then every
  // credential goes once through each sidecar, so their verified-token and API-key caches are
  // warm before anything is measured (an ES256 verification costs far more than a cached check).
  const expected: Expected = { raw: '', sdk: '' };
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
      // The sidecar's bucket (the floor states a fixed one of its own).
      if (t.rateLimited && t.kind === 'sidecar') rateLimitPolicy ??= r.rateLimitPolicy;
    }
  }
  // The warming is thousands of first-time ES256 verifications: let the servers use both CPUs meanwhile
  // (nothing is measured yet), and pin them back before measuring.
  pin(serverPids, `${LOAD_CPU},${SERVER_CPU}`);
  await Promise.all(
    targets.filter(checks).map(async (t) => {
      const list = credentials[t.credentials];
      let i = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (i < list.length) check(t, await once(t, list[i++] as string));
        }),
      );
    }),
  );
  pin(serverPids, SERVER_CPU);
  if (expected.raw !== RAW_CALL_REPLY) throw new Error(`raw upstream answered ${expected.raw}`);
  return { expected, rateLimitPolicy };
}
