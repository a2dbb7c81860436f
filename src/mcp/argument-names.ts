/**
 * The argument names a tool declares (its `inputSchema.properties`), and an argument spelt as one of them in
 * another case. Go's `encoding/json` (mcp-go's `BindArguments`, the Go SDK's typed tools before 1.3.1) fills
 * a struct field from a key matching it without case, so `{"Tenant":"globex"}` is the tenant `globex` to
 * such a tool, while the policy, reading `arguments.tenant`, sees no tenant at all.
 *
 * At most {@link MAX_ARGUMENT_NAMES} names are kept of a tool, the first it declares: one `tools/list` reply
 * of 16 MiB could otherwise declare 1.5 million for one tool (about 150 MB held). A tool declaring more has an
 * argument not among those kept refused: its spelling cannot be checked, and a check passing what it cannot
 * see would let a case-spelt argument past the policy unnoticed.
 *
 * @module
 */
import { isRecord } from './action.js';
import { foldKey } from './json-keys.js';

/** Declared argument names kept per tool (the first ones); MCP tools declare a handful. */
export const MAX_ARGUMENT_NAMES = 1_024;

/** What is kept of a tool's declared argument names. */
export interface ArgumentNames {
  /**
   * Each kept name as spelt (to itself), and folded (to its spelling). Looking a key up once tells a declared
   * name; looking up its folded form tells one spelt in another case.
   */
  readonly names: ReadonlyMap<string, string>;
  /** How many declared names are kept (what the annotation cache's bound counts). */
  readonly kept: number;
  /** The tool declares more names than {@link MAX_ARGUMENT_NAMES}: a key not among those kept is refused. */
  readonly truncated: boolean;
}

/**
 * A key found wanting: with the declared name it is spelt in another case of, or (`undefined`) not among the
 * names kept of a tool declaring more than that.
 */
export type SpellingProblem = readonly [key: string, declared: string | undefined];

/** Longer keys are not folded (as in json-keys.ts): no struct field has such a name, so none is kept. */
const MAX_FOLDED_KEY = 128;

/** The declared argument names of every tool in a `tools/list` result, by tool name (none: nothing kept). */
export function toolArgumentNames(result: unknown): Map<string, ArgumentNames> {
  const out = new Map<string, ArgumentNames>();
  if (!isRecord(result) || !Array.isArray(result.tools)) return out;
  for (const t of result.tools) {
    if (!isRecord(t) || typeof t.name !== 'string') continue;
    const properties = isRecord(t.inputSchema) ? t.inputSchema.properties : undefined;
    out.set(t.name, isRecord(properties) ? argumentNamesOf(properties) : NONE);
  }
  return out;
}

function argumentNamesOf(properties: Record<string, unknown>): ArgumentNames {
  const kept: string[] = [];
  let truncated = false;
  for (const p in properties) {
    if (p.length > MAX_FOLDED_KEY) continue;
    if (kept.length === MAX_ARGUMENT_NAMES) {
      truncated = true;
      break;
    }
    kept.push(p);
  }
  const names = new Map<string, string>();
  // Every name as spelt first: a declared name is never taken for another one spelt in another case.
  for (const p of kept) names.set(p, p);
  for (const p of kept) {
    const folded = foldKey(p);
    if (!names.has(folded)) names.set(folded, p);
  }
  return { names, kept: kept.length, truncated };
}

const NONE: ArgumentNames = Object.freeze({ names: new Map<string, string>(), kept: 0, truncated: false });

/**
 * The first argument key of `args` that is no declared name but one spelt in another case, with that name
 * (`['Tenant', 'tenant']`); for a tool declaring more names than are kept, the first key not among them
 * (`['x', undefined]`); undefined when there is none. Declared keys cost one map lookup each.
 */
export function misspeltArgument(
  args: Readonly<Record<string, unknown>>,
  names: ArgumentNames | undefined,
): SpellingProblem | undefined {
  if (names === undefined) return undefined;
  const known = names.names;
  for (const k in args) {
    if (known.get(k) === k || k.length > MAX_FOLDED_KEY) continue;
    const declared = known.get(foldKey(k));
    if (declared !== undefined && declared !== k) return [k, declared];
    if (names.truncated) return [k, undefined];
  }
  return undefined;
}

/** The reason a call with the argument `problem` names is denied with. */
export function spellingReason([key, declared]: SpellingProblem): string {
  const arg = `argument ${JSON.stringify(key)}`;
  return declared !== undefined
    ? `${arg} is ${declared} spelt in another case; spell it as the tool declares`
    : `${arg} is not among the first ${MAX_ARGUMENT_NAMES} the tool declares, the only ones the sidecar keeps of a tool declaring more: its spelling cannot be checked`;
}
