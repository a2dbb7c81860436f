/**
 * Feeds what the request path reports to abuse detection and the security counters behind
 * `mcp-authz report`: failed authentications (by reason and client IP), calls per subject and tool,
 * denials, rate-limit rejections. Both queue their writes; nothing here waits on the store.
 *
 * @module
 */
import type { AbuseDetector, AbuseEvent } from './abuse/detector.js';
import { abuseIpTarget, UNLISTED_TOOLS } from './abuse/targets.js';
import type { Principal } from './authn/principal.js';
import { AuthnError } from './errors/errors.js';
import type { Action } from './mcp/action.js';
import { enforcedDenial } from './pipeline/context.js';
import type { PipelineEvents } from './pipeline/events.js';
import { refusedByLimit } from './pipeline/stages/late-refusal.js';
import type { SecurityCounters } from './report/counters.js';
import type { Logger } from './telemetry/logger.js';

/**
 * A caller as the security report names it, `tenant/subject`, with `%` and `/` inside either percent-encoded:
 * tenant `a/b` with subject `c` and tenant `a` with subject `b/c` are two callers, not one counter.
 */
export function subjectKey(p: Principal | undefined): string | null {
  if (!p?.id) return null;
  return `${reportPart(p.tenant ?? '')}/${reportPart(p.id)}`;
}

function reportPart(s: string): string {
  return s.includes('/') || s.includes('%') ? s.replaceAll('%', '%25').replaceAll('/', '%2F') : s;
}

/**
 * A denial's reason as the report keeps it: the name of what was asked for, where the reason quotes it last,
 * replaced when the caller chose it freely — a tool the upstream never listed (`(unlisted tools)`), any
 * prompt name or resource URI (`(name)`) — so invented names add one reason, not one each.
 */
export function reportedReason(reason: string, action: Action, toolListed: boolean): string {
  const name = action.tool ?? action.prompt ?? action.uri;
  if (!name || (action.tool !== undefined && toolListed)) return reason;
  const at = reason.lastIndexOf(name);
  if (at === -1) return reason;
  const marker = action.tool !== undefined ? UNLISTED_TOOLS : '(name)';
  return reason.slice(0, at) + marker + reason.slice(at + name.length);
}

/** Refusals that are no failed login: nothing was guessed. */
const NO_GUESS: ReadonlySet<string> = new Set(['ERR_AUTHN_MISSING', 'ERR_AUTHN_INSUFFICIENT_SCOPE']);

export function securityListener(
  detector: AbuseDetector,
  counters: SecurityCounters,
  /** Whether the upstream has listed the tool (the annotation cache); default: every tool counts alone. */
  listed: (tool: string) => boolean = () => true,
): Partial<PipelineEvents> {
  return {
    authFailure(ctx, err) {
      // Credentials that could not be checked (JWKS or store down: 503) are the sidecar's outage, not the
      // caller's failure: counting them would let an outage trip the IP-block rule for every client.
      // The subject only when the credential's owner is known for sure (AuthnError.subject).
      // Nor is a token signed with a key the issuer may just have added (AuthnError.uncounted).
      // Nor is a request that presented no credential (how every MCP client finds the authorization server:
      // a 401 with the metadata URL) or a valid token short of a scope: no guess at a credential, and counting
      // them would block an office behind one address as its clients connect.
      const authn = err instanceof AuthnError ? err : undefined;
      if (err.status < 500 && !authn?.uncounted && !NO_GUESS.has(err.code)) {
        const owner = authn?.subject ? { subject: authn.subject, tenant: authn.tenant ?? null } : null;
        detector.recordAuthFailure(owner, ctx.clientIp, err.code);
      }
      // Counted as the abuse rules count addresses (an IPv6 /64): each address of one is no new value.
      counters.authFailure(err.code, abuseIpTarget(ctx.clientIp));
    },
    decision(ctx, d) {
      const tool = d.action.tool ?? null;
      // The report names a tool the upstream never listed as `(unlisted tools)`: a caller inventing names
      // would otherwise fill the report's hourly values (kept 8 days) with them.
      const known = tool === null || listed(tool);
      const named = known ? tool : UNLISTED_TOOLS;
      if (!d.decision.allow) {
        const reason = d.decision.reasons[0] ?? 'denied';
        counters.denial(named, subjectKey(ctx.principal), reportedReason(reason, d.action, known));
      }
      // A dry-run denial was forwarded: a call made, counted as the allowed ones are.
      if (enforcedDenial(d)) return;
      if (refusedByLimit(d)) counters.rateLimited(subjectKey(ctx.principal), named);
      // A call refused after its decision was never made: by the rate limiter (429) — a client retrying would
      // otherwise trip a call-burst rule the limiter already holds back —, because its store is down (503) —
      // a Redis outage would count against every caller —, or later still (`lateRefusal`).
      if (d.lateRefusal) return;
      if (tool !== null && ctx.principal) detector.recordCall(ctx.principal, tool, ctx.clientIp, known);
    },
  };
}

/** What happens when an abuse rule trips: an audit line, the report's anomaly list, and a metric hook. */
export function onAbuseTrip(
  logger: Logger,
  counters: () => SecurityCounters | undefined,
  metric?: (e: AbuseEvent) => void,
) {
  const audit = logger.child({ log_type: 'audit' });
  return (e: AbuseEvent): void => {
    audit.warn({ event: 'anomaly', ...e }, `abuse rule ${e.rule} tripped`);
    counters()?.anomaly(e);
    metric?.(e);
  };
}
