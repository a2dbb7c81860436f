/**
 * Security counters for the report: failed authentications (by reason and by client IP), denials (by
 * tool, subject and reason), rate-limit rejections (by subject and tool) and anomalies. Recording is a
 * Map update, never a store call; the counts are kept per hour in memory and written every
 * `flushIntervalMs` in one store call (hourly hashes that expire after `SECURITY_RETENTION_MS`). A failed
 * write keeps the counts for the next one and is logged once per outage.
 *
 * Counter fields are `<category>|<value>` (the value is everything after the first `|`). A category records
 * at most `MAX_VALUES_PER_HOUR` distinct values an hour per replica; further ones are counted under
 * {@link OTHER}, so callers inventing tool names, or failing logins from ever new addresses, cannot grow the
 * store's hourly hashes (kept 8 days) without bound.
 *
 * @module
 */
import { scrubbedReason } from '../audit/scrubbed-reason.js';
import { redactUriSecrets } from '../audit/uri-secrets.js';
import { headOf } from '../cut-text.js';
import type { Component, ComponentStatus } from '../lifecycle.js';
import { type AbuseEvent, HOUR_MS, type Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

export const SECURITY_FLUSH_INTERVAL_MS = 5_000;
/** Distinct counter fields held between flushes (more are dropped and counted). */
export const MAX_PENDING_FIELDS = 10_000;
/** Anomalies held between flushes. */
export const MAX_PENDING_ANOMALIES = 1_000;
/** Longer values (reasons, subjects) are cut to this many characters. */
export const MAX_VALUE_LENGTH = 200;

/** The counter categories, as stored. */
export const FIELD = {
  authFailureReason: 'af',
  authFailureIp: 'afip',
  denialTool: 'deny',
  denialSubject: 'dsub',
  denialReason: 'dreason',
  rateLimitedSubject: 'rls',
  rateLimitedTool: 'rlt',
  anomalyRule: 'anom',
} as const;

/** Shown for a missing tool or subject (e.g. a denial of `resources/read`, an anonymous caller). */
export const NONE = '-';
/** Distinct values one category records per hour (per replica); the rest count under {@link OTHER}. */
export const MAX_VALUES_PER_HOUR = 1_000;
/** The values past a category's hourly allowance (no tool, subject or address is written this way). */
export const OTHER = '(other)';

export interface SecurityCounters {
  authFailure(reason: string, ip: string): void;
  denial(tool: string | null, subject: string | null, reason: string): void;
  rateLimited(subject: string | null, tool: string | null): void;
  anomaly(e: AbuseEvent): void;
  /** Writes the pending counts now; concurrent calls share one flush. Never throws. */
  flush(): Promise<void>;
}

export interface SecurityCountersStats {
  /** Counts or anomalies dropped because too many were pending (store down for long). */
  readonly dropped: number;
  /** Failed flushes. */
  readonly storeErrors: number;
}

export interface SecurityCountersOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Epoch ms (tests). */
  readonly now?: () => number;
  readonly flushIntervalMs?: number;
}

export function createSecurityCounters(
  opts: SecurityCountersOptions,
): SecurityCounters & Component & { stats(): SecurityCountersStats } {
  return new BatchedSecurityCounters(opts);
}

class BatchedSecurityCounters implements SecurityCounters, Component {
  readonly name = 'security-counters';
  readonly #o: SecurityCountersOptions;
  readonly #now: () => number;
  #hours = new Map<number, Map<string, number>>();
  /** The values each category has recorded, per hour (this hour's and the last one's are kept). */
  #seen = new Map<number, Map<string, Set<string>>>();
  #fields = 0;
  #anomalies: AbuseEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failingSince: number | null = null;
  #dropped = 0;
  #storeErrors = 0;

  constructor(o: SecurityCountersOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#timer ??= setInterval(
      () => void this.flush(),
      this.#o.flushIntervalMs ?? SECURITY_FLUSH_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  status(): ComponentStatus {
    if (this.#failingSince === null) return { state: 'ok' };
    return {
      state: 'warn',
      detail: `security counters not written since ${new Date(this.#failingSince).toISOString()}`,
    };
  }

  stats(): SecurityCountersStats {
    return { dropped: this.#dropped, storeErrors: this.#storeErrors };
  }

  authFailure(reason: string, ip: string): void {
    const hour = this.#hour();
    this.#add(hour, FIELD.authFailureReason, reason);
    this.#add(hour, FIELD.authFailureIp, ip);
  }

  denial(tool: string | null, subject: string | null, reason: string): void {
    const hour = this.#hour();
    // The tool is the caller's choice, a reason may name the resource URI read (a signed URL) or quote the
    // caller's token or key: kept 8 days in the store, so redacted as in the audit record (before the cut,
    // which could drop the `@` that marks a password). A secret quoted is one `[redacted]`, not one value each.
    this.#add(hour, FIELD.denialTool, tool === null ? null : redactUriSecrets(tool));
    this.#add(hour, FIELD.denialSubject, subject);
    this.#add(hour, FIELD.denialReason, scrubbedReason(reason));
  }

  rateLimited(subject: string | null, tool: string | null): void {
    const hour = this.#hour();
    this.#add(hour, FIELD.rateLimitedSubject, subject);
    this.#add(hour, FIELD.rateLimitedTool, tool);
  }

  anomaly(e: AbuseEvent): void {
    const at = Date.parse(e.at);
    this.#add(Number.isFinite(at) ? hourOf(at) : this.#hour(), FIELD.anomalyRule, e.rule);
    if (this.#anomalies.length >= MAX_PENDING_ANOMALIES) this.#dropped++;
    else this.#anomalies.push(e);
  }

  flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  #hour(): number {
    return hourOf(this.#now());
  }

  #add(hour: number, category: string, value: string | null, n = 1): void {
    const text = this.#allowed(
      hour,
      category,
      value === null || value === '' ? NONE : headOf(value, MAX_VALUE_LENGTH),
    );
    const field = `${category}|${text}`;
    let fields = this.#hours.get(hour);
    if (!fields) {
      fields = new Map();
      this.#hours.set(hour, fields);
    }
    const current = fields.get(field);
    if (current !== undefined) {
      fields.set(field, current + n);
    } else if (this.#fields >= MAX_PENDING_FIELDS) {
      this.#dropped += n;
    } else {
      fields.set(field, n);
      this.#fields++;
    }
  }

  /** `text`, or {@link OTHER} once its category has recorded its hourly allowance of other values. */
  #allowed(hour: number, category: string, text: string): string {
    let categories = this.#seen.get(hour);
    if (!categories) {
      categories = new Map();
      this.#seen.set(hour, categories);
      for (const h of this.#seen.keys()) if (h < hour - HOUR_MS) this.#seen.delete(h);
    }
    let values = categories.get(category);
    if (!values) {
      values = new Set();
      categories.set(category, values);
    }
    if (values.has(text)) return text;
    if (values.size >= MAX_VALUES_PER_HOUR) return OTHER;
    values.add(text);
    return text;
  }

  async #flushOnce(): Promise<void> {
    if (this.#hours.size === 0 && this.#anomalies.length === 0) return;
    const hours = this.#hours;
    const anomalies = this.#anomalies;
    this.#hours = new Map();
    this.#anomalies = [];
    this.#fields = 0;
    const now = this.#now();
    try {
      await this.#o.store.recordSecurityCounters({ hours, anomalies }, now);
    } catch (err) {
      this.#storeErrors++;
      for (const [hour, fields] of hours) {
        for (const [field, n] of fields) {
          const bar = field.indexOf('|');
          this.#add(hour, field.slice(0, bar), field.slice(bar + 1), n);
        }
      }
      for (const e of anomalies) {
        if (this.#anomalies.length >= MAX_PENDING_ANOMALIES) this.#dropped++;
        else this.#anomalies.push(e);
      }
      if (this.#failingSince === null) {
        this.#failingSince = now;
        this.#o.logger.warn({ err: (err as Error).message }, 'security counters not written; will retry');
      }
      return;
    }
    if (this.#failingSince !== null) this.#o.logger.info('security counters written again');
    this.#failingSince = null;
  }
}

/** Start of the hour (epoch ms) that contains `ms`. */
export function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}
