/**
 * The IETF rate-limit response headers (draft-ietf-httpapi-ratelimit-headers, structured-field form) and
 * `Retry-After`:
 *
 * ```
 * ratelimit-policy: "default";q=20;w=20     q = capacity, w = seconds for an empty bucket to refill fully
 * ratelimit: "default";r=0;t=20             r = tokens left, t = seconds until the bucket is full again
 * retry-after: 3                            only when refused: whole seconds until a token is due (≥ 1)
 * ```
 * Header names are lower case, as Node sends them.
 *
 * @module
 */
import type { BucketSpec, TakeResult } from './types.js';

export const DEFAULT_POLICY_NAME = 'default';

/**
 * The largest RFC 8941 integer (15 digits): a capacity of 1e9 refilled at 1e-6 per second takes 1e15 s to
 * refill, one digit more, and a strict parser drops a field holding it whole.
 */
const SF_INTEGER_MAX = 999_999_999_999_999;

export function rateLimitHeaders(
  result: TakeResult,
  spec: BucketSpec,
  policyName: string = DEFAULT_POLICY_NAME,
): Record<string, string> {
  const name = policyName === DEFAULT_POLICY_NAME ? DEFAULT_POLICY_SF : sfString(policyName);
  const q = Math.floor(spec.capacity);
  const w = Math.min(SF_INTEGER_MAX, Math.ceil(spec.capacity / spec.refillPerSecond));
  const r = Math.max(0, Math.floor(result.remaining));
  const t = Math.min(SF_INTEGER_MAX, Math.max(0, Math.ceil(result.resetMs / 1000)));
  const headers: Record<string, string> = {
    'ratelimit-policy': `${name};q=${q};w=${w}`,
    ratelimit: `${name};r=${r};t=${t}`,
  };
  if (!result.allowed) headers['retry-after'] = String(retryAfterSeconds(result.retryAfterMs));
  return headers;
}

/**
 * The headers of a body whose tokens went back (refused after the rate limit): those of the bucket then
 * holding fewest, as for a body charged. `left`: each bucket's whole tokens once they went back; `buckets`:
 * each one's spec and the tokens the body took from it (`taken`).
 */
export function refundedHeaders(
  buckets: readonly { readonly spec: BucketSpec; readonly calls: number }[],
  taken: readonly TakeResult[],
  left: readonly number[],
): Record<string, string> {
  let i = 0;
  for (let j = 1; j < left.length; j++) if ((left[j] as number) < (left[i] as number)) i = j;
  const { spec, calls } = buckets[i] as (typeof buckets)[number];
  const t = taken[i] as TakeResult;
  const remaining = left[i] as number;
  // Full again as much sooner as the tokens given back take to refill (when they went back).
  const resetMs =
    remaining === t.remaining ? t.resetMs : Math.max(0, t.resetMs - (calls * 1000) / spec.refillPerSecond);
  return rateLimitHeaders({ ...t, remaining, resetMs }, spec);
}

/** Whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** An RFC 8941 sf-string: printable ASCII only, `"` and `\` escaped; anything else becomes `_`. */
function sfString(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '_');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const DEFAULT_POLICY_SF = sfString(DEFAULT_POLICY_NAME);
