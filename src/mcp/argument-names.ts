/**
 * The argument names a tool declares (its `inputSchema.properties`), and an argument spelt as one of them in
 * another case. Go's `encoding/json` (mcp-go's `BindArguments`, the Go SDK's typed tools before 1.3.1) fills
 * a struct field from a key matching it without case, so `{"Tenant":"globex"}` is the tenant `globex` to
 * such a tool, while the policy, reading `arguments.tenant`, sees no tenant at all.
 *
 * @module
 */
import { isRecord } from './action.js';
import { foldKey } from './json-keys.js';

/**
 * A tool's declared argument names: each as spelt (to itself), and folded (to its spelling). Looking a key
 * up once tells a declared name; looking up its folded form tells one spelt in another case.
 */
export type ArgumentNames = ReadonlyMap<string, string>;

/** Longer keys are not folded (as in json-keys.ts): no struct field has such a name. */
const MAX_FOLDED_KEY = 128;

/** The declared argument names of every tool in a `tools/list` result, by tool name (none: an empty map). */
export function toolArgumentNames(result: unknown): Map<string, ArgumentNames> {
  const out = new Map<string, ArgumentNames>();
  if (!isRecord(result) || !Array.isArray(result.tools)) return out;
  for (const t of result.tools) {
    if (!isRecord(t) || typeof t.name !== 'string') continue;
    const properties = isRecord(t.inputSchema) ? t.inputSchema.properties : undefined;
    const names = new Map<string, string>();
    if (!isRecord(properties)) {
      out.set(t.name, names);
      continue;
    }
    for (const p in properties) names.set(p, p);
    for (const p in properties) {
      const folded = foldKey(p);
      if (!names.has(folded)) names.set(folded, p);
    }
    out.set(t.name, names);
  }
  return out;
}

/**
 * The first argument key of `args` that is no declared name but one spelt in another case, with that name
 * (`['Tenant', 'tenant']`); undefined when there is none. Declared keys cost one map lookup each.
 */
export function misspeltArgument(
  args: Readonly<Record<string, unknown>>,
  names: ArgumentNames | undefined,
): readonly [string, string] | undefined {
  if (names === undefined) return undefined;
  for (const k in args) {
    if (names.get(k) === k || k.length > MAX_FOLDED_KEY) continue;
    const declared = names.get(foldKey(k));
    if (declared !== undefined && declared !== k) return [k, declared];
  }
  return undefined;
}
