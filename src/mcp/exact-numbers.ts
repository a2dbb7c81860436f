/**
 * Integers beyond 2^53, decided as the body spells them. JSON.parse reads `9007199254740993` as
 * 9007199254740992, while the upstream may read it exactly (Python's `json`, Go's `int64`, Java's `long`,
 * serde's `u64`) and OPA compares numbers exactly. Decided on the rounded value, a call naming an account
 * `…993` would be checked against the allow-list as `…992` and run on `…993`. So when a body holds such an
 * integer, each `tools/call` and `prompts/get` in it carries the text of its `arguments` as written, and
 * the policy reads that text (`policy/input-json.ts`): the same value the upstream reads. Bodies without
 * one, nearly all, pay one `Number.isSafeInteger` per integer they hold.
 *
 * @module
 */
import { arrayElements, objectMembers } from './json-scan.js';
import type { JsonRpcMessage } from './jsonrpc.js';

/** True for a number JSON.parse may have rounded: an integer beyond ±(2^53 − 1). */
export const roundedInteger = (n: number): boolean => Number.isInteger(n) && !Number.isSafeInteger(n);

/** Methods whose `params.arguments` the policy reads. */
const WITH_ARGUMENTS = new Set(['tools/call', 'prompts/get']);

/**
 * `messages` (read from `text`, a body holding an integer beyond 2^53) with `argumentsJson` set on each
 * request of {@link WITH_ARGUMENTS} whose `params.arguments` is an object: that object's text in the body.
 */
export function withExactArguments(
  text: string,
  batch: boolean,
  messages: JsonRpcMessage[],
): JsonRpcMessage[] {
  const starts = batch ? (arrayElements(text, 0) ?? []) : [0];
  return messages.map((m, i) => {
    if (m.kind !== 'request' || !WITH_ARGUMENTS.has(m.method)) return m;
    const at = starts[i];
    const params = at === undefined ? undefined : objectMembers(text, at)?.find((p) => p.key === 'params');
    const args = params && objectMembers(text, params.value)?.find((p) => p.key === 'arguments');
    if (!args || text.charCodeAt(args.value) !== 0x7b /* { */) return m;
    return { ...m, argumentsJson: text.slice(args.value, args.end) };
  });
}
