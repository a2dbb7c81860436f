/**
 * `mcp-authz report [--since 24h] [--json]`: the security report (failed authentications, denials,
 * rate-limit rejections, anomalies, blocks) from the counters in the shared Redis store.
 *
 * @module
 */
import type { Command } from 'commander';
import { buildReport } from '../report/build.js';
import { formatReport } from '../report/format.js';
import { DEFAULT_SINCE, parseSince } from '../report/since.js';
import { withStore } from './keys.js';
import { type CliIo, formatJson, processIo } from './table.js';

interface ReportOpts {
  readonly config?: string;
  readonly json?: boolean;
  readonly since: string;
}

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('report')
    .description('security report: failed authentications, denials, rate limiting, anomalies and blocks')
    .option('--since <when>', 'period: a duration back from now (24h, 7d) or an ISO 8601 time', DEFAULT_SINCE)
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .option('--json', 'print JSON')
    .action((_opts: ReportOpts, cmd: Command) =>
      withStore(cmd, io, async (store) => {
        const o = cmd.optsWithGlobals<ReportOpts>();
        const now = Date.now();
        const report = await buildReport(store, parseSince(o.since, now), now);
        io.out(o.json ? formatJson(report) : formatReport(report));
      }),
    );
}
