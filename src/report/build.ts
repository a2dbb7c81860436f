/**
 * Builds the security report from the store: the hourly counters of the period (each hour that overlaps
 * it counts whole), the anomalies recorded in it and the blocks live now. Lists are sorted by count
 * (largest first) and cut to `top` rows; `totals` count everything.
 *
 * @module
 */

import type { AbuseEvent, BlockEntry } from '../abuse/types.js';
import { HOUR_MS, SECURITY_RETENTION_MS, type Store } from '../store/store.js';
import { FIELD, hourOf } from './counters.js';

export const REPORT_TOP = 50;
export const REPORT_MAX_ANOMALIES = 200;

export interface SecurityReport {
  /** ISO 8601 start (clamped to the retention period). */
  readonly since: string;
  readonly until: string;
  readonly totals: {
    readonly authFailures: number;
    readonly denials: number;
    readonly rateLimited: number;
    readonly anomalies: number;
    readonly blocks: number;
  };
  readonly authFailures: { reason: string; count: number }[];
  readonly authFailuresByIp: { ip: string; count: number }[];
  readonly denials: { tool: string; count: number }[];
  readonly denialReasons: { reason: string; count: number }[];
  readonly deniedSubjects: { subject: string; count: number }[];
  readonly rateLimited: { subject: string; count: number }[];
  readonly rateLimitedTools: { tool: string; count: number }[];
  /** Newest first. */
  readonly anomalies: AbuseEvent[];
  readonly blocks: BlockEntry[];
}

export interface BuildReportOptions {
  /** Rows per list (default `REPORT_TOP`). */
  readonly top?: number;
  /** Anomalies listed (default `REPORT_MAX_ANOMALIES`). */
  readonly maxAnomalies?: number;
}

export async function buildReport(
  store: Store,
  sinceMs: number,
  nowMs: number,
  opts: BuildReportOptions = {},
): Promise<SecurityReport> {
  const since = Math.max(sinceMs, nowMs - SECURITY_RETENTION_MS);
  const hours: number[] = [];
  for (let h = hourOf(since); h <= nowMs; h += HOUR_MS) hours.push(h);
  const [counters, anomalies, blocks] = await Promise.all([
    store.securityCounters(hours),
    store.anomalies(since, nowMs, opts.maxAnomalies ?? REPORT_MAX_ANOMALIES),
    store.blocks(nowMs),
  ]);
  const top = opts.top ?? REPORT_TOP;
  const rows = (category: string) => countsOf(counters, category);
  const list = <K extends string>(category: string, key: K) =>
    rows(category)
      .slice(0, top)
      .map(([value, count]) => ({ [key]: value, count }) as { [P in K]: string } & { count: number });
  return {
    since: new Date(since).toISOString(),
    until: new Date(nowMs).toISOString(),
    totals: {
      authFailures: sum(rows(FIELD.authFailureReason)),
      denials: sum(rows(FIELD.denialTool)),
      rateLimited: sum(rows(FIELD.rateLimitedSubject)),
      anomalies: sum(rows(FIELD.anomalyRule)),
      blocks: blocks.entries.length,
    },
    authFailures: list(FIELD.authFailureReason, 'reason'),
    authFailuresByIp: list(FIELD.authFailureIp, 'ip'),
    denials: list(FIELD.denialTool, 'tool'),
    denialReasons: list(FIELD.denialReason, 'reason'),
    deniedSubjects: list(FIELD.denialSubject, 'subject'),
    rateLimited: list(FIELD.rateLimitedSubject, 'subject'),
    rateLimitedTools: list(FIELD.rateLimitedTool, 'tool'),
    anomalies,
    blocks: [...blocks.entries],
  };
}

/** [value, count] of one category, largest first, then by value. */
function countsOf(counters: ReadonlyMap<string, number>, category: string): [string, number][] {
  const prefix = `${category}|`;
  const out: [string, number][] = [];
  for (const [field, n] of counters)
    if (field.startsWith(prefix) && n > 0) out.push([field.slice(prefix.length), n]);
  return out.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function sum(rows: readonly [string, number][]): number {
  return rows.reduce((s, [, n]) => s + n, 0);
}
