/**
 * `mcp-authz tokens revoke <jti>`: revoke a JWT by its `jti` in the shared store until it expires
 * (`--expires-at`, `--expires-in`, default 24 h — give the token's own `exp` when known: the revocation is
 * applied for `REVOCATION_GRACE_SEC` (5 min) past it, so it outlasts every clock tolerance a verifier allows).
 *
 * @module
 */
import type { Command } from 'commander';
import { REVOCATION_GRACE_SEC } from '../store/store.js';
import { parseDuration, parseTime, withStore } from './keys.js';
import { type CliIo, formatJson, processIo } from './table.js';

const DEFAULT_REVOCATION = '24h';

interface RevokeOpts {
  readonly expiresAt?: string;
  readonly expiresIn?: string;
  readonly json?: boolean;
}

export function register(program: Command, io: CliIo = processIo): void {
  const tokens = program.command('tokens').description('manage JWT revocations (in the shared Redis store)');
  tokens
    .command('revoke')
    .description('revoke a token by jti; every sidecar refuses it within a second')
    .argument('<jti>', 'the token id (jti claim)')
    .option(
      '--expires-at <time>',
      "keep the revocation until this time (ISO 8601 or epoch seconds; the token's exp)",
    )
    .option('--expires-in <duration>', `keep the revocation this long (default ${DEFAULT_REVOCATION})`)
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((jti: string, _opts: RevokeOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        const o = cmd.optsWithGlobals<RevokeOpts>();
        if (o.expiresAt && o.expiresIn) throw new Error('give --expires-at or --expires-in, not both');
        const until = o.expiresAt
          ? parseTime(o.expiresAt)
          : new Date(Date.now() + parseDuration(o.expiresIn ?? DEFAULT_REVOCATION));
        // Applied REVOCATION_GRACE_SEC past `until` (a token is accepted up to its clock tolerance after exp).
        if (until.getTime() + REVOCATION_GRACE_SEC * 1000 <= Date.now()) {
          throw new Error('the revocation would already have lapsed');
        }
        await store.revokeToken(jti, Math.ceil(until.getTime() / 1000));
        if (o.json) io.out(formatJson({ revoked: jti, until: until.toISOString() }));
        else io.out(`revoked token ${jti} until ${until.toISOString()}\n`);
      }),
    );
}
