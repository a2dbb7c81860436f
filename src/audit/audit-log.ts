/**
 * Audit records: exactly one per policy decision, as one JSON line through pino. Records name the
 * subject, action and outcome; they never contain credentials, and arguments are left out here (the
 * masked-argument record is the audit trail's job).
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import type { Action } from '../mcp/action.js';
import type { Decision } from '../policy/decision.js';
import type { Logger } from '../telemetry/logger.js';

export interface DecisionRecord {
  readonly decisionId: string;
  readonly requestId: string;
  readonly principal: Principal;
  readonly action: Action;
  readonly decision: Decision;
  readonly clientIp: string;
  readonly sessionId: string | null;
  readonly transport: string;
}

export interface AuditSink {
  decision(record: DecisionRecord): void;
}

export function createAuditLog(logger: Logger): AuditSink {
  const log = logger.child({ log_type: 'audit' });
  return {
    decision(r) {
      const d = r.decision;
      log.info(
        {
          decision_id: r.decisionId,
          request_id: r.requestId,
          subject: {
            id: r.principal.id,
            tenant: r.principal.tenant,
            roles: r.principal.roles,
            auth_method: r.principal.authMethod,
            key_id: r.principal.keyId ?? null,
          },
          action: { method: r.action.method, tool: r.action.tool ?? null, resource: r.action.resource },
          resource_sensitivity: d.sensitivity ?? null,
          decision: d.allow ? 'allow' : 'deny',
          reasons: d.reasons,
          failure: d.failure ?? null,
          obligations: d.obligations,
          policy_revision: d.revision,
          eval_us: Math.round(d.evalNs / 100) / 10,
          client_ip: r.clientIp,
          session_id: r.sessionId,
          transport: r.transport,
        },
        'decision',
      );
    },
  };
}
