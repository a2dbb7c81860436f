/**
 * The `ratelimit` and `abuse` sections of the config schema: token buckets and sliding-window rules.
 *
 * @module
 */
import { z } from 'zod';
import { AbuseRulesSchema, TEN_YEARS_SEC } from '../abuse/rules.js';
import * as D from './defaults.js';
import { positiveMs } from './schema-common.js';

const BucketSchema = z.strictObject({
  capacity: z.number().min(1).max(1e9).describe('Burst size: tokens in a full bucket (1 to 1e9).'),
  refillPerSecond: z.number().min(1e-6).max(1e9).describe('Tokens added per second (1e-6 to 1e9).'),
});

export const RateLimitSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Apply token buckets to every JSON-RPC request.'),
  failureMode: z
    .enum(['local', 'open', 'closed'])
    .default(D.RATELIMIT_FAILURE_MODE)
    .describe(
      'While Redis is unreachable: local = in-process buckets, closed = refuse with 503. Warning: open lets every request through unlimited.',
    ),
  scope: z
    .enum(['subject', 'subject_tool', 'tenant'])
    .default(D.RATELIMIT_SCOPE)
    .describe(
      'What one bucket counts: a subject, a subject on one tool the upstream has listed (prompts, unlisted tool names and resource reads: one bucket per method, whatever name or URI the caller picks), or a whole tenant.',
    ),
  tiers: z
    .record(z.string(), BucketSchema)
    .default(
      structuredClone(D.RATELIMIT_TIERS) as Record<string, { capacity: number; refillPerSecond: number }>,
    )
    .describe(
      "Per-role buckets used when the policy's decision has no rate_limit obligation (the most generous role wins).",
    ),
  // Each field with its own default, so `default: {capacity: 50}` keeps the default refill.
  default: z
    .strictObject({
      capacity: BucketSchema.shape.capacity.default(D.RATELIMIT_DEFAULT.capacity),
      refillPerSecond: BucketSchema.shape.refillPerSecond.default(D.RATELIMIT_DEFAULT.refillPerSecond),
    })
    .prefault({})
    .describe('Bucket for callers with no obligation and no tier.'),
  fastPath: z
    .boolean()
    .default(true)
    .describe('Refuse callers known to be empty locally, without asking Redis.'),
});

const AbuseRuleSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['tool_calls', 'auth_failures_subject', 'auth_failures_ip']),
  tool: z.string().optional().describe('Glob of tool names (tool_calls rules).'),
  threshold: z
    .number()
    .int()
    .positive()
    .describe('The rule trips when the count in the window exceeds this.'),
  windowSec: z.number().int().positive().max(TEN_YEARS_SEC),
  action: z.enum(['alert', 'block']),
  blockSec: z.number().int().positive().max(TEN_YEARS_SEC).optional(),
});

export const AbuseSchema = z.strictObject({
  rules: z
    .array(AbuseRuleSchema)
    // The detector's own checks (a rule name once, `tool` and `blockSec` only where they apply): a rule it
    // would refuse at start fails here, with its path, with the other problems and in every command.
    .superRefine((rules, ctx) => {
      const checked = AbuseRulesSchema.safeParse(rules);
      for (const issue of checked.error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      }
    })
    .default(structuredClone(D.ABUSE_RULES) as unknown as z.infer<typeof AbuseRuleSchema>[])
    .describe('Sliding-window rules; a tripped rule is audited, counted and may block the subject or IP.'),
  pollIntervalMs: positiveMs.default(D.ABUSE_POLL_INTERVAL_MS).describe('How often replicas pick up blocks.'),
});
