/**
 * End-to-end harness with real parts only: the example MCP server (MCP TypeScript SDK) as upstream, the
 * dev issuer serving a JWKS over HTTP, the policy compiled from `policies/`, optionally a real
 * `redis-server`, and the sidecar itself on ephemeral ports.
 *
 * @module
 */
import { type DevIssuer, type MintClaims, startDevIssuer } from '../../examples/dev-issuer/issuer.js';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { createSidecar, type Sidecar } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { SessionCaps } from '../../src/server/session-table.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { lineCollector } from './log-lines.js';
import { defaultPolicyBundle } from './policy.js';

export const RESOURCE = 'https://mcp.test.example/mcp';
export const PEPPER = 'test-pepper-0123456789abcdef0123456789abcdef';

export type ExampleServer = Awaited<ReturnType<typeof startExampleServer>>;

export interface Harness {
  readonly upstream: ExampleServer;
  readonly issuer: DevIssuer;
  readonly sidecar: Sidecar;
  readonly config: Config;
  readonly mcpUrl: string;
  readonly sseUrl: string;
  readonly logs: string[];
  token(claims: Partial<MintClaims> & { roles: string[] }): Promise<string>;
  bearer(roles: string[], extra?: Partial<MintClaims>): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly redisUrl?: string;
  /** Extra config laid over the harness defaults. */
  readonly config?: Record<string, unknown>;
  /** The policy's clock (epoch ms); default: Monday 2026-11-23 10:00 UTC so business-hours rules hold. */
  readonly policyNow?: () => number;
  /** The sidecar's clock for tokens, buckets and blocks (epoch ms); default Date.now. */
  readonly now?: () => number;
  /** Environment for the sidecar's secrets (merged over the pepper). */
  readonly env?: NodeJS.ProcessEnv;
  readonly upstreamStateless?: boolean;
  readonly upstream?: ExampleServer;
  /** Share another harness's token issuer (a second replica). */
  readonly issuer?: DevIssuer;
  /** Bounds of the sidecar's Streamable HTTP session table (small ones make it evict). */
  readonly sessionCaps?: SessionCaps;
}

export const MONDAY_10_UTC = Date.parse('2026-11-23T10:00:00Z');

/** A pino destination that keeps every line, so tests can scan logs for secrets. */
export function captureLogger(lines: string[]): Logger {
  return createLogger('debug', lineCollector(lines) as never);
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const upstream =
    opts.upstream ?? (await startExampleServer({ stateless: opts.upstreamStateless ?? false }));
  const issuer = opts.issuer ?? (await startDevIssuer({ audience: RESOURCE }));
  const bundle = await defaultPolicyBundle();
  const base: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 2_000 },
    admin: { host: '127.0.0.1', port: 0 },
    upstream: { url: `${upstream.url}/mcp`, headersTimeoutMs: 2_000 },
    policy: { bundle, watch: false },
    authn: {
      resource: RESOURCE,
      jwt: { issuers: [issuer.issuer], jwksUri: issuer.jwksUri },
      resourceMetadata: { authorizationServers: [issuer.issuer], scopesSupported: ['mcp:tools'] },
      identityHeaders: { subject: 'x-mcp-authz-subject', tenant: 'x-mcp-authz-tenant' },
    },
    store: opts.redisUrl ? { redisUrl: opts.redisUrl, revocationPollIntervalMs: 200 } : {},
    log: { level: 'debug' },
  };
  const config = parseConfig(merge(base, opts.config ?? {}), { AUTHZ_API_KEY_PEPPER: PEPPER });
  const logs: string[] = [];
  const sidecar = createSidecar(config, {
    logger: captureLogger(logs),
    policyNow: opts.policyNow ?? (() => MONDAY_10_UTC + (Date.now() % 60_000)),
    env: { AUTHZ_API_KEY_PEPPER: PEPPER, ...opts.env },
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.sessionCaps ? { sessionCaps: opts.sessionCaps } : {}),
  });
  await sidecar.start();
  const token = (claims: Partial<MintClaims> & { roles: string[] }) =>
    issuer.mint({
      sub: `user-${claims.roles.join('-') || 'none'}`,
      tenant: 'acme',
      scope: 'mcp:tools',
      ...claims,
    });
  return {
    upstream,
    issuer,
    sidecar,
    config,
    mcpUrl: `${sidecar.publicUrl}/mcp`,
    sseUrl: `${sidecar.publicUrl}/sse`,
    logs,
    token,
    async bearer(roles, extra = {}) {
      return { authorization: `Bearer ${await token({ roles, ...extra })}` };
    },
    async stop() {
      await sidecar.stop();
      if (!opts.issuer) await issuer.close();
      if (!opts.upstream) await upstream.close();
    },
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof cur === 'object' &&
      cur !== null &&
      !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
