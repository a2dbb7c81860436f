/**
 * Audit records: exactly one per policy decision, as one JSON line through pino, written when the request
 * is finished (so it carries the upstream status and rate-limit state). Records never contain
 * credentials; arguments are left out here.
 *
 * @module
 */
import type { PipelineEvents } from '../pipeline/events.js';
import type { Logger } from '../telemetry/logger.js';

export function createAuditLog(logger: Logger): Pick<PipelineEvents, 'decision'> {
  const log = logger.child({ log_type: 'audit' });
  return {
    decision(ctx, m) {
      const d = m.decision;
      const p = ctx.principal;
      log.info(
        {
          decision_id: m.decisionId,
          request_id: ctx.requestId,
          subject: p
            ? {
                id: p.id,
                tenant: p.tenant,
                roles: p.roles,
                auth_method: p.authMethod,
                key_id: p.keyId ?? null,
              }
            : null,
          action: { method: m.action.method, tool: m.action.tool ?? null },
          resource: { ...m.action.resource, sensitivity: d.sensitivity ?? null },
          decision: d.allow ? 'allow' : 'deny',
          reasons: d.reasons,
          failure: d.failure ?? null,
          obligations: d.obligations,
          policy_revision: d.revision,
          rate_limit: m.rateLimit ?? null,
          eval_us: Math.round(d.evalNs / 100) / 10,
          upstream_status: ctx.upstreamStatus ?? null,
          client_ip: ctx.clientIp,
          session_id: ctx.facts?.sessionId ?? null,
          transport: ctx.transport,
        },
        'decision',
      );
    },
  };
}
