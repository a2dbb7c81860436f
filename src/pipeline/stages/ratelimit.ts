/**
 * Rate limiting after the decision: every allowed JSON-RPC request takes a token from its bucket. With
 * the `subject_tool` scope a bucket counts one tool the upstream has listed, else one method: prompts,
 * unlisted tool names and resource requests (`resources/read`, …) share their method's bucket whatever the
 * name or URI the caller picked. The
 * bucket's size comes from the policy's `rate_limit` obligation, else the most generous role tier in
 * config, else the configured default. Requests of one body that share a bucket take their tokens in one
 * call: one store round trip per bucket. A body refused by one bucket is not forwarded at all, so the
 * tokens its other buckets gave are given back; one making more calls to a bucket than its capacity is
 * refused before any is taken. In-process buckets (the memory store, buckets known to be empty,
 * an outage between probes) answer in the same tick, so the stage then returns without a promise. An
 * empty bucket answers 429 with `Retry-After` and the IETF `RateLimit` headers; allowed replies carry the
 * `RateLimit` headers too. Notifications and client responses are not decided, but each takes a token from
 * one bucket per caller, sized by its role tier (else the default), but for responses to requests the server
 * was seen to make in the session: else a caller could send the upstream notifications, or made-up responses,
 * as fast as it liked. With the `subject` and `tenant` scopes, when the tier is also the requests' limit, that
 * bucket is the requests' one, and a body's notifications join their group (the limit is in every key).
 *
 * @module
 */

import type { Principal } from '../../authn/principal.js';
import type { Config } from '../../config/schema.js';
import type { ErrorCode } from '../../errors/codes.js';
import { RateLimitError } from '../../errors/errors.js';
import { isMcpMethod } from '../../mcp/methods.js';
import { chargedUndecided } from '../../mcp/server-requests.js';
import { rateLimitHeaders, refundedHeaders } from '../../ratelimit/headers.js';
import { type BucketScope, bucketKey, limitedKey } from '../../ratelimit/keys.js';
import {
  type BucketSpec,
  RATE_LIMITED_REASON,
  RateLimitBackendError,
  type RateLimiter,
  type TakeResult,
} from '../../ratelimit/types.js';
import { enforcedDenial, type MessageDecision, type RequestContext } from '../context.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';
import { markRefused } from './late-refusal.js';

interface Group {
  readonly key: string;
  /** Its calls' limit, the same for all of them: the limit is part of the key ({@link limitedKey}). */
  readonly spec: BucketSpec;
  /** The decided requests it counts (none in the notifications' group). */
  readonly items: MessageDecision[];
  /** Tokens the body takes from it: its requests, or its notifications. */
  calls: number;
}

/** The bucket of every method name MCP does not define (per caller, like the others). */
const OTHER_METHODS = '(other methods)';
/** The bucket every notification of a caller takes its token from. */
export const NOTIFICATIONS = '(notifications)';

/** `listed`: whether the upstream has listed a tool; only a listed tool gets a bucket of its own (`subject_tool`). */
export function ratelimitStage(
  limiter: RateLimiter,
  cfg: Config['ratelimit'],
  listed: (tool: string) => boolean = () => true,
): Stage {
  const scope = cfg.scope as BucketScope;

  /** The allowed requests grouped by bucket, in order (a Map: a batch may name thousands of tools). */
  const groupsOf = (ctx: RequestContext, principal: Principal): Group[] => {
    const groups = new Map<string, Group>();
    /** `calls` more tokens from the bucket `key` (whose limit is `spec`), for `item` if a request. */
    const join = (key: string, spec: BucketSpec, calls: number, item?: MessageDecision): void => {
      const group = groups.get(key);
      if (!group) groups.set(key, { key, spec, items: item ? [item] : [], calls });
      else {
        if (item) group.items.push(item);
        group.calls += calls;
      }
    };
    for (const d of ctx.decisions) {
      // A dry-run denial is forwarded, so it is limited like any call.
      if (enforcedDenial(d)) continue;
      // A bucket per listed tool; everything else per MCP method, and one shared `other` bucket for any
      // method name MCP does not define. The caller picks URIs, prompt names, unlisted tool names (a
      // wildcard grant allows any) and method names (`notifications/x1`, `notifications/x2`, … with an id
      // are requests the default policy allows), so keying on them would hand out a fresh bucket (and a
      // new store key) for every name.
      const tool = d.action.tool;
      const method = d.action.method;
      const name = tool !== undefined && listed(tool) ? tool : isMcpMethod(method) ? method : OTHER_METHODS;
      const spec = specFor(d, principal, cfg);
      join(limitedKey(bucketKey(scope, principal, name), spec), spec, 1, d);
    }
    // With the `subject` and `tenant` scopes (or a listed tool named like it), when the role's tier is the
    // requests' limit, the notifications' key is a requests' group's too: they join it, so its calls still
    // take their tokens. Client responses too, but for those answering a request the server made.
    const notifications = chargedUndecided(ctx.parsed, ctx.serverRequests);
    if (notifications > 0) {
      const spec = tierSpec(principal, cfg);
      join(limitedKey(bucketKey(scope, principal, NOTIFICATIONS), spec), spec, notifications);
    }
    return [...groups.values()];
  };

  /** Takes the remaining groups' tokens one store call at a time (`taken`: those charged so far). */
  const rest = async (
    ctx: RequestContext,
    groups: readonly Group[],
    from: number,
    taken: TakeResult[],
  ): Promise<StageResult> => {
    for (let i = from; i < groups.length; i++) {
      const g = groups[i] as Group;
      let result: TakeResult;
      try {
        result = await limiter.take(g.key, g.spec, g.calls);
      } catch (err) {
        giveBack(groups, taken);
        return backendDenial(err, groups);
      }
      taken.push(result);
      const denied = apply(ctx, g, result, taken);
      if (denied) {
        giveBack(groups, taken);
        refuseBody(groups, g, 'ERR_RATELIMIT_EXCEEDED', RATE_LIMITED_REASON);
        return denied;
      }
    }
    return charged(ctx, groups, taken);
  };

  /**
   * A refused body forwards none of its calls: the tokens its earlier buckets gave go back, and their calls'
   * outcomes (their audit records' `rate_limit.remaining`) say what each bucket holds then; so does the result
   * (what the take left where nothing went back).
   */
  const giveBack = (groups: readonly Group[], taken: readonly TakeResult[]): number[] => {
    const left: number[] = [];
    for (let i = 0; i < taken.length; i++) {
      const g = groups[i] as Group;
      const t = taken[i] as TakeResult;
      const remaining = limiter.giveBack(g.key, g.spec, g.calls, t);
      left.push(remaining ?? t.remaining);
      if (remaining === undefined) continue;
      for (const d of g.items) if (d.rateLimit) d.rateLimit = { ...d.rateLimit, remaining };
    }
    return left;
  };

  /**
   * A body charged keeps a way to give its tokens back: it may still be refused later, unforwarded (`refuseLate`),
   * its answer then stating the buckets as its audit records do. Not `ctx.refundRateLimit = () => …`: V8 puts a
   * function written straight into a property in the old generation (taken for a method), where, dead, it kept
   * the request's decisions and rate-limit results through every scavenge (~2 KB a request).
   */
  const charged = (ctx: RequestContext, groups: readonly Group[], taken: TakeResult[]): StageResult => {
    const refund = (): void => {
      Object.assign(ctx.responseHeaders, refundedHeaders(groups, taken, giveBack(groups, taken)));
    };
    ctx.refundRateLimit = refund;
    return CONTINUE;
  };

  return {
    name: 'ratelimit',
    run(ctx) {
      const principal = ctx.principal;
      if (!principal) return CONTINUE;
      const groups = groupsOf(ctx, principal);
      if (groups.length === 0) return CONTINUE;
      // Before any token is taken: a batch that needs more tokens than a bucket holds can never pass.
      const tooMany = groups.find((g) => g.calls > g.spec.capacity);
      if (tooMany) {
        const target = groupTarget(tooMany);
        refuseBody(
          groups,
          undefined,
          'ERR_RATELIMIT_BATCH',
          `the batch makes more calls to ${target} than its rate limit allows`,
        );
        return batchTooLarge(tooMany);
      }
      // In-process buckets (and known-empty ones) answer at once: no promise, no await on the hot path.
      const taken: TakeResult[] = [];
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i] as Group;
        let result: TakeResult | undefined;
        try {
          result = limiter.takeNow(g.key, g.spec, g.calls);
        } catch (err) {
          giveBack(groups, taken);
          return backendDenial(err, groups);
        }
        if (result === undefined) return rest(ctx, groups, i, taken);
        taken.push(result);
        const denied = apply(ctx, g, result, taken);
        if (denied) {
          giveBack(groups, taken);
          refuseBody(groups, g, 'ERR_RATELIMIT_EXCEEDED', RATE_LIMITED_REASON);
          return denied;
        }
      }
      return charged(ctx, groups, taken);
    },
  };
}

/** A group of more calls than its bucket's capacity: refused without a Retry-After that could never come true. */
function batchTooLarge(g: Group): StageResult {
  const target = groupTarget(g);
  const limit = Math.floor(g.spec.capacity);
  return deny(
    new RateLimitError(
      'ERR_RATELIMIT_BATCH',
      `Too Many Requests: this batch makes ${g.calls} calls to ${target}, more than its rate limit ever allows at once (${limit}); send at most ${limit} per batch`,
      { data: { limit, requested: g.calls } },
    ),
  );
}

function groupTarget(g: Group): string {
  const first = g.items[0];
  return first ? (first.action.tool ?? first.action.method) : 'notifications';
}

/**
 * Marks every request of a refused body: none is forwarded. With a `cause` (the bucket that refused it),
 * its requests get `reason` and the others say which bucket of their batch it was; without, all get
 * `reason`. The outcomes recorded so far stay, marked not allowed.
 */
function refuseBody(
  groups: readonly Group[],
  cause: Group | undefined,
  code: ErrorCode,
  reason: string,
): void {
  const other =
    cause && groups.length > 1 ? `${reason} (for ${groupTarget(cause)}, in the same batch)` : reason;
  for (const g of groups) {
    for (const d of g.items) markRefused(d, code, g === cause || !cause ? reason : other);
  }
}

function backendDenial(err: unknown, groups: readonly Group[]): StageResult {
  if (err instanceof RateLimitBackendError) {
    refuseBody(groups, undefined, 'ERR_RATELIMIT_BACKEND', 'rate limits cannot be checked');
    return deny(
      new RateLimitError('ERR_RATELIMIT_BACKEND', 'Service Unavailable: rate limits cannot be checked', {
        cause: err,
      }),
    );
  }
  throw err;
}

/**
 * Records the outcome on the group's decisions and the response headers; the deny when refused. `taken`: the
 * results of the body's buckets so far, this one last.
 */
function apply(
  ctx: RequestContext,
  g: Group,
  result: TakeResult,
  taken: readonly TakeResult[],
): StageResult | undefined {
  const { limit, remaining, retryAfterMs, allowed } = result;
  const outcome = { limit, remaining, retryAfterMs, allowed };
  for (const d of g.items) d.rateLimit = outcome;
  const headers = rateLimitHeaders(result, g.spec);
  // Every bucket is named "default": a body charging several reports the one closest to empty (or refusing).
  if (!result.allowed || taken.every((t) => result.remaining <= t.remaining))
    Object.assign(ctx.responseHeaders, headers);
  if (result.allowed) return undefined;
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const target = groupTarget(g);
  return deny(
    new RateLimitError(
      'ERR_RATELIMIT_EXCEEDED',
      `Too Many Requests: rate limit for ${target} exceeded; retry in ${seconds} s`,
      {
        data: { retry_after_seconds: seconds, limit: result.limit, remaining: result.remaining },
        headers,
      },
    ),
  );
}

/** Obligation from the policy, else the most generous tier among the caller's roles, else the default. */
export function specFor(d: MessageDecision, principal: Principal, cfg: Config['ratelimit']): BucketSpec {
  const o = d.decision.obligations.rate_limit;
  if (o) return { capacity: o.capacity, refillPerSecond: o.refill_per_second };
  return tierSpec(principal, cfg);
}

/** The most generous tier among the caller's roles, else the default. */
export function tierSpec(principal: Principal, cfg: Config['ratelimit']): BucketSpec {
  let best: BucketSpec | undefined;
  for (const role of principal.roles) {
    // Own properties only: a role named `constructor` or `__proto__` must not find Object's.
    const tier = Object.hasOwn(cfg.tiers, role) ? cfg.tiers[role] : undefined;
    if (tier && (!best || tier.capacity > best.capacity)) best = tier;
  }
  return best ?? cfg.default;
}
