/**
 * What a decision span and the operation metric say about a call after its decision. A decision span records
 * the policy's verdict (`mcp_authz.decision`), as OPA's decision log does; it is ended — with the time the
 * decision was made — only once its call is forwarded or its request ends, so that a call refused after its
 * decision (its rate limit, a legacy session that ended, a connection closed before its turn, a client gone
 * before it was forwarded: `LateRefusal`)
 * says so on that span too: `mcp_authz.deny.reason`, `mcp_authz.error.code`, `mcp_authz.reason`, the JSON-RPC
 * code it was answered with as `error.type`, status ERROR — beside `mcp_authz.decision: allow`.
 *
 * @module
 */
import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { scrubbedReason } from '../audit/scrubbed-reason.js';
import { codeInfo, RPC } from '../errors/codes.js';
import { enforcedDenial, type MessageDecision, type RequestTrace } from '../pipeline/context.js';
import * as A from './semconv.js';

/** Keeps `d`'s decision span open, its end the time of now, until its call is forwarded or its request ends. */
export function holdDecisionSpan(trace: RequestTrace, d: MessageDecision, span: Span): void {
  const held = { d, span, at: performance.now() };
  if (trace.openDecisions) trace.openDecisions.push(held);
  else trace.openDecisions = [held];
}

/** Ends the request's decision spans still open, each with the time of its decision, marking late refusals. */
export function endDecisionSpans(trace: RequestTrace): void {
  const open = trace.openDecisions;
  if (!open) return;
  trace.openDecisions = undefined;
  endSpans(open);
}

type OpenDecisions = NonNullable<RequestTrace['openDecisions']>;

/** The decision spans a call's forwarding holds until the upstream has it ({@link holdUntilSent}). */
export interface HeldDecisionSpans {
  /** The whole request was written to the upstream: ends them, then calls the `then` given. */
  readonly sent: () => void;
  /** It was not (or failed): gives back those not ended, for the request's end to end, refusal marked. */
  readonly unsent: () => void;
}

/**
 * Takes the request's open decision spans out of `trace` until its call is written to the upstream, as the
 * forward span's start would end them: a call whose client leaves while it waits for a pooled upstream
 * connection is never written, and is refused after its decision then, which its decision spans must say.
 * Undefined when none are open (an untraced request: nothing is added to its path).
 */
export function holdUntilSent(
  trace: RequestTrace | undefined,
  then?: () => void,
): HeldDecisionSpans | undefined {
  const open = trace?.openDecisions;
  if (!trace || !open) return undefined;
  trace.openDecisions = undefined;
  let held: OpenDecisions | undefined = open;
  return {
    sent: () => {
      if (held) endSpans(held);
      held = undefined;
      then?.();
    },
    unsent: () => {
      if (held) trace.openDecisions = trace.openDecisions ? [...held, ...trace.openDecisions] : held;
      held = undefined;
    },
  };
}

function endSpans(open: OpenDecisions): void {
  for (const { d, span, at } of open) {
    const late = d.lateRefusal;
    if (late) {
      const info = codeInfo(late.code);
      const rpc = String(info.rpc);
      span.setAttributes({
        [A.ATTR_AUTHZ_DENY_REASON]: info.reason,
        [A.ATTR_AUTHZ_ERROR_CODE]: late.code,
        [A.ATTR_AUTHZ_REASON]: scrubbedReason(late.reason),
        [A.ATTR_RPC_RESPONSE_STATUS_CODE]: rpc,
        [A.ATTR_ERROR_TYPE]: rpc,
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: late.code });
    }
    span.end(at);
  }
}

/**
 * The JSON-RPC error code a decided request was answered with, as its operation's `error.type`: an allowed
 * request of a batch with a denied one is answered "not forwarded" with the denial's code; `bodyCode` is
 * the code of an error that answered every request of the body (a sign-in or step-up challenge, an
 * upstream failure), which is what each was answered with; a call refused after its decision, its refusal's.
 */
export function errorType(d: MessageDecision, batchDenied = false, bodyCode?: number): string | null {
  if (bodyCode !== undefined) return String(bodyCode);
  if (enforcedDenial(d) || batchDenied) return String(d.refusal ? RPC.invalidParams : RPC.forbidden);
  if (d.lateRefusal) return String(codeInfo(d.lateRefusal.code).rpc);
  return null;
}
