/**
 * The sidecar's metric instruments (STYLE R9; besides two instruments of their own components' state:
 * `mcp_authz_connections_dropped_total` in `server/connection-limit.ts` and `mcp_authz_policy_dry_run` in
 * `observability.ts`), on one OpenTelemetry `Meter` that feeds both the Prometheus `/metrics` text and OTLP. Labels are bounded by construction: each label value goes through
 * an allow-list (known MCP methods, catalog tool names, error codes, stage names, …) and anything else
 * becomes `other`. A subject, tenant, path or session id is never a label. The allow-lists and the
 * `LabelSet` that applies them are in `metric-labels.ts`.
 *
 * @module
 */

import type { Counter, ObservableCounter, ObservableGauge } from '@opentelemetry/api';
import { type DenyReason, ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { MCP_METHODS } from '../mcp/methods.js';
import { FAST_BUCKETS, SLOW_BUCKETS } from './histogram-buckets.js';
import {
  DENY_REASONS,
  LabelSet,
  MAX_DYNAMIC_LABELS,
  NONE,
  OTHER,
  RATE_LIMIT_SCOPES,
  RELOAD_RESULTS,
  ROUTES,
  SESSION_EVICTION_RESULTS,
  type SessionEvictionResult,
  STAGES,
  statusClass,
  toolLabels,
} from './metric-labels.js';
import { REVISION_INFO, REVISION_INFO_HELP, revisionInfoText } from './prometheus-text.js';
import { type OtlpOnlyMeter, SemconvMetrics } from './semconv-metrics.js';
import type { MetricSink, TalliedHistogram } from './tallied-histogram.js';
import { TalliedCounter } from './tally.js';

export interface SidecarMetricsOptions {
  /** Route label values (default {@link ROUTES}). */
  readonly routes?: Iterable<string>;
  readonly rateLimitScopes?: Iterable<string>;
  /** Abuse rule names (`abuse.rules[].name`); without them the first 32 names seen are kept. */
  readonly anomalyRules?: Iterable<string>;
  /**
   * The meter read by OTLP only (`Telemetry.otlpOnlyMeter`): it carries the semantic-convention instruments
   * (`semconv-metrics.ts`; `routes` gives each route label's `http.route`, `scheme` the public listener's
   * `url.scheme`) and the revision gauge's OTLP copy. Without it neither is recorded over OTLP.
   */
  readonly otlpOnly?: OtlpOnlyMeter;
}

export class SidecarMetrics {
  private readonly methods = new LabelSet(MCP_METHODS);
  private tools = new LabelSet([]);
  private readonly stages = new LabelSet(STAGES);
  private readonly routes: LabelSet;
  private readonly reasons = new LabelSet(DENY_REASONS);
  private readonly authnCodes = new LabelSet(
    Object.keys(ERROR_CODES).filter((c) => c.startsWith('ERR_AUTHN_')),
  );
  private readonly upstreamCodes = new LabelSet(
    Object.keys(ERROR_CODES).filter((c) => c.startsWith('ERR_UPSTREAM_') || c === 'ERR_INTERNAL'),
  );
  private readonly scopes: LabelSet;
  private readonly rules: LabelSet;
  private readonly reloadResults = new LabelSet(RELOAD_RESULTS);
  private readonly storeOps = new LabelSet([], MAX_DYNAMIC_LABELS);
  private revision: string | null = null;

  private readonly requests: TalliedCounter;
  private readonly requestDuration: TalliedHistogram;
  private readonly decisions: TalliedCounter;
  private readonly decisionDuration: TalliedHistogram;
  private readonly stageDuration: TalliedHistogram;
  private readonly authnFailures: Counter;
  private readonly rateLimitRejections: Counter;
  private readonly anomalies: Counter;
  private readonly policyReloads: Counter;
  private readonly upstreamDuration: TalliedHistogram;
  private readonly upstreamErrors: Counter;
  private readonly storeErrors: Counter;
  private readonly auditDroppedTotal: Counter;
  private readonly sessionsEvicted: Counter;
  /** Kept so the callback stays registered for the meter's lifetime. */
  readonly policyRevisionInfo: ObservableGauge | undefined;
  readonly decisionCacheLookups: ObservableCounter;
  #decisionCache: () => { readonly hits: number; readonly misses: number } | null = () => null;
  readonly #semconv: SemconvMetrics | undefined;

  constructor(sink: MetricSink, opts: SidecarMetricsOptions = {}) {
    const { meter, histograms } = sink;
    this.routes = new LabelSet(opts.routes ?? ROUTES);
    this.scopes = new LabelSet(opts.rateLimitScopes ?? RATE_LIMIT_SCOPES);
    this.rules = new LabelSet(opts.anomalyRules ?? [], opts.anomalyRules ? 0 : MAX_DYNAMIC_LABELS);
    this.#semconv = opts.otlpOnly
      ? new SemconvMetrics(opts.otlpOnly.meter, opts.otlpOnly.routes, opts.otlpOnly.scheme)
      : undefined;
    const fast = { unit: 's', boundaries: FAST_BUCKETS };
    const slow = { unit: 's', boundaries: SLOW_BUCKETS };
    this.requests = new TalliedCounter(
      meter,
      'mcp_authz_requests_total',
      { description: 'HTTP requests answered, by route, status and deny reason (none when not denied).' },
      ['route', 'status', 'reason'],
    );
    this.requestDuration = histograms.create('mcp_authz_request_duration_seconds', {
      description: 'Time from request received to response finished, by route.',
      ...slow,
      label: 'route',
    });
    this.decisions = new TalliedCounter(
      meter,
      'mcp_authz_decisions_total',
      { description: 'Policy decisions, by result, MCP method and tool (catalog names, else other).' },
      ['result', 'method', 'tool'],
    );
    this.decisionDuration = histograms.create('mcp_authz_decision_duration_seconds', {
      description:
        'Policy decision time: wasm evaluation and result check, or the cache lookup (about a microsecond) on a hit.',
      ...fast,
    });
    this.stageDuration = histograms.create('mcp_authz_stage_duration_seconds', {
      description: 'Time spent in each request stage.',
      ...fast,
      label: 'stage',
    });
    this.authnFailures = meter.createCounter('mcp_authz_authn_failures_total', {
      description: 'Requests refused by authentication, by error code.',
    });
    this.rateLimitRejections = meter.createCounter('mcp_authz_ratelimit_rejections_total', {
      description: 'JSON-RPC requests and notifications refused by the rate limit (429), by limit scope.',
    });
    this.anomalies = meter.createCounter('mcp_authz_anomalies_total', {
      description: 'Anomalies detected, by rule.',
    });
    this.policyReloads = meter.createCounter('mcp_authz_policy_reloads_total', {
      description: 'Policy bundle reload attempts, by result.',
    });
    this.upstreamDuration = histograms.create('mcp_authz_upstream_duration_seconds', {
      description: 'Time to the upstream response headers, by status class (error = no response).',
      ...slow,
      label: 'status_class',
    });
    this.upstreamErrors = meter.createCounter('mcp_authz_upstream_errors_total', {
      description: 'Upstream failures, by error code.',
    });
    this.storeErrors = meter.createCounter('mcp_authz_store_errors_total', {
      description: 'Shared store (Redis) errors, by operation.',
    });
    this.auditDroppedTotal = meter.createCounter('mcp_authz_audit_dropped_total', {
      description:
        'Audit records lost: dropped because the audit queue was full, their stdout line or OTLP copy not written (refused by the destination), or their OTLP copy dropped by the export queue or lost in a failed export.',
    });
    this.sessionsEvicted = meter.createCounter('mcp_authz_sessions_evicted_total', {
      description:
        'Streamable HTTP sessions evicted from the full session table or forgotten after a day unused, by what the upstream DELETE that ends them did (kept: not ended, unknownSessions is forward).',
    });
    // The revision gauge holds one series, the loaded revision. The SDK keeps every series an observable
    // gauge ever reported (cumulative), or with delta temporality hands one reader's observations to the
    // other's next collection: either way an old revision shows. So /metrics writes it itself
    // (revisionText), and OTLP reads it from the OTLP-only meter, whose one reader takes deltas.
    this.policyRevisionInfo = opts.otlpOnly?.meter.createObservableGauge(REVISION_INFO, {
      description: REVISION_INFO_HELP,
    });
    this.policyRevisionInfo?.addCallback((r) => {
      if (this.revision !== null) r.observe(1, { revision: this.revision });
    });
    this.decisionCacheLookups = meter.createObservableCounter('mcp_authz_policy_cache_lookups_total', {
      description:
        'Decision cache lookups (decisions and list visibility), by result (hit, miss); absent while the cache is off.',
    });
    this.decisionCacheLookups.addCallback((r) => {
      const c = this.#decisionCache();
      if (!c) return;
      r.observe(c.hits, { result: 'hit' });
      r.observe(c.misses, { result: 'miss' });
    });
    // Series that alerts watch exist from the start (a rate over an absent series is no alert).
    this.auditDroppedTotal.add(0);
    for (const result of RELOAD_RESULTS) this.policyReloads.add(0, { result });
    for (const result of SESSION_EVICTION_RESULTS) this.sessionsEvicted.add(0, { result });
  }

  /** Where the decision cache's cumulative counts are read at collection time (the policy engine). */
  observeDecisionCache(source: () => { readonly hits: number; readonly misses: number } | null): void {
    this.#decisionCache = source;
  }

  /** The tool label allow-list, e.g. the policy catalog's tool names ({@link toolLabels}). */
  setToolNames(names: Iterable<string>): void {
    this.tools = toolLabels(names);
  }

  /**
   * A method and tool as the labels name them: a method MCP does not define and a tool outside the catalog
   * are `other`, no tool is null. Decision span names use them too: a span name is a span metric's dimension.
   */
  operationLabels(method: string, tool: string | null | undefined): readonly [string, string | null] {
    return [this.methods.label(method), tool === null || tool === undefined ? null : this.tools.label(tool)];
  }

  /**
   * One finished HTTP request. `reason` is the DenyReason of a denied request, null otherwise; `method` its
   * HTTP method (for `http.server.request.duration`).
   */
  request(route: string, status: number, reason: DenyReason | null, seconds: number, method?: string): void {
    const r = this.routes.label(route);
    const s = Number.isInteger(status) && status >= 100 && status < 600 ? String(status) : OTHER;
    this.requests.add(1, r, s, this.reasons.label(reason));
    this.requestDuration.record(seconds, r);
    this.#semconv?.request(r, method, status, seconds);
  }

  /** Whether {@link operation} records anything (the semantic-convention instruments are exported). */
  get recordsOperations(): boolean {
    return this.#semconv !== undefined;
  }

  /**
   * One decided JSON-RPC request, from its HTTP request's start to its end (`mcp.server.operation.duration`,
   * OTLP only); `errorType` is the JSON-RPC error code it was refused with, as a string, else null.
   */
  operation(
    method: string,
    tool: string | null | undefined,
    errorType: string | null,
    seconds: number,
  ): void {
    this.#semconv?.operation(...this.operationLabels(method, tool), errorType, seconds);
  }

  /** One policy decision (per JSON-RPC request). */
  decision(result: 'allow' | 'deny', method: string, tool: string | null | undefined, seconds: number): void {
    this.decisions.add(
      1,
      result === 'allow' ? 'allow' : 'deny',
      this.methods.label(method),
      tool === null || tool === undefined ? NONE : this.tools.label(tool),
    );
    this.decisionDuration.record(seconds);
  }

  stage(name: string, seconds: number): void {
    this.stageDuration.record(seconds, this.stages.label(name));
  }

  authnFailure(code: ErrorCode): void {
    this.authnFailures.add(1, { reason: this.authnCodes.label(code) });
  }

  rateLimitRejection(scope: string, requests = 1): void {
    this.rateLimitRejections.add(requests, { scope: this.scopes.label(scope) });
  }

  anomaly(rule: string): void {
    this.anomalies.add(1, { rule: this.rules.label(rule) });
  }

  /** One reload attempt; on success pass the now-loaded revision. */
  policyReload(result: 'success' | 'failure', revision?: string | null): void {
    this.policyReloads.add(1, { result: this.reloadResults.label(result) });
    if (result === 'success' && revision !== undefined) this.setPolicyRevision(revision);
  }

  /** `mcp_authz_policy_revision_info` in Prometheus text: the loaded revision at 1, nothing without one. */
  revisionText(): string {
    return revisionInfoText(this.revision);
  }

  /** The loaded revision (`mcp_authz_policy_revision_info{revision} 1`); null: no policy loaded. */
  setPolicyRevision(revision: string | null): void {
    this.revision = revision === null ? null : revision.slice(0, 128);
  }

  /** One upstream exchange: `status` null when no response came (connect error, timeout). */
  upstream(status: number | null, seconds: number): void {
    this.upstreamDuration.record(seconds, statusClass(status));
  }

  upstreamError(code: ErrorCode): void {
    this.upstreamErrors.add(1, { code: this.upstreamCodes.label(code) });
  }

  storeError(op: string): void {
    this.storeErrors.add(1, { op: this.storeOps.label(op) });
  }

  /** A session evicted from the session table, by what became of it at the upstream. */
  sessionEvicted(result: SessionEvictionResult): void {
    this.sessionsEvicted.add(1, { result });
  }

  /** Audit records lost: dropped by the audit queue, or their OTLP copy dropped or not exported. */
  auditDropped(records = 1): void {
    this.auditDroppedTotal.add(records);
  }
}
