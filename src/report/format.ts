/**
 * The security report as readable text: a heading per section with its total, then an aligned table
 * (`cli/table.ts`); empty sections say `(none)`.
 *
 * @module
 */
import { formatTable } from '../cli/table.js';
import type { SecurityReport } from './build.js';

export function formatReport(r: SecurityReport): string {
  const t = r.totals;
  const counts = <T extends { count: number }>(
    rows: readonly T[],
    header: string,
    pick: (row: T) => string,
  ) =>
    table(
      [header, 'COUNT'],
      rows.map((row) => [pick(row), String(row.count)]),
    );
  const sections = [
    `Security report ${r.since} .. ${r.until} (hourly counters: the first hour counts whole)\n`,
    section(
      `Failed authentications: ${t.authFailures}`,
      counts(r.authFailures, 'REASON', (x) => x.reason),
    ),
    section(
      'Failed authentications by client IP',
      counts(r.authFailuresByIp, 'IP', (x) => x.ip),
    ),
    section(
      `Denials: ${t.denials}`,
      counts(r.denials, 'TOOL', (x) => x.tool),
    ),
    section(
      'Denied subjects',
      counts(r.deniedSubjects, 'SUBJECT', (x) => x.subject),
    ),
    section(
      'Denial reasons',
      counts(r.denialReasons, 'REASON', (x) => x.reason),
    ),
    section(
      `Rate-limited requests: ${t.rateLimited}`,
      counts(r.rateLimited, 'SUBJECT', (x) => x.subject),
    ),
    section(
      'Rate-limited tools',
      counts(r.rateLimitedTools, 'TOOL', (x) => x.tool),
    ),
    section(
      `Anomalies: ${t.anomalies}`,
      table(
        [
          'TIME',
          'RULE',
          'KIND',
          'TENANT',
          'SUBJECT',
          'IP',
          'TOOL',
          'COUNT',
          'WINDOW',
          'ACTION',
          'BLOCKED UNTIL',
        ],
        r.anomalies.map((e) => [
          e.at,
          e.rule,
          e.kind,
          e.tenant ?? '',
          e.subject ?? '',
          e.ip ?? '',
          e.tool ?? '',
          String(e.count),
          `${e.windowSec}s`,
          e.action,
          e.blockedUntil ?? '',
        ]),
      ),
    ),
    section(
      `Active blocks: ${t.blocks}`,
      table(
        ['TARGET', 'VALUE', 'UNTIL', 'CREATED', 'REASON'],
        r.blocks.map((b) => [b.target, b.value, b.until, b.createdAt, b.reason]),
      ),
    ),
  ];
  return sections.join('\n');
}

function section(title: string, body: string): string {
  return `${title}\n${body}`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return rows.length === 0 ? '  (none)\n' : formatTable(headers, rows);
}
