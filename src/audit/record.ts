/**
 * The audit record: exactly one per policy decision (one per JSON-RPC request), the contract auditors and
 * SREs read. `docs/audit.md` documents every field; this type is the source of truth and a unit test keeps
 * the two in step. Records carry no credentials (no token, key secret, cookie or header), and arguments
 * only as masked by `mask.ts`.
 *
 * @module
 */

import type { AuthMethod, Principal } from '../authn/principal.js';
import { cutText } from '../cut-text.js';
import { codeInfo, type DenyReason, type ErrorCode } from '../errors/codes.js';
import type { Action, ResourceKind } from '../mcp/action.js';
import type { Decision } from '../policy/decision.js';
import { RATE_LIMITED_REASON } from '../ratelimit/types.js';
import type { RequestBudget } from './argument-budget.js';
import { type ArgumentsMode, auditArguments, auditArgumentsSize, type MaskMode } from './mask.js';
import { scrubbedReason } from './scrubbed-reason.js';
import { redactAndCut } from './uri-secrets.js';

/** Bumped when a field changes meaning or is removed (adding fields does not bump it). */
export const AUDIT_SCHEMA_VERSION = 1;

export interface AuditSubject {
  readonly id: string | null;
  readonly tenant: string | null;
  readonly roles: readonly string[];
  readonly auth_method: AuthMethod;
  readonly key_id: string | null;
}

export interface AuditAction {
  readonly method: string;
  readonly tool: string | null;
  /** Masked per `audit.arguments`, the policy's `mask_arguments` and `audit.maskArguments`; null = left out. */
  readonly arguments: Readonly<Record<string, unknown>> | null;
  /**
   * The MCP task the request names (`tasks/get`, …) or created (its reply), cut to
   * {@link AUDIT_TASK_ID_MAX_CHARS}; null when none.
   */
  readonly task_id: string | null;
}

/** Longer task ids (a caller may name any) are cut to this many characters, then `…`. */
export const AUDIT_TASK_ID_MAX_CHARS = 256;
/**
 * Caller-chosen names in a record (the method, the tool, the resource's name or URI) are cut to this, and
 * each reason (the policy's may quote them) to {@link AUDIT_REASON_MAX_CHARS}: a record must stay one log line
 * a log pipeline takes whole (container runtimes split lines at 16 KiB, some backends refuse 256 KB ones).
 */
export const AUDIT_NAME_MAX_CHARS = 512;
export const AUDIT_REASON_MAX_CHARS = 1_024;

export interface AuditResource {
  readonly kind: ResourceKind;
  /** Tool or prompt name, resource URI, or the method for method-level actions. */
  readonly name: string;
  /** The policy's `sensitivity` for this resource, if it gave one. */
  readonly sensitivity: string | null;
}

export interface AuditRateLimit {
  readonly limit: number;
  readonly remaining: number;
  readonly retry_after_ms: number;
  readonly allowed: boolean;
}

export interface AuditRecord {
  readonly schema_version: number;
  readonly decision_id: string;
  /** ISO 8601 (UTC, ms) time of the decision. */
  readonly time: string;
  /** W3C trace id (32 hex) of the request's trace; null when there is none. */
  readonly trace_id: string | null;
  /** Span id (16 hex) of the span that made the decision. */
  readonly span_id: string | null;
  /** The trace's W3C `sampled` flag: false when its spans are recorded nowhere; null without a trace. */
  readonly trace_sampled: boolean | null;
  readonly request_id: string;
  readonly subject: AuditSubject;
  readonly action: AuditAction;
  readonly resource: AuditResource;
  /**
   * The outcome for this message at the sidecar: `deny` if the policy or the rate limit said no, or it was
   * refused after them (`deny_reason` `request`: its legacy SSE session ended while its stages ran).
   */
  readonly decision: 'allow' | 'deny';
  /** Which part denied (bounded, as in metrics): `policy`, `ratelimit`, `request`; null when allowed. */
  readonly deny_reason: DenyReason | null;
  /**
   * Whether the sidecar acted on `decision`: false only for a policy denial that `policy.dryRun` let through
   * (the request was forwarded; see `upstream`).
   */
  readonly enforced: boolean;
  /**
   * The policy's reasons (first = the one the caller saw), plus the rate-limit reason when it denied; secrets
   * they quote redacted, by value as in arguments and in URIs as in `resource.name`.
   */
  readonly reasons: readonly string[];
  /** Set when the deny came from a failure (no policy, evaluation error, invalid result). */
  readonly failure: NonNullable<Decision['failure']> | null;
  /** The obligations the policy returned with the decision, credential-named keys redacted at any depth. */
  readonly obligations: Readonly<Record<string, unknown>>;
  /** Which of them the sidecar applied (`mask_arguments`, `rate_limit`, `audit`). */
  readonly obligations_applied: readonly string[];
  readonly policy_revision: string | null;
  readonly rate_limit: AuditRateLimit | null;
  readonly latency: {
    /** Policy input + evaluation + result check, microseconds (0.1 µs resolution). */
    readonly eval_us: number;
    /** Whole request as seen by the sidecar, milliseconds; null if the record was written before the end. */
    readonly total_ms: number | null;
  };
  /** The upstream's HTTP status; null when the message was not forwarded. */
  readonly upstream: { readonly status: number } | null;
  readonly client_ip: string;
  readonly session_id: string | null;
  readonly transport: string;
}

/** What the request path knows about one decision; `buildAuditRecord` turns it into a record. */
export interface AuditInput {
  readonly decisionId: string;
  readonly time: Date;
  readonly traceId?: string | null;
  readonly spanId?: string | null;
  readonly traceSampled?: boolean | null;
  readonly requestId: string;
  readonly principal: Principal;
  readonly action: Action;
  readonly decision: Decision;
  /** The policy denied it and `policy.dryRun` let it through (pipeline `MessageDecision.dryRun`). */
  readonly dryRun?: boolean;
  /** Structurally the pipeline's `RateLimitOutcome`; absent/null when no rate limit applied. */
  readonly rateLimit?: {
    readonly limit: number;
    readonly remaining: number;
    readonly retryAfterMs: number;
    readonly allowed?: boolean;
  } | null;
  /**
   * Why it was refused after its decision (pipeline `LateRefusal`: its rate limit, the open-stream cap, its
   * legacy SSE session ending, its connection closing before its turn), if it was: not forwarded, recorded as a
   * denial for the code's reason.
   */
  readonly lateRefusal?: { readonly code: ErrorCode; readonly reason: string } | null;
  readonly totalMs?: number | null;
  readonly upstreamStatus?: number | null;
  readonly clientIp: string;
  readonly sessionId: string | null;
  readonly transport: string;
  /** The MCP task the request names or created (`AuditAction.task_id`). */
  readonly taskId?: string | null;
  /** What the request's calls have left to spend on their arguments (shared by a batch's records). */
  readonly argumentBudget?: RequestBudget;
}

/** Argument handling for records: config `audit.arguments` / `audit.maskArguments` and the HMAC key. */
export interface AuditMasking {
  /** Default `hash`. */
  readonly arguments: ArgumentsMode;
  /** Always masked, on top of the policy's `mask_arguments` obligation. */
  readonly maskArguments: readonly string[];
  /** How always-masked values are masked (default `hash`). */
  readonly listedMode?: MaskMode;
  readonly key: Buffer;
}

/** Builds the record for one decision. Pure: no clock, no I/O. */
export function buildAuditRecord(input: AuditInput, masking: AuditMasking): AuditRecord {
  const { principal: p, action: a, decision: d } = input;
  const ob = d.obligations;
  const minimal = ob.audit === 'minimal';
  const rl = input.rateLimit ?? null;
  const late = input.lateRefusal ?? null;
  // A bucket's outcome marked refused with no refusal named: the limit's, in its usual words.
  const limited = rl !== null && rl.allowed === false;
  const refusal =
    late ?? (limited ? { code: 'ERR_RATELIMIT_EXCEEDED' as const, reason: RATE_LIMITED_REASON } : null);
  const allowed = d.allow && refusal === null;
  // A dry-run denial is rate-limited like an allowed call: refused by its bucket (or later), the refusal is
  // the limit's (or the later one's), and it is enforced.
  const notEnforced = input.dryRun === true && refusal === null;
  const refusedLater = d.allow || input.dryRun === true;
  const argumentsMode: ArgumentsMode = minimal ? 'drop' : masking.arguments;
  const args = auditArguments(a.arguments, {
    mode: argumentsMode,
    paths: [...(ob.mask_arguments ?? []), ...masking.maskArguments],
    ...(masking.listedMode ? { listedMode: masking.listedMode } : {}),
    key: masking.key,
    ...(input.argumentBudget ? { requestBudget: input.argumentBudget } : {}),
  });
  const applied: string[] = [];
  if (ob.mask_arguments !== undefined && a.arguments !== undefined) applied.push('mask_arguments');
  if (ob.rate_limit !== undefined && rl !== null) applied.push('rate_limit');
  if (ob.audit !== undefined) applied.push('audit');
  return {
    schema_version: AUDIT_SCHEMA_VERSION,
    decision_id: input.decisionId,
    time: input.time.toISOString(),
    trace_id: input.traceId ?? null,
    span_id: input.spanId ?? null,
    trace_sampled: input.traceId ? (input.traceSampled ?? null) : null,
    request_id: input.requestId,
    subject: {
      id: p.id,
      tenant: p.tenant,
      roles: [...p.roles],
      auth_method: p.authMethod,
      key_id: p.keyId ?? null,
    },
    action: {
      method: redactAndCut(a.method, AUDIT_NAME_MAX_CHARS),
      tool: a.tool === undefined ? null : redactAndCut(a.tool, AUDIT_NAME_MAX_CHARS),
      arguments: args,
      task_id: cutTaskId(input.taskId),
    },
    resource: {
      kind: a.resource.kind,
      name: redactAndCut(a.resource.name, AUDIT_NAME_MAX_CHARS),
      sensitivity: d.sensitivity ?? null,
    },
    decision: allowed ? 'allow' : 'deny',
    deny_reason: allowed ? null : refusedLater && refusal ? codeInfo(refusal.code).reason : 'policy',
    enforced: !notEnforced,
    reasons: [...d.reasons, ...(refusal ? [refusal.reason] : [])].map((r) =>
      cutText(scrubbedReason(r), AUDIT_REASON_MAX_CHARS),
    ),
    failure: d.failure ?? null,
    obligations: withoutSecrets(ob, masking.key),
    obligations_applied: applied,
    policy_revision: d.revision,
    rate_limit: rl
      ? {
          limit: rl.limit,
          remaining: rl.remaining,
          retry_after_ms: rl.retryAfterMs,
          allowed: rl.allowed ?? true,
        }
      : null,
    latency: {
      eval_us: Math.round(d.evalNs / 100) / 10,
      total_ms: input.totalMs == null ? null : Math.round(input.totalMs * 1000) / 1000,
    },
    upstream: input.upstreamStatus == null ? null : { status: input.upstreamStatus },
    client_ip: input.clientIp,
    session_id: input.sessionId,
    transport: input.transport,
  };
}

/**
 * The policy's obligations with credential-named keys (`isSensitiveKey`: `authorization`, `api_key`,
 * `client_secret`, …) redacted at any depth, through the walk that masks arguments in `plain` mode, so they
 * are cut at the same depth and size (a policy may echo its input into them). They are the only free-form
 * object of a record besides the arguments, so this is what lets audit lines skip the process logger's
 * generic redaction, which cost three times the line itself.
 */
function withoutSecrets(ob: Readonly<Record<string, unknown>>, key: Buffer): Record<string, unknown> {
  return auditArguments(ob, { mode: 'plain', paths: [], listedMode: 'redact', key }) ?? {};
}

function cutTaskId(id: string | null | undefined): string | null {
  return id == null ? null : cutText(id, AUDIT_TASK_ID_MAX_CHARS);
}

/** What every record takes besides its arguments, reasons and names (ids, times, subject, …). */
const RECORD_BASE_BYTES = 1_024;

/**
 * About how many bytes of JSON a record takes: the caller-controlled parts (masked arguments and
 * obligations, which are budgeted; the item name, also in `action`; the reasons, which may quote it; the session
 * and task ids) on top of a fixed base. Cheap, so the request path can weigh every record it queues.
 */
export function auditRecordSize(r: AuditRecord): number {
  let n = RECORD_BASE_BYTES + auditArgumentsSize(r.action.arguments) + 2 * r.resource.name.length;
  n += auditArgumentsSize(r.obligations);
  for (const reason of r.reasons) n += reason.length;
  return n + (r.session_id?.length ?? 0) + (r.action.task_id?.length ?? 0);
}
