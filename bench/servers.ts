/**
 * Child-process entry of the proxy benchmark (`bench/run.ts` starts it, pinned to the servers' core).
 *
 * - `upstreams`: the raw `node:http` upstream, the example MCP server (SDK, stateless, JSON replies) and
 *   the dev token issuer; mints ES256 access tokens for role `user`, one per subject (BENCH_SUBJECTS).
 * - `proxies`: for each upstream a bare pass-through proxy and a real sidecar (`createSidecar`: JWT via
 *   the dev issuer's JWKS, the compiled default policy, in-memory store, log level `warn`, everything
 *   else at its defaults, rate limiting and abuse rules included), and for the raw upstream variants of
 *   that sidecar which differ in one setting each: audit lines on; `ratelimit.enabled: false`; the
 *   store in Redis (`store.redisUrl`) with rate limiting on and off (separate key prefixes); OTLP export
 *   of traces, metrics and logs to the benchmark's receiver (`OTEL_EXPORTER_OTLP_ENDPOINT` in the env
 *   the sidecar is given); and on the raw upstream the floor, the bare proxy with the least checks an
 *   authorizing proxy makes (`minimal-gate.ts`). Creates API keys for role `user`, one per subject. Can profile itself on
 *   request (`node:inspector`), so only the measured interval is in the profile.
 *
 * Readiness and URLs go to the parent over IPC; on request each process reports the CPU time it has used,
 * so the parent can charge CPU per request to the proxy and to the upstream.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { pino } from 'pino';
import { startDevIssuer } from '../examples/dev-issuer/issuer.js';
import { startExampleServer } from '../examples/mcp-server/server.js';
import { createSidecar, type Sidecar } from '../src/app.js';
import { createApiKey } from '../src/authn/api-keys.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger, type Logger } from '../src/telemetry/logger.js';
import { startBareProxy } from './bare-proxy.js';
import { floorExtras } from './floor-extras.js';
import { minimalGate } from './minimal-gate.js';
import { startRawUpstream } from './raw-upstream.js';

export const RESOURCE = 'https://mcp.bench.example/mcp';
export const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef';

export interface UpstreamsReady {
  readonly type: 'ready';
  readonly raw: string;
  readonly sdk: string;
  readonly issuer: string;
  readonly jwksUri: string;
  /** One token per subject (`user-bench-<i>`), all role `user`. */
  readonly tokens: string[];
}

export interface ProxiesConfig {
  readonly raw: string;
  readonly sdk: string;
  readonly issuer: string;
  readonly jwksUri: string;
  readonly bundle: string;
  /** Also start a sidecar on the raw upstream with audit records on (level info → /dev/null). */
  readonly audit: boolean;
  /** Also start a sidecar on the raw upstream with `ratelimit.enabled: false` (in-memory store). */
  readonly noRateLimit: boolean;
  /** Also start two sidecars on the raw upstream with their store in this Redis: rate limiting on, off. */
  readonly redisUrl: string | null;
  /** Also start a sidecar on the raw upstream exporting traces, metrics and logs here (OTLP/HTTP). */
  readonly otlpEndpoint: string | null;
  /** `OTEL_METRIC_EXPORT_INTERVAL` of that sidecar (ms). */
  readonly otlpMetricIntervalMs: number;
  /** More OTEL_* variables for that sidecar (the trace sampler of a sampled run). */
  readonly otlpEnv?: Record<string, string>;
  /** How many API keys (subjects) to create. */
  readonly subjects: number;
}

export interface ProxiesReady {
  readonly type: 'ready';
  readonly bareRaw: string;
  /** The floor: the bare proxy with the least checks an authorizing proxy makes (`minimal-gate.ts`). */
  readonly minimalRaw: string;
  /** The second floor: the floor with the sidecar's per-request extras (`floor-extras.ts`). */
  readonly extrasRaw: string;
  readonly bareSdk: string;
  readonly sidecarRaw: string;
  readonly sidecarSdk: string;
  readonly sidecarRawAudit: string | null;
  readonly sidecarRawNoRateLimit: string | null;
  readonly sidecarRawRedis: string | null;
  readonly sidecarRawRedisNoRateLimit: string | null;
  readonly sidecarRawOtlp: string | null;
  /** One API key per subject (`svc-bench-<i>`), all role `user`, in the raw-upstream sidecar's store. */
  readonly apiKeys: string[];
}

/** CPU time this process has used so far (µs), for per-request CPU cost. */
export interface CpuReply {
  readonly type: 'cpu';
  readonly us: number;
}

type Message =
  | { type: 'cpu' }
  | { type: 'profile-start'; intervalUs: number }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' };

const send = (msg: unknown): void => {
  process.send?.(msg);
};

async function upstreams(): Promise<() => Promise<void>> {
  const raw = await startRawUpstream();
  const sdk = await startExampleServer({ stateless: true, jsonResponse: true });
  const issuer = await startDevIssuer({ audience: RESOURCE });
  const tokens: string[] = [];
  const subjects = Number(process.env.BENCH_SUBJECTS ?? 1000);
  for (let i = 0; i < subjects; i++) {
    tokens.push(
      await issuer.mint({
        sub: `user-bench-${i}`,
        roles: ['user'],
        tenant: 'acme',
        scope: 'mcp:tools',
        expiresIn: '2h',
      }),
    );
  }
  const ready: UpstreamsReady = {
    type: 'ready',
    raw: raw.url,
    sdk: sdk.url,
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    tokens,
  };
  send(ready);
  return async () => {
    await Promise.allSettled([raw.close(), sdk.close(), issuer.close()]);
  };
}

interface Variant {
  /** `ratelimit.enabled` (default true). */
  readonly rateLimit?: boolean;
  /** `store.redisUrl` and `store.keyPrefix`. */
  readonly redis?: { readonly url: string; readonly keyPrefix: string };
  /** Extra env for the sidecar (the OTEL_* variables). */
  readonly env?: Record<string, string>;
}

function sidecarFor(upstream: string, c: ProxiesConfig, logger: Logger, v: Variant = {}): Sidecar {
  const env = { AUTHZ_API_KEY_PEPPER: PEPPER, ...v.env };
  const config = parseConfig(
    {
      server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 1_000 },
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: `${upstream}/mcp` },
      policy: { bundle: c.bundle, watch: false },
      authn: {
        resource: RESOURCE,
        jwt: { issuers: [c.issuer], jwksUri: c.jwksUri },
        resourceMetadata: { authorizationServers: [c.issuer], scopesSupported: ['mcp:tools'] },
        identityHeaders: { subject: 'x-mcp-authz-subject', tenant: 'x-mcp-authz-tenant' },
      },
      log: { level: logger.level },
      ...(v.rateLimit === false ? { ratelimit: { enabled: false } } : {}),
      ...(v.redis ? { store: { redisUrl: v.redis.url, keyPrefix: v.redis.keyPrefix } } : {}),
    },
    env,
  );
  return createSidecar(config, { logger, env });
}

async function proxies(c: ProxiesConfig): Promise<() => Promise<void>> {
  const quiet = createLogger('warn');
  const bareRaw = await startBareProxy(c.raw);
  const bareSdk = await startBareProxy(c.sdk);
  const gate = minimalGate({ issuer: c.issuer, jwksUri: c.jwksUri, audience: RESOURCE });
  const minimalRaw = await startBareProxy(c.raw, '127.0.0.1', gate);
  const extras = await floorExtras(c.bundle);
  const extrasGate = minimalGate({ issuer: c.issuer, jwksUri: c.jwksUri, audience: RESOURCE, extras });
  const extrasRaw = await startBareProxy(c.raw, '127.0.0.1', extrasGate);
  const sidecarRaw = sidecarFor(c.raw, c, quiet);
  const sidecarSdk = sidecarFor(c.sdk, c, quiet);
  const sidecarAudit = c.audit
    ? sidecarFor(c.raw, c, createLogger('info', pino.destination({ dest: '/dev/null', sync: false })))
    : undefined;
  const sidecarNoRl = c.noRateLimit ? sidecarFor(c.raw, c, quiet, { rateLimit: false }) : undefined;
  const sidecarRedis = c.redisUrl
    ? sidecarFor(c.raw, c, quiet, { redis: { url: c.redisUrl, keyPrefix: 'bench-rl:' } })
    : undefined;
  const sidecarRedisNoRl = c.redisUrl
    ? sidecarFor(c.raw, c, quiet, {
        rateLimit: false,
        redis: { url: c.redisUrl, keyPrefix: 'bench-norl:' },
      })
    : undefined;
  const sidecarOtlp = c.otlpEndpoint
    ? sidecarFor(c.raw, c, quiet, {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: c.otlpEndpoint,
          OTEL_METRIC_EXPORT_INTERVAL: String(c.otlpMetricIntervalMs),
          ...c.otlpEnv,
        },
      })
    : undefined;
  const sidecars = [
    sidecarRaw,
    sidecarSdk,
    ...[sidecarAudit, sidecarNoRl, sidecarRedis, sidecarRedisNoRl, sidecarOtlp].filter(
      (s): s is Sidecar => s !== undefined,
    ),
  ];
  for (const s of sidecars) await s.start();
  const apiKeys: string[] = [];
  for (let i = 0; i < c.subjects; i++) {
    const { key } = await createApiKey(sidecarRaw.store, Buffer.from(PEPPER, 'utf8'), {
      subject: `svc-bench-${i}`,
      tenant: 'acme',
      roles: ['user'],
      scopes: ['mcp:tools'],
    });
    apiKeys.push(key);
  }
  const ready: ProxiesReady = {
    type: 'ready',
    bareRaw: bareRaw.url,
    minimalRaw: minimalRaw.url,
    extrasRaw: extrasRaw.url,
    bareSdk: bareSdk.url,
    sidecarRaw: sidecarRaw.publicUrl,
    sidecarSdk: sidecarSdk.publicUrl,
    sidecarRawAudit: sidecarAudit?.publicUrl ?? null,
    sidecarRawNoRateLimit: sidecarNoRl?.publicUrl ?? null,
    sidecarRawRedis: sidecarRedis?.publicUrl ?? null,
    sidecarRawRedisNoRateLimit: sidecarRedisNoRl?.publicUrl ?? null,
    sidecarRawOtlp: sidecarOtlp?.publicUrl ?? null,
    apiKeys,
  };
  send(ready);
  return async () => {
    await Promise.allSettled([
      bareRaw.close(),
      bareSdk.close(),
      minimalRaw.close(),
      extrasRaw.close().then(() => extras.stop()),
      ...sidecars.map((s) => s.stop()),
    ]);
  };
}

const role = process.argv[2];
let profiler: Session | undefined;
const stop =
  role === 'upstreams'
    ? await upstreams()
    : role === 'proxies'
      ? await proxies(JSON.parse(process.env.BENCH_PROXIES_CONFIG ?? '{}') as ProxiesConfig)
      : undefined;
if (!stop) throw new Error(`unknown role ${role}; expected upstreams or proxies`);

process.on('message', (m: Message) => {
  void (async () => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      const reply: CpuReply = { type: 'cpu', us: u.user + u.system };
      send(reply);
    } else if (m.type === 'profile-start') {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: m.intervalUs });
      await profiler.post('Profiler.start');
      send({ type: 'profile-started' });
    } else if (m.type === 'profile-stop' && profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(m.file, JSON.stringify(profile));
      profiler.disconnect();
      profiler = undefined;
      send({ type: 'profile-stopped', file: m.file });
    } else if (m.type === 'stop') {
      await stop();
      process.exit(0);
    }
  })();
});
process.on('disconnect', () => process.exit(0));
