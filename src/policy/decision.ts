/**
 * The Decision type and the schema every policy result is checked against. A result that does not
 * match is a deny (deny by default), with the schema problem as the reason.
 *
 * @module
 */
import { z } from 'zod';
import { ScopeToken } from '../config/schema-common.js';

/**
 * Bounds a bucket can work with: a capacity below 1 never lets a request pass, and a refill so slow that
 * a bucket takes longer than ~30 years to fill has no expiry Redis accepts. A policy returning values
 * outside them returns a malformed decision (a deny, with the schema problem logged).
 */
export const MAX_BUCKET_CAPACITY = 1e9;
export const MIN_REFILL_PER_SECOND = 1e-6;
export const MAX_REFILL_PER_SECOND = 1e9;

const RateLimitObligation = z.object({
  capacity: z.number().min(1).max(MAX_BUCKET_CAPACITY),
  refill_per_second: z.number().min(MIN_REFILL_PER_SECOND).max(MAX_REFILL_PER_SECOND),
});

export const ObligationsSchema = z
  .object({
    rate_limit: RateLimitObligation.optional(),
    mask_arguments: z.array(z.string()).optional(),
    audit: z.enum(['full', 'minimal']).optional(),
  })
  .loose();

const KNOWN_OBLIGATIONS: ReadonlySet<string> = new Set(Object.keys(ObligationsSchema.shape));

/**
 * Obligations the sidecar does not know, each with what it ignores: a misspelt one (`ratelimit`,
 * `mask_argument`) is no obligation at all, so its author must hear of it.
 */
export function unknownObligations(obligations: Obligations): string[] {
  const out: string[] = [];
  for (const k in obligations)
    if (!KNOWN_OBLIGATIONS.has(k))
      out.push(`obligation "${k}" is unknown and ignored (known: ${[...KNOWN_OBLIGATIONS].join(', ')})`);
  return out;
}

/** At most this many scopes in one decision's `required_scopes`. */
export const MAX_REQUIRED_SCOPES = 32;

/** What the `decision` entrypoint must produce. Unknown fields are ignored (unknown obligations warned of). */
export const PolicyResultSchema = z
  .object({
    allow: z.boolean(),
    reasons: z.array(z.string()).default([]),
    obligations: ObligationsSchema.default({}),
    sensitivity: z.string().optional(),
    /**
     * Scopes this call needs (step-up authorization). On a deny, a caller signed in with a JWT that lacks
     * any of them is answered 403 `insufficient_scope` naming them, so its MCP client can ask for them.
     */
    required_scopes: z.array(ScopeToken).max(MAX_REQUIRED_SCOPES).optional(),
  })
  .loose();

export type Obligations = z.infer<typeof ObligationsSchema>;
export type PolicyResult = z.infer<typeof PolicyResultSchema>;

export interface Decision {
  readonly allow: boolean;
  /** Short sentences the caller can act on; never empty on a deny. */
  readonly reasons: readonly string[];
  readonly obligations: Obligations;
  readonly sensitivity: string | undefined;
  /** Scopes the call needs, from the policy (step-up authorization); absent when it named none. */
  readonly requiredScopes?: readonly string[];
  /** Bundle revision that made the decision; null when no policy was loaded. */
  readonly revision: string | null;
  /** Wall time of input serialisation + evaluation + result check, in nanoseconds. */
  readonly evalNs: number;
  /** True when the result came from the decision cache (same input minus time and request id). */
  readonly cached?: boolean;
  /** Set when the deny came from a failure rather than the policy (no bundle, evaluation error, bad result). */
  readonly failure?: 'no_policy' | 'evaluation_error' | 'invalid_result';
  /** What exactly failed, for the log and `policy eval` (never sent to the caller). */
  readonly failureDetail?: string;
}

export function denyDecision(
  reason: string,
  failure: Decision['failure'],
  revision: string | null,
  evalNs = 0,
  failureDetail?: string,
): Decision {
  return {
    allow: false,
    reasons: [reason],
    obligations: {},
    sensitivity: undefined,
    revision,
    evalNs,
    failure,
    ...(failureDetail ? { failureDetail } : {}),
  };
}

/**
 * A cache hit as its own object, written out: a spread of the frozen entry costs a runtime clone on every
 * request. Cached decisions never carry a failure (only clean evaluations are kept).
 */
export function cachedDecision(hit: Decision, evalNs: number): Decision {
  const { allow, reasons, obligations, sensitivity, revision, requiredScopes } = hit;
  return requiredScopes === undefined
    ? { allow, reasons, obligations, sensitivity, revision, evalNs, cached: true }
    : { allow, reasons, obligations, sensitivity, requiredScopes, revision, evalNs, cached: true };
}

/** A result-schema issue with its path: `allow: Invalid input: expected boolean, received string`. */
export function resultIssue(issues: readonly z.core.$ZodIssue[]): string {
  const i = issues[0];
  if (!i) return 'the policy returned no result (is the entrypoint defined for this input?)';
  return `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`;
}
