/**
 * `mcp-authz tokens revoke <jti|token>`: revoke a token by its `jti` — a JWT's (or the whole JWT pasted: its
 * `jti` and `exp` are read from it, and it is never echoed), or with `authn.introspection` an opaque token's, as
 * the introspection endpoint names it — in the shared store until it expires
 * (`--expires-at`, `--expires-in`, default 24 h — give the token's own `exp` when known: the revocation is
 * applied for `REVOCATION_GRACE_SEC` (5 min) past it, so it outlasts every clock tolerance a verifier allows).
 *
 * @module
 */
import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { looksLikeJwt } from '../authn/credentials.js';
import type { Config } from '../config/schema.js';
import { parseTime } from '../iso-time.js';
import { REVOCATION_GRACE_SEC } from '../store/store.js';
import { parseDuration, withStore } from './keys.js';
import { type CliIo, formatJson, oneLine, processIo } from './table.js';
import { lookUpToken } from './token-lookup.js';

const DEFAULT_REVOCATION = '24h';

interface RevokeOpts {
  readonly expiresAt?: string;
  readonly expiresIn?: string;
  readonly json?: boolean;
  readonly jti?: boolean;
}

export function register(program: Command, io: CliIo = processIo): void {
  const tokens = program
    .command('tokens')
    .description('revoke JWTs and opaque tokens (introspection) in the shared Redis store');
  tokens
    .command('revoke')
    .description('revoke a token by jti; every sidecar refuses it within a second')
    .argument(
      '<jti>',
      'the token id (jti claim), or the whole token: a JWT (its jti and exp are read from it) or, with authn.introspection, an opaque token (the endpoint names its jti and exp)',
    )
    .option(
      '--expires-at <time>',
      "keep the revocation until this time (ISO 8601 or epoch seconds; the token's exp)",
    )
    .option('--expires-in <duration>', `keep the revocation this long (default ${DEFAULT_REVOCATION})`)
    .option(
      '--jti',
      'the argument is a token id: do not ask the introspection endpoint whether it is an opaque token',
    )
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((arg: string, _opts: RevokeOpts, cmd: Command) =>
      withStore(cmd, io, async (store, config) => {
        const o = cmd.optsWithGlobals<RevokeOpts>();
        if (o.expiresAt && o.expiresIn) throw new Error('give --expires-at or --expires-in, not both');
        const { jti, exp, introspected } = await revokedId(arg, config, o.jti === true);
        const until = o.expiresAt
          ? parseTime(o.expiresAt)
          : o.expiresIn === undefined && exp !== undefined
            ? new Date(exp * 1000)
            : new Date(Date.now() + parseDuration(o.expiresIn ?? DEFAULT_REVOCATION));
        // An exp past the year 275760 (1e13 s) is no date: say so, rather than let the store refuse NaN.
        if (!Number.isFinite(until.getTime())) {
          throw new Error(
            `the token's exp (${exp}) is beyond any date a revocation can be kept until: give --expires-in or --expires-at`,
          );
        }
        // Applied REVOCATION_GRACE_SEC past `until` (a token is accepted up to its clock tolerance after exp).
        if (until.getTime() + REVOCATION_GRACE_SEC * 1000 <= Date.now()) {
          throw new Error('the revocation would already have lapsed');
        }
        await store.revokeToken(jti, Math.ceil(until.getTime() / 1000));
        const via = introspected ? ' (the jti the introspection endpoint named)' : '';
        if (o.json)
          io.out(
            formatJson({
              revoked: jti,
              until: until.toISOString(),
              ...(introspected ? { via: 'introspection' } : {}),
            }),
          );
        // The jti is the token's (or the endpoint's) text: shown escaped, as a table cell is (revoked as it is).
        else io.out(`revoked token ${oneLine(jti)}${via} until ${until.toISOString()}\n`);
      }),
    );
}

/**
 * The id to revoke: a whole JWT's `jti`; with token introspection configured (and not `asJti`), the `jti` of
 * the live opaque token the argument is, as the endpoint names it; else the argument as a token id.
 */
async function revokedId(
  arg: string,
  config: Config,
  asJti: boolean,
): Promise<{ jti: string; exp?: number; introspected?: true }> {
  const token = arg.trim().replace(/^bearer\s+/i, '');
  // Not asked of a JWT cut short nor an API key: refused below, they must not reach the endpoint either. A
  // compact JWE (five parts, an encrypted access token that only introspection can read) is asked.
  const cutShort = token.startsWith('eyJ') && token.split('.').length !== 5;
  const neverAsked = token === '' || cutShort || token.startsWith(`${config.authn.apiKeys.prefix}_`);
  if (config.authn.introspection && !asJti && !looksLikeJwt(token) && !neverAsked) {
    const looked = await lookUpToken(token, config);
    if (looked !== 'inactive') return { ...looked, introspected: true };
  }
  return jtiArgument(arg, config.authn.apiKeys.prefix);
}

/** A token id as typed: printable ASCII without spaces or quotes (UUIDs, base64url, `host:uuid`). */
const JTI = /^[!#-&(-~]{1,128}$/;

/**
 * The `jti` (and `exp`) the argument names: a token id, or a whole JWT pasted in its place (what an operator
 * holds in an incident; surrounding spaces and a `Bearer ` are dropped), read without verifying it: revoking
 * is safe whoever signed it. Anything else is refused without showing it, since it may be a credential
 * (a JWT cut short or quoted, an API key, an opaque token): revoking it as an id would print and store it,
 * and revoke nothing.
 */
export function jtiArgument(arg: string, apiKeyPrefix: string): { jti: string; exp?: number } {
  const token = arg.trim().replace(/^bearer\s+/i, '');
  const whole = fromWholeToken(token);
  if (whole) return whole;
  // Base64url of a JSON header always starts with `eyJ`: a token cut short, or with more than three parts.
  if (JTI.test(arg) && !arg.startsWith('eyJ') && !arg.startsWith(`${apiKeyPrefix}_`)) return { jti: arg };
  throw new Error(`not a token id nor a whole JWT: ${notAJtiHint(token, apiKeyPrefix)}`);
}

/** What to do instead, for a refused argument; it says what the argument looks like, never shows it. */
function notAJtiHint(token: string, apiKeyPrefix: string): string {
  const unshown = 'what was given is not shown, as it may be a credential';
  if (token.startsWith(`${apiKeyPrefix}_`))
    return `it is shaped as an API key: API keys are revoked with \`keys revoke\`; ${unshown}`;
  if (/^["']?eyJ/.test(token))
    return `it starts as a JWT does but is not one whole JWT (three dot-separated parts, unquoted): paste the whole token, or give its jti; ${unshown}`;
  return `a token id is up to 128 printable characters, no spaces or quotes; ${unshown} (API keys are revoked with \`keys revoke\`)`;
}

/**
 * The `jti` and `exp` of a whole JWT, or undefined for anything else. A JWT without a `jti` cannot be
 * revoked: refused, without echoing it.
 */
function fromWholeToken(arg: string): { jti: string; exp?: number } | undefined {
  if (!looksLikeJwt(arg)) return undefined;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(arg);
  } catch {
    throw new Error('the argument looks like a token, but its payload cannot be read');
  }
  if (typeof claims.jti !== 'string' || claims.jti === '') {
    throw new Error(
      'the token has no jti claim: it cannot be revoked by id (rotate its signing key instead)',
    );
  }
  return typeof claims.exp === 'number' ? { jti: claims.jti, exp: claims.exp } : { jti: claims.jti };
}
