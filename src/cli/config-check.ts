/**
 * `mcp-authz config check`: everything `serve` checks before it listens, without listening — as
 * `envoy --mode validate` and `nginx -t` do — so a CI job or a pre-deploy step can refuse a configuration
 * (a Helm-rendered `config.yaml`, an env file) before a pod crash-loops on it. It checks the schema and the
 * `AUTHZ_*` overrides, the secret and certificate files the configured features use, builds the sidecar's
 * components as `serve` does (without starting them), loads the policy bundle as the sidecar would
 * (signature, entrypoints; a URL is fetched, unless `--skip-bundle`), prints the warnings `serve` logs at
 * start (the `OTEL_*` ones included), and sums up what the sidecar would run. Exit 0: it would start; 1: it would not, with each problem
 * of the first stage that fails (schema, files, components, bundle) on a line of its own. `--schema-only` stops
 * after the first stage: for a config.yaml rendered by the Helm chart, whose files are the pod's Secret mounts.
 *
 * @module
 */
import type { Command } from 'commander';
import { createSidecar } from '../app.js';
import { configAdvice } from '../config/advice.js';
import { processEnv } from '../config/env.js';
import type { Config } from '../config/schema.js';
import { secretIssues } from '../config/secrets.js';
import { ConfigError } from '../errors/errors.js';
import { displayLocation } from '../policy/bundle.js';
import { isUrl } from '../policy/bundle-download.js';
import { TlsFilesError, tlsIssues } from '../server/tls.js';
import { parseRedisUrl, redactRedisUrl } from '../store/redis-url.js';
import { createLogger } from '../telemetry/logger.js';
import { otelEnvWarnings } from '../telemetry/otel-env-check.js';
import { loadCliConfig } from './config.js';
import { loadEngineFor } from './policy.js';
import { type CliIo, fail, oneLine, processIo } from './table.js';

interface CheckOpts {
  readonly config?: string;
  readonly skipBundle?: boolean;
  readonly schemaOnly?: boolean;
}

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('config')
    .description('check configurations')
    .command('check')
    .description(
      'check the configuration as serve does at start (schema, files, policy bundle), without serving',
    )
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--skip-bundle', 'do not load the policy bundle (e.g. a bundle URL this machine cannot reach)')
    .option(
      '--schema-only',
      'check the schema, the AUTHZ_* overrides and the Redis URL only, not the files, components and bundle (a config.yaml rendered for a pod, away from its secrets)',
    )
    .action(async (_opts: CheckOpts, cmd: Command) => {
      try {
        await check(cmd.optsWithGlobals<CheckOpts>(), io);
      } catch (err) {
        fail(io, err);
      }
    });
}

async function check(opts: CheckOpts, io: CliIo): Promise<void> {
  const config = loadCliConfig(opts.config, io);
  if (opts.schemaOnly) {
    // The files a rendered config names are the pod's Secret mounts: not there to read on a CI runner. What
    // the components check without them is checked still: the Redis URL, which the store parses at start.
    if (config.store.redisUrl !== undefined) parseRedisUrl(config.store.redisUrl);
    io.out(
      'configuration OK (schema only: the files, the components and the policy bundle are not checked)\n',
    );
    return;
  }
  const problems = [...secretIssues(config), ...tlsIssues(config)];
  if (problems.length) throw new ConfigError(problems);
  await buildSidecar(config, io);
  const env = processEnv();
  for (const advice of [...configAdvice(config, env), ...otelEnvWarnings(env)])
    io.err(`mcp-authz: warning: ${oneLine(advice)}\n`);
  let policy = `not loaded (--skip-bundle): ${displayLocation(config.policy.bundle)}`;
  if (!opts.skipBundle) {
    const status = await loadEngineFor(config).then(
      (engine) => engine.status(),
      (err: unknown) => ({ revision: null, source: null, lastError: (err as Error).message ?? String(err) }),
    );
    if (status.revision === null) {
      // A bundle URL may be out of this machine's reach (a CI runner): the rest can still be checked.
      const hint = isUrl(config.policy.bundle) ? ' (--skip-bundle checks the rest without it)' : '';
      throw new Error(`policy.bundle: ${oneLine(status.lastError ?? 'no policy loaded')}${hint}`);
    }
    policy = `revision ${status.revision} from ${status.source}`;
  }
  for (const [what, value] of summary(config, policy)) io.out(`${what.padEnd(9)} ${value}\n`);
  io.out('configuration OK\n');
}

/**
 * Builds the sidecar as `serve` does, without starting it, and takes it down again: what `createSidecar`
 * refuses (a Redis URL the store cannot parse, an HS secret too short, certificate files broken since
 * their check) `serve` refuses at start, and the warnings its components log as they are built (JWT
 * enabled without any key) are printed as `serve` would log them.
 */
async function buildSidecar(config: Config, io: CliIo): Promise<void> {
  const logger = createLogger('warn', {
    write(line: string) {
      const { msg } = JSON.parse(line) as { msg?: string };
      io.err(`mcp-authz: warning: ${oneLine(msg)}\n`);
    },
  });
  let sidecar: ReturnType<typeof createSidecar>;
  try {
    // With OTLP export off: taking the sidecar down flushes its telemetry, which waited for (and warned
    // about) a collector the pod's OTEL_* variables name — seconds — to export nothing of use.
    sidecar = createSidecar(config, { logger, env: { ...process.env, OTEL_SDK_DISABLED: 'true' } });
  } catch (err) {
    throw err instanceof TlsFilesError ? new ConfigError(err.issues) : err;
  }
  await sidecar.stop();
}

/** What the sidecar would run, one line each (never a secret: the Redis URL without its password). */
function summary(config: Config, policy: string): [string, string][] {
  const s = config.server;
  const authn = config.authn;
  // As the authenticator decides: a JWKS URI, else an HS secret when an HS* algorithm is accepted, else no key.
  const hs = authn.jwt.algorithms.some((a) => a.startsWith('HS'));
  const jwt = authn.jwt.jwksUri
    ? `JWT from ${authn.jwt.issuers.join(', ')}`
    : hs
      ? 'JWT (HS* secret)'
      : 'JWT (no key: bearer tokens refused)';
  // Without a JWT key every bearer token is introspected (authenticator.ts), not refused.
  const jwtKey = authn.jwt.enabled && (authn.jwt.jwksUri !== undefined || hs);
  const i = authn.introspection;
  const introspection = i
    ? `introspection at ${displayLocation(i.endpoint)} (${i.tokens === 'all' || !jwtKey ? 'all bearer tokens' : 'opaque tokens'})`
    : undefined;
  const methods = [
    ...(authn.jwt.enabled && (jwtKey || !i) ? [jwt] : []),
    ...(introspection ? [introspection] : []),
    ...(authn.apiKeys.enabled ? ['API keys'] : []),
  ];
  const at = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  return [
    [
      'public',
      `${at(s.host, s.port)}${s.tls ? ' TLS' : ''}${s.tls?.clientCaFile ? ' (client certificates)' : ''} ${s.mcpPath}`,
    ],
    ['admin', at(config.admin.host, config.admin.port)],
    ['upstream', config.upstream.url],
    ['authn', `${methods.join(', ') || 'none'} (${authn.mode})`],
    [
      'store',
      config.store.redisUrl ? redactRedisUrl(config.store.redisUrl) : 'in memory (this process only)',
    ],
    ['policy', `${policy}${config.policy.dryRun ? ' — DRY RUN: nothing is enforced' : ''}`],
  ];
}
