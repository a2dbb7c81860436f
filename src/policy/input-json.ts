/**
 * The policy input as JSON text, for the wasm call and the decision cache's key. The subject part is
 * serialised once per subject object (input building hands out one per principal, and the token and key
 * caches keep one principal per credential), so a request pays only for its action, resource and context.
 *
 * @module
 */
import type { PolicyInput } from './input.js';

const subjectText = new WeakMap<object, string>();

/** `JSON.stringify(input.subject)`, remembered per subject object. */
export function subjectJson(input: PolicyInput): string {
  let text = subjectText.get(input.subject);
  if (text === undefined) {
    text = JSON.stringify(input.subject);
    subjectText.set(input.subject, text);
  }
  return text;
}

/** The same JSON as `JSON.stringify(input)` up to key order (which OPA ignores). */
export function inputJson(input: PolicyInput): string {
  return `{"subject":${subjectJson(input)},"action":${JSON.stringify(input.action)},"resource":${JSON.stringify(input.resource)},"context":${JSON.stringify(input.context)}}`;
}
