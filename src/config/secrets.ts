/**
 * Secrets: the API-key pepper, the JWT HS* secret, the introspection client secret, the Redis password,
 * the admin report token, the bundle verification key and the bundle download token. Each comes from a file (a
 * Kubernetes Secret mount; one trailing newline is trimmed) or an `AUTHZ_*` environment variable; the file
 * wins. A file is re-read when it changes: its identity (inode, size, mtime, ctime — `stat` follows the
 * `..data` symlink swap Kubernetes does) is polled every second and can be checked on demand with
 * `refresh()`. Values are never logged. Together with the rest of `config/`, this is the only place that
 * reads `process.env`.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '../telemetry/logger.js';
import type { SECRET_ENV } from './env.js';
import type { Config } from './schema.js';

export type SecretEnvName = (typeof SECRET_ENV)[number];

/** How often a secret file is checked for changes. */
export const SECRET_POLL_INTERVAL_MS = 1_000;

export interface SecretSource {
  /** Short name for logs (`apiKeyPepper`), never the value. */
  readonly name: string;
  /** The current value, or null when neither the file nor the variable provides one. */
  get(): Buffer | null;
  /** Checks the file now and returns the (possibly new) value. */
  refresh(): Buffer | null;
  /** Where the current value came from (for logs and status). */
  origin(): 'file' | 'env' | 'none';
  /** Stops polling. */
  close(): void;
}

export interface SecretSourceOptions {
  readonly name: string;
  readonly file?: string | undefined;
  readonly envVar: SecretEnvName;
  readonly env?: NodeJS.ProcessEnv;
  readonly pollIntervalMs?: number;
  readonly logger?: Logger;
  /** A changed file holding fewer bytes is not taken (the previous value is kept, with a warning). */
  readonly minBytes?: number;
}

interface SecretSpec {
  readonly envVar: SecretEnvName;
  /** The setting naming the file (for messages) and its value. */
  readonly setting: string;
  readonly file: (c: Config) => string | undefined;
  /** Whether the configured features use the secret (`serve` checks only those files at start). */
  readonly inUse: (c: Config) => boolean;
}

/** The secrets the sidecar knows: their variable, the setting of their file, and when they are used. */
export const SECRETS = {
  apiKeyPepper: {
    envVar: 'AUTHZ_API_KEY_PEPPER',
    setting: 'authn.apiKeys.pepperFile',
    file: (c: Config) => c.authn.apiKeys.pepperFile,
    inUse: (c: Config) => c.authn.apiKeys.enabled,
  },
  jwtHsSecret: {
    envVar: 'AUTHZ_JWT_HS_SECRET',
    setting: 'authn.jwt.hsSecretFile',
    file: (c: Config) => c.authn.jwt.hsSecretFile,
    inUse: (c: Config) => c.authn.jwt.enabled && c.authn.jwt.algorithms.some((a) => a.startsWith('HS')),
  },
  redisPassword: {
    envVar: 'AUTHZ_REDIS_PASSWORD',
    setting: 'store.passwordFile',
    file: (c: Config) => c.store.passwordFile,
    inUse: (c: Config) => c.store.redisUrl !== undefined,
  },
  adminReportToken: {
    envVar: 'AUTHZ_ADMIN_REPORT_TOKEN',
    setting: 'admin.reportTokenFile',
    file: (c: Config) => c.admin.reportTokenFile,
    inUse: () => true,
  },
  bundleVerificationKey: {
    envVar: 'AUTHZ_BUNDLE_VERIFICATION_KEY',
    setting: 'policy.verification.keyFile',
    file: (c: Config) => c.policy.verification?.keyFile,
    inUse: (c: Config) => c.policy.verification !== undefined,
  },
  introspectionClientSecret: {
    envVar: 'AUTHZ_INTROSPECTION_CLIENT_SECRET',
    setting: 'authn.introspection.clientSecretFile',
    file: (c: Config) => c.authn.introspection?.clientSecretFile,
    inUse: (c: Config) => c.authn.introspection !== undefined,
  },
  bundleToken: {
    envVar: 'AUTHZ_BUNDLE_TOKEN',
    setting: 'policy.bundleTokenFile',
    file: (c: Config) => c.policy.bundleTokenFile,
    inUse: (c: Config) => /^https?:\/\//i.test(c.policy.bundle),
  },
} as const satisfies Record<string, SecretSpec>;

export type SecretName = keyof typeof SECRETS;

/**
 * The least the secrets that guard something a caller can try guesses against must hold: the API-key pepper
 * (the keys' hashes are keyed with it) and the report token (a bearer for `/report`). `openssl rand -hex 32`
 * gives 64.
 */
export const MIN_SECRET_BYTES: Partial<Record<SecretName, number>> = {
  apiKeyPepper: 16,
  adminReportToken: 16,
};

/**
 * The problems, as config issues, of the secrets `serve` will use: a file that cannot be read now
 * (`authn.apiKeys.pepperFile: … cannot be read (ENOENT)`), so a missing Secret mount stops the sidecar instead
 * of starting it with API keys refused or Redis answering NOAUTH, and a value shorter than
 * {@link MIN_SECRET_BYTES} from the file or its `AUTHZ_*` variable (an empty file of such a secret, too,
 * when the variable is not set). A secret counts only when its feature is
 * on; an unreadable file only when the variable (the fallback) is not set. Checked once at start (later, a
 * file that turns unreadable keeps its last value: a Kubernetes Secret update swaps symlinks). The CLI asks
 * about `only` the secrets a command uses.
 */
export function secretIssues(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  only: readonly SecretName[] = Object.keys(SECRETS) as SecretName[],
): string[] {
  const issues: string[] = [];
  for (const name of only) {
    const spec: SecretSpec = SECRETS[name];
    if (!spec.inUse(config)) continue;
    const file = spec.file(config);
    const fromEnv = env[spec.envVar] ? Buffer.from(env[spec.envVar] as string, 'utf8') : null;
    let fromFile: Buffer | null = null;
    if (file) {
      try {
        fromFile = trimOneNewline(readFileSync(file));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        if (!fromEnv) issues.push(`${spec.setting}: ${file} cannot be read (${code})`);
      }
    }
    // As the secret source reads it: a file with a value wins, else the variable.
    const value = fromFile?.length ? fromFile : fromEnv;
    const min = MIN_SECRET_BYTES[name];
    if (fromFile?.length === 0 && !fromEnv && min !== undefined) {
      // A Secret made from an unset variable: 0 bytes, as short as a secret gets, not a secret left unset.
      issues.push(`${spec.setting}: ${file} is empty (and ${spec.envVar} is not set)`);
    } else if (value && min !== undefined && value.length < min) {
      const from = value === fromFile ? spec.setting : spec.envVar;
      issues.push(`${from}: must be at least ${min} bytes (has ${value.length}); e.g. openssl rand -hex 32`);
    }
  }
  return issues;
}

/** Opens the named secret as configured by `config` (file) and the environment (variable). */
export function openSecret(
  config: Config,
  name: SecretName,
  options: Omit<SecretSourceOptions, 'name' | 'file' | 'envVar'> = {},
): SecretSource {
  const spec = SECRETS[name];
  const minBytes = MIN_SECRET_BYTES[name];
  return createSecretSource({
    ...options,
    name,
    file: spec.file(config),
    envVar: spec.envVar,
    ...(minBytes !== undefined ? { minBytes } : {}),
  });
}

export function createSecretSource(options: SecretSourceOptions): SecretSource {
  return new FileOrEnvSecret(options);
}

class FileOrEnvSecret implements SecretSource {
  readonly name: string;
  readonly #file: string | undefined;
  readonly #envValue: Buffer | null;
  readonly #logger: Logger | undefined;
  readonly #minBytes: number;
  #fileValue: Buffer | null = null;
  #identity: string | null = null;
  #fileProblem: string | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SecretSourceOptions) {
    this.name = options.name;
    this.#file = options.file;
    this.#logger = options.logger;
    this.#minBytes = options.minBytes ?? 0;
    const raw = (options.env ?? process.env)[options.envVar];
    this.#envValue = raw ? Buffer.from(raw, 'utf8') : null;
    if (this.#file) {
      this.#check();
      this.#timer = setInterval(() => this.#check(), options.pollIntervalMs ?? SECRET_POLL_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  get(): Buffer | null {
    return this.#fileValue ?? this.#envValue;
  }

  refresh(): Buffer | null {
    if (this.#file) this.#check();
    return this.get();
  }

  origin(): 'file' | 'env' | 'none' {
    return this.#fileValue ? 'file' : this.#envValue ? 'env' : 'none';
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const file = this.#file as string;
    try {
      const identity = fileIdentity(file);
      if (identity === this.#identity) return;
      const value = trimOneNewline(readFileSync(file));
      const changed = this.#identity !== null;
      this.#identity = identity;
      // Refused at start (secretIssues); a rotation to a short value keeps the last one, as a bad file does. So
      // does an emptied one (a rewrite in place is empty for a moment): dropping it would refuse every key.
      if (value.length < this.#minBytes && (value.length > 0 || this.#fileValue !== null)) {
        this.#logger?.warn(
          { secret_name: this.name, file, bytes: value.length, minBytes: this.#minBytes },
          'secret file holds too short a value; the previous one is kept',
        );
        return;
      }
      // An empty file provides no secret (falls back to the variable), unless one of a least length was read.
      this.#fileValue = value.length > 0 ? value : null;
      if (this.#fileProblem)
        this.#logger?.info({ secret_name: this.name, file }, 'secret file readable again');
      else if (changed) this.#logger?.info({ secret_name: this.name, file }, 'secret file changed; reloaded');
      this.#fileProblem = null;
    } catch (err) {
      // Keep the last good value: a Kubernetes symlink swap can make the file briefly unreadable.
      const problem = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      if (problem !== this.#fileProblem) {
        this.#logger?.warn(
          { secret_name: this.name, file, problem, keptPrevious: this.#fileValue !== null },
          'secret file cannot be read',
        );
      }
      this.#fileProblem = problem;
      this.#identity = null;
    }
  }
}

/**
 * What a file is now: device, inode, size and times (`stat` follows the `..data` symlink a Kubernetes Secret
 * or ConfigMap update swaps). A new value means the file was replaced or written. Throws when it is gone.
 */
export function fileIdentity(file: string): string {
  const st = statSync(file);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function trimOneNewline(buf: Buffer): Buffer {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) {
    end--;
    if (end > 0 && buf[end - 1] === 0x0d) end--;
  }
  return end === buf.length ? buf : buf.subarray(0, end);
}
