/**
 * A bundle's data with its integers beyond 2^53 as written. JSON.parse reads `9007199254740993` in a
 * `data.json` as 9007199254740992, and opa-wasm writes the data it is given with JSON.stringify: an
 * allow-list naming account `…993` held `…992` in the policy, which then allowed `…992` and refused `…993`,
 * while OPA itself reads them exactly, and a body may name `…992` (it holds only integers a double holds
 * exactly: `mcp/jsonrpc.ts` refuses others). So when the data
 * holds such an integer, the policy is given the data as JSON text, each of those numbers spelled as its file
 * spells it. Data without one, nearly all, costs one walk of its values at load.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { beyondSafe, replaceNumbers } from '../mcp/json-scan.js';
import { mergeDataFiles } from './bundle-data.js';

/**
 * The merged `data` of `files` as JSON text with its integers beyond 2^53 as their files spell them, or
 * undefined when `data` (the same files read by JSON.parse) holds none.
 */
export function exactDataJson(
  files: ReadonlyMap<string, Buffer>,
  source: string,
  data: Record<string, unknown>,
): string | undefined {
  if (!holdsRoundedInteger(data)) return undefined;
  // Each such number becomes a string no data holds, merged as any value, then put back as written.
  const tag = `exact-number-${randomUUID()}-`;
  const spelt: string[] = [];
  const mark = (token: string): string =>
    beyondSafe(Number(token)) ? `"${tag}${spelt.push(token) - 1}"` : token;
  const marked = mergeDataFiles(files, source, (text) => JSON.parse(replaceNumbers(text, mark)));
  return JSON.stringify(marked).replace(
    new RegExp(`"${tag}(\\d+)"`, 'g'),
    (_, i: string) => spelt[Number(i)] ?? 'null',
  );
}

/** Whether `value` holds an integer JSON.parse may have rounded; a walk without recursion (data may nest deep). */
function holdsRoundedInteger(value: unknown): boolean {
  const stack: object[] = [];
  const look = (v: unknown): boolean => {
    if (typeof v === 'number') return beyondSafe(v);
    if (typeof v === 'object' && v !== null) stack.push(v);
    return false;
  };
  if (look(value)) return true;
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (Array.isArray(node)) {
      for (const v of node) if (look(v)) return true;
    } else {
      for (const k in node) if (look((node as Record<string, unknown>)[k])) return true;
    }
  }
  return false;
}
