/**
 * Rate limiting after the decision: every allowed JSON-RPC request takes a token from its bucket. The
 * bucket's size comes from the policy's `rate_limit` obligation, else the most generous role tier in
 * config, else the configured default. Requests of one body that share a bucket take their tokens in one
 * call, so a request costs at most one store round trip. An empty bucket answers 429 with `Retry-After`
 * and the IETF `RateLimit` headers; allowed replies carry the `RateLimit` headers too.
 *
 * @module
 */

import type { Principal } from '../../authn/principal.js';
import type { Config } from '../../config/schema.js';
import { RateLimitError } from '../../errors/errors.js';
import { rateLimitHeaders } from '../../ratelimit/headers.js';
import { type BucketScope, bucketKey } from '../../ratelimit/keys.js';
import { type BucketSpec, RateLimitBackendError, type RateLimiter } from '../../ratelimit/types.js';
import type { MessageDecision } from '../context.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function ratelimitStage(limiter: RateLimiter, cfg: Config['ratelimit']): Stage {
  const scope = cfg.scope as BucketScope;
  return {
    name: 'ratelimit',
    async run(ctx) {
      const principal = ctx.principal;
      if (!principal || ctx.decisions.length === 0) return CONTINUE;
      const groups = new Map<string, { spec: BucketSpec; items: MessageDecision[] }>();
      for (const d of ctx.decisions) {
        if (!d.decision.allow) continue;
        const key = bucketKey(
          scope,
          principal,
          d.action.tool ?? d.action.prompt ?? d.action.uri ?? d.action.method,
        );
        const group = groups.get(key);
        if (group) group.items.push(d);
        else groups.set(key, { spec: specFor(d, principal, cfg), items: [d] });
      }
      for (const [key, { spec, items }] of groups) {
        let result: Awaited<ReturnType<RateLimiter['take']>>;
        try {
          result = await limiter.take(key, spec, items.length);
        } catch (err) {
          if (err instanceof RateLimitBackendError) {
            return deny(
              new RateLimitError(
                'ERR_RATELIMIT_BACKEND',
                'Service Unavailable: rate limits cannot be checked',
                { cause: err },
              ),
            );
          }
          throw err;
        }
        const outcome = {
          limit: result.limit,
          remaining: result.remaining,
          retryAfterMs: result.retryAfterMs,
          allowed: result.allowed,
        };
        for (const d of items) d.rateLimit = outcome;
        const headers = rateLimitHeaders(result, spec);
        Object.assign(ctx.responseHeaders, headers);
        if (!result.allowed) {
          const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
          const target = items[0]?.action.tool ?? items[0]?.action.method ?? 'this method';
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
      }
      return CONTINUE;
    },
  };
}

/** Obligation from the policy, else the most generous tier among the caller's roles, else the default. */
export function specFor(d: MessageDecision, principal: Principal, cfg: Config['ratelimit']): BucketSpec {
  const o = d.decision.obligations.rate_limit;
  if (o) return { capacity: o.capacity, refillPerSecond: o.refill_per_second };
  let best: BucketSpec | undefined;
  for (const role of principal.roles) {
    const tier = cfg.tiers[role];
    if (tier && (!best || tier.capacity > best.capacity)) best = tier;
  }
  return best ?? cfg.default;
}
