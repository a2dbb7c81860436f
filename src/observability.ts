/**
 * Builds the observability side of a sidecar from config: the OpenTelemetry providers (`OTEL_*`), the
 * metric instruments, request tracing, and the audit trail (records masked per policy obligations and
 * config, written off the request path to stdout and as OpenTelemetry log records). Returns the listeners
 * the request path reports to and the components to start and stop.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createAuditListener } from './audit/listener.js';
import { deriveAuditKey } from './audit/mask.js';
import { type AuditSink, createAuditSink } from './audit/sink.js';
import type { Config } from './config/schema.js';
import type { Component } from './lifecycle.js';
import { undecidedCount } from './mcp/jsonrpc.js';
import type { PipelineEvents } from './pipeline/events.js';
import { refusedByLimit } from './pipeline/stages/late-refusal.js';
import type { Bundle } from './policy/bundle.js';
import type { Logger } from './telemetry/logger.js';
import { SidecarMetrics } from './telemetry/metrics.js';
import { createTelemetry, type Telemetry } from './telemetry/otel.js';
import { RequestTracing } from './telemetry/request-tracing.js';
import { VERSION } from './version.js';

export interface Observability {
  readonly telemetry: Telemetry;
  readonly metrics: SidecarMetrics;
  readonly tracing: RequestTracing;
  /** Listeners for the request path's events: the audit trail and the metrics. */
  readonly listeners: readonly Partial<PipelineEvents>[];
  /** The audit trail's queue (also `components.last`). */
  readonly audit: AuditSink;
  /** Start first, stop last (telemetry), and the audit sink (drained before telemetry stops). */
  readonly components: { readonly first: Component; readonly last: Component };
  /** For `PolicyEngine.onLoad`. */
  policyLoaded(result: 'success' | 'failure', bundle: Bundle | null): void;
}

export function createObservability(
  config: Config,
  deps: { logger: Logger; env: NodeJS.ProcessEnv; secret: Buffer | null },
): Observability {
  const telemetry = createTelemetry({ env: deps.env, serviceVersion: VERSION, logger: deps.logger });
  const s = config.server;
  const metrics = new SidecarMetrics(telemetry, {
    anomalyRules: config.abuse.rules.map((r) => r.name),
    ...(telemetry.otlpOnlyMeter
      ? {
          otlpOnly: {
            meter: telemetry.otlpOnlyMeter,
            routes: new Map([
              ['mcp', s.mcpPath],
              ['legacy_sse', s.legacySsePath],
              ['legacy_messages', s.legacyMessagesPath],
              ['metadata', '/.well-known/oauth-protected-resource'],
            ]),
            scheme: s.tls ? 'https' : 'http',
          },
        }
      : {}),
  });
  // Keyed hashes in audit records and spans: derived from the pepper so replicas agree, else per process.
  const key = deriveAuditKey(deps.secret ?? randomBytes(32));
  const tracing = new RequestTracing(telemetry, metrics, {
    subject: config.telemetry.subject,
    subjectKey: key,
    stageMetrics: config.telemetry.stageMetrics,
    traceContext: config.telemetry.traceContext,
  });
  const sink = createAuditSink({
    logger: deps.logger,
    otelLogs: telemetry.logs,
    maxBuffered: config.audit.maxBuffered,
    maxBufferedBytes: config.audit.maxBufferedBytes,
    onDrop: (records) => metrics.auditDropped(records),
  });
  telemetry.addPrometheusText(() => metrics.revisionText());
  // A dry run left on enforces nothing: it shows on dashboards and alerts (MCPAuthzPolicyDryRun).
  telemetry.meter
    .createObservableGauge('mcp_authz_policy_dry_run', {
      description:
        '1 while policy.dryRun is on (the policy decides but nothing it says is enforced), else 0.',
    })
    .addCallback((r) => r.observe(config.policy.dryRun ? 1 : 0));
  // The OTLP copy of a record lost in the SDK's batch processor is a gap in the trail too.
  telemetry.onLogRecordsLost((n) => metrics.auditDropped(n));
  const audit = createAuditListener({
    sink,
    masking: { arguments: config.audit.arguments, maskArguments: config.audit.maskArguments, key },
    traceIds: (_ctx, m) => m.traceIds ?? { traceId: null, spanId: null, sampled: null },
  });
  const scope = config.ratelimit.scope;
  const metricsListener: Partial<PipelineEvents> = {
    authFailure: (_ctx, err) => metrics.authnFailure(err.code),
    decision(_ctx, m) {
      const d = m.decision;
      metrics.decision(d.allow ? 'allow' : 'deny', m.action.method, m.action.tool, d.evalNs / 1e9);
      if (refusedByLimit(m)) metrics.rateLimitRejection(scope);
    },
    // Notifications and responses have no decision: a body the limit refused counts each of them here.
    requestDone(ctx, _status, err) {
      if (err?.code !== 'ERR_RATELIMIT_EXCEEDED' && err?.code !== 'ERR_RATELIMIT_BATCH') return;
      const n = undecidedCount(ctx.parsed);
      if (n > 0) metrics.rateLimitRejection(scope, n);
    },
  };
  return {
    telemetry,
    metrics,
    tracing,
    // Build audit records only when something consumes them: the log at info, or OTLP logs.
    listeners:
      deps.logger.isLevelEnabled('info') || telemetry.exporting
        ? [audit, metricsListener]
        : [metricsListener],
    audit: sink,
    components: { first: telemetry, last: sink },
    policyLoaded(result, bundle) {
      metrics.policyReload(result, result === 'success' ? (bundle?.revision ?? null) : undefined);
      if (result === 'success' && bundle) metrics.setToolNames(catalogTools(bundle.data));
    },
  };
}

/** Tool names from the default policy's catalog (`data.authz.catalog.tools`), for bounded metric labels. */
function catalogTools(data: Record<string, unknown>): string[] {
  const authz = data.authz as { catalog?: { tools?: Record<string, unknown> } } | undefined;
  return Object.keys(authz?.catalog?.tools ?? {});
}
