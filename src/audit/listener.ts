/**
 * The audit trail's pipeline listener: turns each `decision(ctx, m)` event (emitted once the request is
 * finished, so the upstream status and rate-limit state are known) into an `AuditRecord` and hands it to
 * the sink. Building a record is cheap and synchronous; writing it is the sink's (deferred) job.
 *
 * @module
 */
import { ANONYMOUS } from '../authn/principal.js';
import { idKey } from '../mcp/reply-filter.js';
import { namedTaskId } from '../mcp/tasks.js';
import type { MessageDecision, RequestContext } from '../pipeline/context.js';
import type { PipelineEvents } from '../pipeline/events.js';
import { newRequestBudget, type RequestBudget } from './argument-budget.js';
import { type AuditMasking, buildAuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

export interface AuditListenerOptions {
  readonly sink: AuditSink;
  readonly masking: AuditMasking;
  /** Trace and span id to record for a decision (e.g. of the span that made it); default none. */
  readonly traceIds?: (
    ctx: RequestContext,
    m: MessageDecision,
  ) => { readonly traceId: string | null; readonly spanId: string | null; readonly sampled?: boolean | null };
  /** Monotonic clock in ns, for `latency.total_ms` (tests pin it). */
  readonly hrtime?: () => bigint;
}

export function createAuditListener(opts: AuditListenerOptions): Pick<PipelineEvents, 'decision'> {
  const hrtime = opts.hrtime ?? process.hrtime.bigint;
  /** One argument budget per request: a batch's records share it. */
  const budgets = new WeakMap<RequestContext, RequestBudget>();
  const budgetOf = (ctx: RequestContext): RequestBudget => {
    let b = budgets.get(ctx);
    if (!b) {
      b = newRequestBudget();
      budgets.set(ctx, b);
    }
    return b;
  };
  return {
    decision(ctx, m) {
      const ids = opts.traceIds?.(ctx, m);
      opts.sink.write(
        buildAuditRecord(
          {
            decisionId: m.decisionId,
            // The time the policy was given (context.time): when the call was decided.
            time: ctx.facts?.now ?? ctx.now,
            traceId: ids?.traceId ?? null,
            spanId: ids?.spanId ?? null,
            traceSampled: ids?.sampled ?? null,
            requestId: ctx.requestId,
            principal: ctx.principal ?? ANONYMOUS,
            action: m.action,
            decision: m.decision,
            ...(m.dryRun ? { dryRun: true } : {}),
            rateLimit: m.rateLimit ?? null,
            lateRefusal: m.lateRefusal ?? null,
            totalMs: Number(hrtime() - ctx.startedAt) / 1e6,
            upstreamStatus: ctx.upstreamStatus ?? null,
            clientIp: ctx.clientIp,
            sessionId: ctx.facts?.sessionId ?? null,
            transport: ctx.transport,
            taskId: taskIdOf(ctx, m),
            argumentBudget: budgetOf(ctx),
          },
          opts.masking,
        ),
      );
    },
  };
}

/** The task a decided request names (`tasks/get`, …), or the one its reply created; null when none. */
function taskIdOf(ctx: RequestContext, m: MessageDecision): string | null {
  const created = ctx.createdTasks?.get(idKey(m.action.id));
  if (created !== undefined) return created;
  const msg = ctx.parsed?.messages[m.index];
  return msg?.kind === 'request' ? (namedTaskId(msg.method, msg.params) ?? null) : null;
}
