/**
 * The explicit list of environment overrides. Only these `AUTHZ_*` variables are read; each names the
 * dotted config path it sets and how its text is parsed. Precedence: env > file > default.
 *
 * @module
 */

type Parse = (raw: string) => unknown;

const text: Parse = (raw) => raw;
const int: Parse = (raw) => (/^-?\d+$/.test(raw.trim()) ? Number(raw) : raw);
/** The spellings a boolean variable takes, in any case; anything else is left for the schema to refuse. */
export const TRUE_WORDS = ['true', '1', 'yes', 'on'] as const;
export const FALSE_WORDS = ['false', '0', 'no', 'off'] as const;
const bool: Parse = (raw) => {
  const word = raw.trim().toLowerCase();
  if ((TRUE_WORDS as readonly string[]).includes(word)) return true;
  if ((FALSE_WORDS as readonly string[]).includes(word)) return false;
  return raw;
};
const list: Parse = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

export interface EnvOverride {
  readonly name: string;
  readonly path: string;
  readonly parse: Parse;
}

export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: 'AUTHZ_HOST', path: 'server.host', parse: text },
  { name: 'AUTHZ_PORT', path: 'server.port', parse: int },
  { name: 'AUTHZ_MCP_PATH', path: 'server.mcpPath', parse: text },
  { name: 'AUTHZ_ALLOWED_ORIGINS', path: 'server.allowedOrigins', parse: list },
  { name: 'AUTHZ_MAX_BODY_BYTES', path: 'server.maxBodyBytes', parse: int },
  { name: 'AUTHZ_ADMIN_HOST', path: 'admin.host', parse: text },
  { name: 'AUTHZ_ADMIN_PORT', path: 'admin.port', parse: int },
  { name: 'AUTHZ_UPSTREAM_URL', path: 'upstream.url', parse: text },
  { name: 'AUTHZ_POLICY_BUNDLE', path: 'policy.bundle', parse: text },
  { name: 'AUTHZ_POLICY_WATCH', path: 'policy.watch', parse: bool },
  { name: 'AUTHZ_POLICY_TIMEZONE', path: 'policy.timezone', parse: text },
  { name: 'AUTHZ_ENVIRONMENT', path: 'policy.environment', parse: text },
  { name: 'AUTHZ_POLICY_DECISION_CACHE', path: 'policy.decisionCache.enabled', parse: bool },
  { name: 'AUTHZ_POLICY_PERSIST_DIR', path: 'policy.persistDir', parse: text },
  { name: 'AUTHZ_AUTHN_MODE', path: 'authn.mode', parse: text },
  { name: 'AUTHZ_RESOURCE', path: 'authn.resource', parse: text },
  { name: 'AUTHZ_JWT_ISSUERS', path: 'authn.jwt.issuers', parse: list },
  { name: 'AUTHZ_JWT_JWKS_URI', path: 'authn.jwt.jwksUri', parse: text },
  { name: 'AUTHZ_JWT_AUDIENCES', path: 'authn.jwt.audiences', parse: list },
  { name: 'AUTHZ_JWT_HS_SECRET_FILE', path: 'authn.jwt.hsSecretFile', parse: text },
  { name: 'AUTHZ_AUTHORIZATION_SERVERS', path: 'authn.resourceMetadata.authorizationServers', parse: list },
  { name: 'AUTHZ_API_KEY_PEPPER_FILE', path: 'authn.apiKeys.pepperFile', parse: text },
  { name: 'AUTHZ_REDIS_URL', path: 'store.redisUrl', parse: text },
  { name: 'AUTHZ_REDIS_PASSWORD_FILE', path: 'store.passwordFile', parse: text },
  { name: 'AUTHZ_LOG_LEVEL', path: 'log.level', parse: text },
];

/** Environment variables that are read elsewhere through `config/secrets.ts`, listed for the docs. */
export const SECRET_ENV = [
  'AUTHZ_API_KEY_PEPPER',
  'AUTHZ_JWT_HS_SECRET',
  'AUTHZ_REDIS_PASSWORD',
  'AUTHZ_ADMIN_REPORT_TOKEN',
  'AUTHZ_BUNDLE_VERIFICATION_KEY',
  'AUTHZ_BUNDLE_TOKEN',
  'AUTHZ_INTROSPECTION_CLIENT_SECRET',
] as const;

/**
 * `AUTHZ_*` variables the sidecar does not read: most likely a typo (`AUTHZ_REDIS_ULR`), which would
 * otherwise silently leave the setting at its default.
 */
export function unknownEnvNames(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>(['AUTHZ_CONFIG', ...SECRET_ENV, ...ENV_OVERRIDES.map((o) => o.name)]);
  return Object.keys(env)
    .filter((n) => n.startsWith('AUTHZ_') && !known.has(n))
    .sort();
}

/** The variable that set each dotted path, for error messages (`server.port (from AUTHZ_PORT)`). */
export function envSources(used: readonly string[]): Map<string, string> {
  return new Map(ENV_OVERRIDES.filter((o) => used.includes(o.name)).map((o) => [o.path, o.name] as const));
}

/** Applies the overrides to a copy of `raw`; returns the names of the variables that were used. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const used: string[] = [];
  for (const o of ENV_OVERRIDES) {
    const value = env[o.name];
    if (value === undefined || value === '') continue;
    setPath(raw, o.path, o.parse(value));
    used.push(o.name);
  }
  return used;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** The process environment, for parts configured by standard variables (OpenTelemetry's `OTEL_*`). */
export function processEnv(): NodeJS.ProcessEnv {
  return process.env;
}
