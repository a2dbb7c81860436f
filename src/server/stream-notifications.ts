/**
 * Which server notifications an event stream passes on to its caller (a 2026-07-28 `subscriptions/listen`,
 * a Streamable HTTP GET stream, the legacy SSE stream). A `notifications/resources/updated` goes through only
 * for a URI the policy lets the caller subscribe to now: decided, in canonical form, as a
 * `resources/subscribe` of it, with the clock read when the event arrives. The upstream may name a
 * sub-resource of the one subscribed to ("might be a sub-resource of the one that the client actually
 * subscribed to"), and a subscription made in business hours must not report a restricted resource all
 * night. A dry run drops nothing but logs what it would (except for an anonymous caller, as for requests).
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import { classify, isRecord } from '../mcp/action.js';
import type { NotificationCheck } from '../mcp/reply-filter.js';
import { nonCanonicalUri } from '../mcp/resource-uri.js';
import type { RequestContext } from '../pipeline/context.js';
import type { PolicyEngine } from '../policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../policy/input.js';
import type { Logger } from '../telemetry/logger.js';

export interface StreamNotificationDeps {
  readonly engine: PolicyEngine;
  readonly logger: Logger;
  /** The policy's clock (epoch ms). */
  readonly now: () => number;
  readonly dryRun: boolean;
}

export function streamNotifications(
  deps: StreamNotificationDeps,
  ctx: RequestContext,
  principal: Principal,
  facts: RequestFacts,
): NotificationCheck {
  return (method, params) => {
    if (method !== 'notifications/resources/updated') return true;
    const named = isRecord(params) && typeof params.uri === 'string' ? params.uri : '';
    const uri = nonCanonicalUri(named) ?? named;
    const subscribe = classify('resources/subscribe', null, { uri });
    const now = new Date(deps.now());
    const d = deps.engine.decide(buildDecisionInput(principal, subscribe, undefined, { ...facts, now }));
    if (d.allow) return true;
    // As for requests, a dry run never lets an anonymous caller have what the policy refuses.
    const notEnforced = deps.dryRun && principal.authMethod !== 'anonymous';
    deps.logger.debug(
      { request_id: ctx.requestId, uri: uri.slice(0, 256), reason: d.reasons[0] },
      notEnforced
        ? 'dry run: the policy would keep this resource update from the caller'
        : 'resource update not passed on: the policy keeps the resource from the caller',
    );
    return notEnforced;
  };
}
