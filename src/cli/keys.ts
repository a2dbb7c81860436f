/**
 * `mcp-authz keys create|list|revoke`: manage API keys in the store named by the config (`--config`,
 * `AUTHZ_CONFIG`, `AUTHZ_REDIS_URL`, …). A new key is printed once and never again; listings never show
 * hashes. The commands need the shared Redis store: an in-memory store would vanish with the command.
 * Also exports the store/duration helpers `tokens.ts` uses.
 *
 * @module
 */

import type { Command } from 'commander';
import { API_KEY_ID_LENGTH, isApiKeyId, parseApiKey } from '../authn/api-key-format.js';
import { createApiKey } from '../authn/api-keys.js';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { SCOPE_TOKEN } from '../config/schema-common.js';
import { openSecret, type SecretName, secretIssues } from '../config/secrets.js';
import { parseTime } from '../iso-time.js';
import { createStore } from '../store/create-store.js';
import type { ApiKeyRecord, Store } from '../store/store.js';
import { silentLogger } from '../telemetry/logger.js';
import { clearanceWarning } from './clearance.js';
import { loadCliConfig } from './config.js';
import {
  type CliIo,
  display,
  fail,
  formatFields,
  formatJson,
  formatTable,
  oneLine,
  processIo,
} from './table.js';

interface GlobalOpts {
  readonly config?: string;
  readonly json?: boolean;
}

interface CreateOpts extends GlobalOpts {
  readonly subject: string;
  readonly tenant?: string;
  readonly role: string[];
  readonly scope: string[];
  readonly clearance?: string;
  readonly expiresIn?: string;
  readonly expiresAt?: string;
  readonly description?: string;
}

export function register(program: Command, io: CliIo = processIo): void {
  const keys = program.command('keys').description('manage API keys (in the shared Redis store)');
  keys
    .command('create')
    .description('create an API key; the key is printed once')
    .requiredOption('--subject <subject>', 'subject id the key authenticates as')
    .option('--tenant <tenant>', 'tenant')
    .option('--role <role>', 'role (repeatable)', collect, [])
    .option('--scope <scope>', 'one OAuth scope (repeatable)', collect, [])
    .option('--clearance <level>', 'clearance level')
    .option('--expires-in <duration>', 'lifetime, e.g. 30d, 12h (without it or --expires-at: never expires)')
    .option('--expires-at <time>', 'expiry as an ISO 8601 time or epoch seconds')
    .option('--description <text>', 'free text shown in listings')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((_opts: CreateOpts, cmd: Command) =>
      withStore(
        cmd,
        io,
        async (store, config) => {
          const o = cmd.optsWithGlobals<CreateOpts>();
          if (o.expiresIn && o.expiresAt) throw new Error('give --expires-in or --expires-at, not both');
          // One clock reading for both: `--expires-in 90d` is exactly 90 days after `createdAt`.
          const createdAt = Date.now();
          const expiresAt = o.expiresIn
            ? new Date(createdAt + parseDuration(o.expiresIn))
            : o.expiresAt
              ? parseTime(o.expiresAt)
              : null;
          requireReadable(config, 'apiKeyPepper');
          const pepper = openSecret(config, 'apiKeyPepper');
          const value = pepper.get();
          pepper.close();
          if (!value) {
            // The file was read (requireReadable): set, but empty, e.g. an empty Secret key.
            const file = config.authn.apiKeys.pepperFile;
            throw new Error(
              file
                ? `authn.apiKeys.pepperFile: ${file} is empty (and AUTHZ_API_KEY_PEPPER is not set)`
                : 'no API key pepper: set authn.apiKeys.pepperFile or AUTHZ_API_KEY_PEPPER',
            );
          }
          const warning = o.clearance && (await clearanceWarning(config.policy.bundle, o.clearance));
          if (warning) io.err(`mcp-authz: warning: ${warning}\n`);
          const { key, record } = await createApiKey(
            store,
            value,
            {
              subject: o.subject,
              tenant: o.tenant ?? null,
              roles: o.role,
              scopes: o.scope,
              clearance: o.clearance ?? null,
              description: o.description ?? null,
              expiresAt,
              prefix: config.authn.apiKeys.prefix,
            },
            () => createdAt,
          );
          if (o.json) io.out(formatJson({ key, record: publicRecord(record) }));
          else
            io.out(
              `API key (shown once; store it now):\n\n  ${key}\n\n${formatFields(publicRecord(record))}`,
            );
        },
        // Said before the store is opened: a key for a configuration that takes none is likely a mistake
        // (the wrong --config, or the setting left from a JWT-only start), whether or not Redis answers.
        (config) => {
          // As a token's scope claim is split, and as requiredScopes are written: one OAuth scope each. Two
          // in one (`--scope "a b"`) would be a scope no required scope ever matches.
          const bad = cmd.optsWithGlobals<CreateOpts>().scope.find((s) => !SCOPE_TOKEN.test(s));
          if (bad !== undefined) {
            throw new Error(
              `--scope ${JSON.stringify(bad)} is not one OAuth scope (printable ASCII without space, " or \\, at most 128 characters): give --scope once for each scope`,
            );
          }
          if (!config.authn.apiKeys.enabled) {
            io.err(
              'mcp-authz: warning: authn.apiKeys.enabled is false: sidecars with this configuration refuse every API key, this one too (it is created all the same, for sidecars that accept keys)\n',
            );
          }
        },
      ),
    );
  keys
    .command('list')
    .description('list API keys (never their secrets or hashes)')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((_opts: GlobalOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        // A record that does not decode is refused by every sidecar: named here, not shown as a key.
        const records = await store.listApiKeys((bad) =>
          io.err(
            `mcp-authz: warning: ${oneLine(bad.message)}; every sidecar refuses this key (create a new one)\n`,
          ),
        );
        if (cmd.optsWithGlobals<GlobalOpts>().json) {
          io.out(formatJson(records.map(publicRecord)));
          return;
        }
        const headers = ['ID', 'SUBJECT', 'TENANT', 'ROLES', 'ACTIVE', 'EXPIRES', 'LAST USED', 'USES'];
        const now = Date.now();
        // `active` is cleared by a revocation only: a key past its expiry is refused all the same.
        const state = (r: ApiKeyRecord) =>
          !r.active ? 'no' : r.expiresAt && Date.parse(r.expiresAt) <= now ? 'expired' : 'yes';
        const rows = records.map((r) =>
          [r.id, r.subject, r.tenant, r.roles, state(r), r.expiresAt, r.lastUsedAt, r.usageCount].map(
            display,
          ),
        );
        io.out(formatTable(headers, rows));
      }),
    );
  keys
    .command('revoke')
    .description('revoke an API key (every sidecar refuses it within a second)')
    .argument('<id>', 'key id (the middle part of the key, as in `keys list`), or the whole key')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((arg: string, _opts: GlobalOpts, cmd: Command) =>
      withStore(cmd, io, async (store, config) => {
        const id = keyIdArgument(arg, config.authn.apiKeys.prefix);
        if (!(await store.revokeApiKey(id))) throw new Error(`no API key with id ${id}`);
        if (cmd.optsWithGlobals<GlobalOpts>().json) io.out(formatJson({ revoked: id }));
        else io.out(`revoked API key ${id}\n`);
      }),
    );
}

/**
 * The key id `arg` names: an id as `keys list` shows it, or a whole key pasted from where it leaked (its id
 * is used). Anything else is refused without showing it: it may be a key's secret, or a key pasted without
 * its prefix (`<id>_<secret>`).
 */
export function keyIdArgument(arg: string, prefix: string): string {
  const parts = parseApiKey(arg, prefix);
  if (parts) return parts.id;
  if (isApiKeyId(arg)) return arg;
  throw new Error(
    `not a key id (${API_KEY_ID_LENGTH} characters, a-z and 2-7, as \`keys list\` shows it) nor a whole key; what was given is not shown, as it may hold a secret`,
  );
}

/** Fails, naming the file, when the secret's configured file cannot be read (as `serve` does at start). */
function requireReadable(config: Config, secret: SecretName): void {
  const unreadable = secretIssues(config, process.env, [secret]);
  if (unreadable.length) throw new Error(unreadable.join('; '));
}

/** `keys` for `keys list`, `report` for `report`: the command under the program. */
function commandGroup(cmd: Command): string {
  return cmd.parent?.parent ? cmd.parent.name() : cmd.name();
}

/**
 * Loads the config, opens the shared store, runs `fn`, closes the store; any failure → one line, exit 1.
 * `beforeStore` is called with the config before the store is opened (warnings about the configuration).
 */
export async function withStore(
  cmd: Command,
  io: CliIo,
  fn: (store: Store, config: Config) => Promise<void>,
  beforeStore?: (config: Config) => void,
): Promise<void> {
  let store: Store | undefined;
  let failure: unknown;
  try {
    const config = loadCliConfig(cmd.optsWithGlobals<GlobalOpts>().config, io);
    if (!config.store.redisUrl) {
      throw new Error(
        `store.redisUrl is not set (AUTHZ_REDIS_URL): \`${commandGroup(cmd)}\` works on the shared Redis store (keys, revocations, blocks and the report live there)`,
      );
    }
    beforeStore?.(config);
    requireReadable(config, 'redisPassword');
    store = createStore(config, { logger: silentLogger() });
    await store.start();
    const status = store.status();
    if (status.state !== 'ok') throw new Error(`store unavailable: ${status.detail ?? status.state}`);
    await fn(store, config);
  } catch (err) {
    failure = err;
  } finally {
    await store?.stop().catch(() => undefined);
  }
  if (failure !== undefined) fail(io, failure);
}

function publicRecord(r: ApiKeyRecord): Omit<ApiKeyRecord, 'hash'> {
  const { hash: _hash, ...rest } = r;
  return rest;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export { parseDuration };
