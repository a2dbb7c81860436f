/**
 * Checking and compiling abuse rules. `AbuseRulesSchema` (zod) is what the config schema should embed;
 * `compileRules` checks again (the detector may be built without the config) and turns tool globs into
 * regular expressions.
 *
 * @module
 */
import { z } from 'zod';
import type { AbuseRule } from './types.js';

/** The longest window or block a rule may name (as `blocks add --for`): past year 275760 no date exists. */
export const TEN_YEARS_SEC = 10 * 365 * 24 * 3600;

/** Block length when a `block` rule names none: 15 minutes. */
export const DEFAULT_BLOCK_SEC = 900;

export const AbuseRuleSchema = z
  .strictObject({
    name: z.string().min(1).describe('Unique rule name (shown in events, blocks and the report).'),
    kind: z
      .enum(['tool_calls', 'auth_failures_subject', 'auth_failures_ip'])
      .describe('What is counted: calls per subject × tool, failed authentications per subject or per IP.'),
    tool: z.string().min(1).optional().describe('Tool name glob (`*`, `?`); tool_calls only; default all.'),
    threshold: z
      .number()
      .int()
      .nonnegative()
      .describe('The rule trips when the count in the window exceeds this.'),
    windowSec: z.number().int().positive().max(TEN_YEARS_SEC).describe('Sliding window length in seconds.'),
    action: z.enum(['alert', 'block']).describe('alert: event only; block: also block the subject or IP.'),
    blockSec: z
      .number()
      .int()
      .positive()
      .max(TEN_YEARS_SEC)
      .optional()
      .describe('Block length (default 900 s).'),
  })
  .superRefine((r, ctx) => {
    if (r.tool !== undefined && r.kind !== 'tool_calls')
      ctx.addIssue({ code: 'custom', path: ['tool'], message: 'tool applies to kind tool_calls only' });
    if (r.blockSec !== undefined && r.action !== 'block')
      ctx.addIssue({ code: 'custom', path: ['blockSec'], message: 'blockSec applies to action block only' });
  });

export const AbuseRulesSchema = z.array(AbuseRuleSchema).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name))
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate rule name "${r.name}"` });
    seen.add(r.name);
  });
});

export interface CompiledRule {
  readonly rule: Readonly<AbuseRule>;
  readonly windowMs: number;
  readonly blockMs: number;
  /** For tool_calls: does this rule count calls of `tool`? */
  matchesTool(tool: string): boolean;
}

/** Throws `TypeError` listing every problem, with its path (`rules[0].threshold: …`). */
export function compileRules(rules: readonly AbuseRule[]): CompiledRule[] {
  const parsed = AbuseRulesSchema.safeParse(rules);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `rules${i.path.map((p) => `[${String(p)}]`).join('')}: ${i.message}`,
    );
    throw new TypeError(`invalid abuse rules:\n  ${issues.join('\n  ')}`);
  }
  return parsed.data.map((rule) => {
    const re = rule.tool === undefined ? null : globToRegExp(rule.tool);
    return Object.freeze({
      rule: Object.freeze({ ...rule }),
      windowMs: rule.windowSec * 1000,
      blockMs: (rule.blockSec ?? DEFAULT_BLOCK_SEC) * 1000,
      matchesTool: re ? (tool: string) => re.test(tool) : () => true,
    });
  });
}

/** `*` any run of characters, `?` one character; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}
