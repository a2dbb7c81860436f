/**
 * Loads the configuration: YAML file (optional) → `AUTHZ_*` overrides → schema → semantic checks →
 * deep freeze. Every problem is reported with its dotted path in one `ConfigError`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors/errors.js';
import { authorizationServers } from './authorization-servers.js';
import { applyEnv, envSources } from './env.js';
import { isLoopbackHost } from './loopback.js';
import { type Config, ConfigSchema } from './schema.js';

export interface LoadOptions {
  /** Path to a YAML/JSON config file; falls back to `AUTHZ_CONFIG`. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Values laid over the file before the environment (used by the CLI and tests). */
  readonly overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.AUTHZ_CONFIG;
  const raw = file ? readConfigFile(file, options.file === undefined ? ' (from AUTHZ_CONFIG)' : '') : {};
  deepMerge(raw, options.overrides ?? {});
  const used = applyEnv(raw, env);
  return parseConfig(raw, env, envSources(used));
}

/**
 * Parses an already-merged object; throws `ConfigError` listing every issue. `fromEnv` (dotted path →
 * variable) names the environment variable behind a bad value, so the operator does not search the file.
 */
export function parseConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  fromEnv: ReadonlyMap<string, string> = new Map(),
): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const path = i.path.join('.');
        const source = [...fromEnv].find(([p]) => path === p || path.startsWith(`${p}.`))?.[1];
        return `${path || '(root)'}: ${i.message}${source ? ` (from ${source})` : ''}`;
      }),
    );
  }
  const issues = semanticIssues(result.data, env);
  if (issues.length) throw new ConfigError(issues);
  return deepFreeze(result.data);
}

function semanticIssues(c: Config, env: NodeJS.ProcessEnv): string[] {
  const issues: string[] = [];
  const hs = c.authn.jwt.algorithms.filter((a) => a.startsWith('HS'));
  if (hs.length && !c.authn.jwt.hsSecretFile && !env.AUTHZ_JWT_HS_SECRET) {
    issues.push(
      `authn.jwt.hsSecretFile: required when algorithms include ${hs.join(', ')} (or set AUTHZ_JWT_HS_SECRET)`,
    );
  }
  const keySource = c.authn.jwt.jwksUri || c.authn.jwt.hsSecretFile || env.AUTHZ_JWT_HS_SECRET;
  if (c.authn.jwt.enabled && keySource && !c.authn.resource && c.authn.jwt.audiences.length === 0) {
    issues.push(
      'authn.resource: required (or authn.jwt.audiences) so tokens are bound to this server (RFC 8707)',
    );
  }
  if (c.authn.jwt.enabled && c.authn.jwt.jwksUri && c.authn.jwt.issuers.length === 0) {
    issues.push(
      'authn.jwt.issuers: required with authn.jwt.jwksUri: the iss claim is checked against it, and the protected-resource metadata (RFC 9728) must name at least one authorization server',
    );
  }
  if (c.authn.introspection && authorizationServers(c.authn).length === 0) {
    issues.push(
      'authn.introspection.issuer (or authn.resourceMetadata.authorizationServers): required with token introspection: the protected-resource metadata (RFC 9728) must name at least one authorization server, or MCP clients cannot find where to sign in',
    );
  }
  // Two listeners on one port collide when the hosts are the same or either takes every address.
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::' || h === '';
  const overlap = c.admin.host === c.server.host || wildcard(c.admin.host) || wildcard(c.server.host);
  if (c.admin.port !== 0 && c.admin.port === c.server.port && overlap) {
    issues.push('admin.port: must differ from server.port');
  }
  const loop = upstreamLoop(c);
  if (loop) {
    issues.push(
      `upstream.url: points at the sidecar's own port ${loop.port} (${loop.setting}): the MCP server must listen on another one`,
    );
  }
  const paths = [c.server.mcpPath, c.server.legacySsePath, c.server.legacyMessagesPath];
  if (new Set(paths).size !== paths.length)
    issues.push('server.mcpPath: MCP and legacy SSE paths must differ');
  return issues;
}

/**
 * The sidecar's own listener `upstream.url` names, if any: a loopback host, on the port of a listener that
 * takes loopback connections. Every allowed call would be forwarded back into the sidecar (without its
 * credentials, so answered 401), while readiness sees an upstream port that accepts connections.
 */
function upstreamLoop(c: Config): { port: number; setting: string } | undefined {
  const url = new URL(c.upstream.url);
  const bare = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, '');
  // Connecting to the unspecified address reaches this host's loopback (Linux): 0.0.0.0 is 127.0.0.1.
  const named = bare(url.hostname);
  const upstream = named === '0.0.0.0' ? '127.0.0.1' : named === '::' ? '::1' : named;
  if (!isLoopbackHost(upstream)) return undefined;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  // The listener takes connections to that address: a wildcard (`0.0.0.0` IPv4 only), the same address, or
  // `localhost` on either side (it may resolve to either family). 127.0.0.1 and 127.0.0.2 are two addresses.
  const takesLoopback = (listener: string) => {
    const h = bare(listener);
    if (h === '::' || h === 'localhost' || upstream === 'localhost') return true;
    if (h === '0.0.0.0') return upstream !== '::1';
    return h === upstream;
  };
  const listeners = [
    { port: c.server.port, host: c.server.host, setting: 'server.port' },
    { port: c.admin.port, host: c.admin.host, setting: 'admin.port' },
  ];
  return listeners.find((l) => l.port !== 0 && l.port === port && takesLoopback(l.host));
}

/** `source` follows the path in messages: ` (from AUTHZ_CONFIG)` when no `--config` named it. */
function readConfigFile(file: string, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `(file) ${file}${source}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    ]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError([
      `(file) ${file}${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    ]);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`(file) ${file}${source}: must contain a mapping at the top level`]);
  }
  return parsed as Record<string, unknown>;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) deepMerge(existing, value);
    else target[key] = value;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
