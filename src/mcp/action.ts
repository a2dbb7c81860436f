/**
 * An Action is what the policy decides: one JSON-RPC request, classified by method into the kind of
 * resource it touches (tool, prompt, resource or the method itself).
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
  readonly arguments?: Readonly<Record<string, unknown>>;
  readonly resource: { readonly kind: ResourceKind; readonly name: string };
}

/**
 * True for a `tools/call` or `prompts/get` whose `arguments` is there but no JSON object (an array, a
 * string): its Action shows the policy no arguments (`{}`), while the upstream would get the value as it is.
 */
export function nonObjectArguments(method: string, params: unknown): boolean {
  if (method !== 'tools/call' && method !== 'prompts/get') return false;
  const args = isRecord(params) ? params.arguments : undefined;
  return args !== undefined && args !== null && !isRecord(args);
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
    default:
      return { method, id, resource: { kind: 'method', name: method } };
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
