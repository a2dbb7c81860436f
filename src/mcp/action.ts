/**
 * An Action is what the policy decides: one JSON-RPC request, classified by method into the kind of
 * resource it touches (tool, prompt, resource or the method itself). A `completion/complete` touches the item
 * its `ref` names: a completion for a prompt or resource template is decided as a use of it.
 *
 * @module
 */

export type ResourceKind = 'tool' | 'prompt' | 'resource' | 'resource_template' | 'method';

export type JsonRpcId = string | number | null;

export interface Action {
  readonly method: string;
  readonly id: JsonRpcId;
  readonly tool?: string;
  readonly prompt?: string;
  readonly uri?: string;
  /** `completion/complete`: the argument being completed (a name or value that is no string reads ''). */
  readonly argument?: { readonly name: string; readonly value: string };
  /** `tools/call`, `prompts/get`: the arguments; `completion/complete`: the context's (`context.arguments`). */
  readonly arguments?: Readonly<Record<string, unknown>>;
  readonly resource: { readonly kind: ResourceKind; readonly name: string };
}

/**
 * Why a request's params are no shape its Action can show the policy, or undefined: a `tools/call` or
 * `prompts/get` whose `arguments` is there but no JSON object (an array, a string), or a `completion/complete`
 * whose `context` or `context.arguments` is (the Action shows `{}`, while the upstream would get the value as
 * it is), whose `argument` is no `name` and `value` of strings (shown as ''), or whose `ref` names no prompt or
 * resource template (missing, another `type`, a name or URI that is no string: there is no item to decide it on).
 */
export function malformedParams(method: string, params: unknown): string | undefined {
  if (method === 'tools/call' || method === 'prompts/get') {
    return nonObject(isRecord(params) ? params.arguments : undefined) ? ARGUMENTS_NOT_OBJECT : undefined;
  }
  if (method !== 'completion/complete') return undefined;
  const p = isRecord(params) ? params : {};
  if (completionRef(p) === undefined) return COMPLETION_REF_NEEDED;
  // The policy is shown what the upstream reads: a name or value that is no string would reach it as ''.
  const a = p.argument;
  if (!isRecord(a) || typeof a.name !== 'string' || typeof a.value !== 'string')
    return COMPLETION_ARGUMENT_NEEDED;
  if (nonObject(p.context)) return 'context must be a JSON object';
  const context = isRecord(p.context) ? p.context : undefined;
  return nonObject(context?.arguments) ? 'context.arguments must be a JSON object' : undefined;
}

const ARGUMENTS_NOT_OBJECT = 'arguments must be a JSON object';
const COMPLETION_ARGUMENT_NEEDED =
  'completion/complete needs the argument being completed ({"name": …, "value": …}, both strings)';
export const COMPLETION_REF_NEEDED =
  'completion/complete needs a ref to a prompt ({"type": "ref/prompt", "name": …}) or a resource template ({"type": "ref/resource", "uri": …})';

function nonObject(v: unknown): boolean {
  return v !== undefined && v !== null && !isRecord(v);
}

/** Classifies one JSON-RPC request (method + params) into an Action. */
export function classify(method: string, id: JsonRpcId, params: unknown): Action {
  const p = isRecord(params) ? params : {};
  switch (method) {
    case 'tools/call': {
      const tool = typeof p.name === 'string' ? p.name : '';
      const args = isRecord(p.arguments) ? p.arguments : {};
      return { method, id, tool, arguments: args, resource: { kind: 'tool', name: tool } };
    }
    case 'prompts/get': {
      const prompt = typeof p.name === 'string' ? p.name : '';
      const args = isRecord(p.arguments) ? p.arguments : {};
      return { method, id, prompt, arguments: args, resource: { kind: 'prompt', name: prompt } };
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      const uri = typeof p.uri === 'string' ? p.uri : '';
      return { method, id, uri, resource: { kind: 'resource', name: uri } };
    }
    case 'completion/complete':
      return completion(method, id, p);
    default:
      return { method, id, resource: { kind: 'method', name: method } };
  }
}

/**
 * A `completion/complete` (MCP 2025-06-18, 2025-11-25): `ref` `{type: "ref/prompt", name}` is the prompt,
 * `{type: "ref/resource", uri}` the resource template (`uri` as written: a URI template, or a plain URI, matched
 * by the SDK server as text), decided as `resource_template` as `resources/templates/list` lists it. Any other
 * ref is the method alone ({@link malformedParams} refuses it before the policy).
 */
function completion(method: string, id: JsonRpcId, p: Record<string, unknown>): Action {
  const ref = completionRef(p);
  if (ref === undefined) return { method, id, resource: { kind: 'method', name: method } };
  const a = isRecord(p.argument) ? p.argument : {};
  const argument = {
    name: typeof a.name === 'string' ? a.name : '',
    value: typeof a.value === 'string' ? a.value : '',
  };
  const context = isRecord(p.context) ? p.context : {};
  const args = isRecord(context.arguments) ? context.arguments : {};
  return ref.kind === 'prompt'
    ? { method, id, prompt: ref.name, argument, arguments: args, resource: ref }
    : { method, id, uri: ref.name, argument, arguments: args, resource: ref };
}

function completionRef(p: Record<string, unknown>): Action['resource'] | undefined {
  const ref = p.ref;
  if (!isRecord(ref)) return undefined;
  if (ref.type === 'ref/prompt' && typeof ref.name === 'string') return { kind: 'prompt', name: ref.name };
  if (ref.type === 'ref/resource' && typeof ref.uri === 'string') {
    return { kind: 'resource_template', name: ref.uri };
  }
  return undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
