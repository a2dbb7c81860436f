/**
 * A bundle's wasm made ready to evaluate: compiled, its data set, both entrypoints found (a bundle built
 * for other entrypoints names the ones it has) and each evaluated once, so a module that traps does so here
 * rather than on the first request.
 *
 * @module
 */
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { Bundle } from './bundle.js';
import { type WasmCall, wasmCall } from './wasm-call.js';

export async function instantiate(
  bundle: Bundle,
  decisionEntrypoint: string,
  visibleEntrypoint: string,
): Promise<{ readonly call: WasmCall; readonly decisionId: number; readonly visibleId: number }> {
  const policy = await loadPolicy(bundle.wasm);
  policy.setData(bundle.data);
  const eps = (policy.entrypoints ?? {}) as Record<string, number>;
  const decisionId = eps[decisionEntrypoint];
  const visibleId = eps[visibleEntrypoint];
  if (decisionId === undefined || visibleId === undefined) {
    const missing = [decisionEntrypoint, visibleEntrypoint].filter((e) => !(e in eps));
    throw new Error(`bundle lacks entrypoint(s) ${missing.join(', ')} (has: ${Object.keys(eps).join(', ')})`);
  }
  policy.evaluate({}, decisionId);
  policy.evaluate({}, visibleId);
  return { call: wasmCall(policy), decisionId, visibleId };
}
