/**
 * `mcp-authz blocks list|add|lift`: the blocks every sidecar enforces (set by abuse rules or here), in
 * the shared Redis store named by the config. Subjects are written `tenant/subject`; a bare `subject`
 * (or `*\/subject`) blocks it in every tenant, `/subject` a caller without a tenant. Every replica picks a
 * change up within a block poll (500 ms by default).
 *
 * @module
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { abuseIpTarget, ipv6Prefix64, normalizeIp, parseSubjectArg } from '../abuse/targets.js';
import { durationMs } from '../config/duration.js';
import type { BlockEntry, BlockTarget, Store } from '../store/store.js';
import { parseDuration, withStore } from './keys.js';
import { type CliIo, formatJson, formatTable, processIo } from './table.js';

/** The longest block `blocks add --for` takes (a bigger number is a typo, or no date at all). */
const MAX_BLOCK_MS = 10 * 365 * 24 * 3600 * 1000;

const DEFAULT_REASON = 'blocked by an operator';

interface GlobalOpts {
  readonly config?: string;
  readonly json?: boolean;
}

interface AddOpts extends GlobalOpts {
  readonly subject?: string;
  readonly ip?: string;
  readonly for: string;
  readonly reason?: string;
}

export function register(program: Command, io: CliIo = processIo): void {
  const blocks = program
    .command('blocks')
    .description('list, add and lift blocks of subjects and client IPs (in the shared Redis store)');
  blocks
    .command('list')
    .description('list live blocks')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((_opts: GlobalOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        const { entries } = await store.blocks(Date.now());
        if (cmd.optsWithGlobals<GlobalOpts>().json) {
          io.out(formatJson(entries));
          return;
        }
        const rows = entries.map((b) => [b.target, b.value, b.until, b.createdAt, b.reason]);
        io.out(
          rows.length ? formatTable(['TARGET', 'VALUE', 'UNTIL', 'CREATED', 'REASON'], rows) : 'no blocks\n',
        );
      }),
    );
  blocks
    .command('add')
    .description('block a subject or a client IP for a while (replaces an existing block of it)')
    .option('--subject <tenant/subject>', 'subject to block (bare subject or */subject: every tenant)')
    .option('--ip <ip>', 'client IP address to block')
    .requiredOption('--for <duration>', 'how long, e.g. 15m, 1h, 7d')
    .option('--reason <text>', `shown in listings and the report (default "${DEFAULT_REASON}")`)
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((_opts: AddOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        const o = cmd.optsWithGlobals<AddOpts>();
        if ((o.subject === undefined) === (o.ip === undefined))
          throw new Error('give --subject or --ip (one of them)');
        const now = Date.now();
        // The block's own limit first: it is the one to name (parseDuration refuses 100 years and more).
        if ((durationMs(o.for) ?? 0) > MAX_BLOCK_MS)
          throw new Error(`--for ${o.for} is longer than the limit of 10 years`);
        const forMs = parseDuration(o.for);
        const entry: BlockEntry = {
          target: o.ip !== undefined ? 'ip' : 'subject',
          value: o.ip !== undefined ? ipArg(o.ip) : parseSubjectArg(o.subject ?? ''),
          reason: o.reason ?? DEFAULT_REASON,
          until: new Date(now + forMs).toISOString(),
          createdAt: new Date(now).toISOString(),
        };
        await store.putBlock(entry, { nowMs: now });
        if (o.json) io.out(formatJson(entry));
        else io.out(`blocked ${entry.target} ${entry.value} until ${entry.until}\n`);
      }),
    );
  blocks
    .command('lift')
    .description('lift the block of a subject or client IP')
    .argument('<subject|ip>', 'tenant/subject (as in `blocks list`) or IP address')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((arg: string, _opts: GlobalOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        const [lifted, ...alsoLifted] = await lift(store, arg, Date.now());
        if (!lifted) throw new Error(`no live block for ${arg}`);
        if (cmd.optsWithGlobals<GlobalOpts>().json)
          io.out(formatJson(alsoLifted.length ? { lifted, alsoLifted } : { lifted }));
        else for (const b of [lifted, ...alsoLifted]) io.out(`lifted block of ${b.target} ${b.value}\n`);
      }),
    );
}

/**
 * Tries the argument as an IP, then as shown by `blocks list`, then as typed by a person; returns the
 * blocks lifted (none, one, or for a NAT64 address two).
 */
async function lift(
  store: Store,
  arg: string,
  now: number,
): Promise<{ target: BlockTarget; value: string }[]> {
  const text = arg.trim();
  // An address lifts its own block, else its IPv6 /64's (what the auth_failures_ip rules block); the /64
  // as `blocks list` shows it (`2001:db8:0:1::/64`) lifts that. A NAT64 address (`64:ff9b::/96`) also
  // lifts the block of the IPv4 address it carries, which the rules write and every replica enforces on it.
  const shownPrefix = text.endsWith('/64') && isIP(text.slice(0, -3)) === 6 ? text.slice(0, -3) : undefined;
  if (isIP(text) || shownPrefix) {
    const lifted: { target: BlockTarget; value: string }[] = [];
    const values = shownPrefix ? [ipv6Prefix64(shownPrefix)] : [normalizeIp(text), ipv6Prefix64(text)];
    for (const value of values) {
      if (value && (await store.liftBlock('ip', value, now))) {
        lifted.push({ target: 'ip', value });
        break;
      }
    }
    const carried = shownPrefix ? undefined : abuseIpTarget(text);
    if (carried && isIP(carried) === 4 && carried !== normalizeIp(text)) {
      if (await store.liftBlock('ip', carried, now)) lifted.push({ target: 'ip', value: carried });
    }
    return lifted;
  }
  const candidates = new Set<string>();
  if (arg.includes('/')) candidates.add(arg);
  candidates.add(parseSubjectArg(arg));
  for (const value of candidates) {
    if (await store.liftBlock('subject', value, now)) return [{ target: 'subject', value }];
  }
  return [];
}

function ipArg(text: string): string {
  if (!isIP(text.trim())) throw new Error(`not an IP address: "${text}" (ranges are not supported)`);
  return normalizeIp(text);
}
