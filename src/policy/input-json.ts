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

/**
 * The same JSON as `JSON.stringify(input)` up to key order (which OPA ignores), but for `action.arguments`
 * when `input.exactArguments` holds their text: that text, with its integers as the body spells them.
 */
export function inputJson(input: PolicyInput): string {
  return `{"subject":${subjectJson(input)},"action":${actionJson(input)},"resource":${JSON.stringify(input.resource)},"context":${JSON.stringify(input.context)}}`;
}

function actionJson(input: PolicyInput): string {
  const exact = input.exactArguments;
  if (exact === undefined) return JSON.stringify(input.action);
  const { arguments: _rounded, ...rest } = input.action;
  // `rest` holds `method` at least, so its JSON ends in `"…"}`: the arguments go before the brace.
  return `${JSON.stringify(rest).slice(0, -1)},"arguments":${exact}}`;
}
