/**
 * A bundle's wasm made ready to evaluate: compiled, every builtin it leaves to the host runnable (a bundle
 * calling one opa-wasm lacks names them), its data set, both entrypoints found (a bundle built
 * for other entrypoints names the ones it has) and each evaluated once, so a module that traps does so here
 * rather than on the first request.
 *
 * An evaluation that aborts (a rule conflict, a builtin that throws on the input) leaves the instance's
 * wasm stack pointer where the abort found it: OPA's wasm does not unwind it, so each abort loses a slice of
 * the 64 KiB stack, and after a few hundred every call traps — every decision of the revision a deny, every
 * list empty, until the bundle changes. So the call returned here makes a fresh instance from the compiled
 * module after a trap, and after every {@link ABORTS_PER_INSTANCE} aborts (synchronously: the next call
 * already has it).
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Bundle } from './bundle.js';
import { missingBuiltins, missingBuiltinsError } from './host-builtins.js';
import { type WasmCall, wasmCall } from './wasm-call.js';

/**
 * opa-wasm's CommonJS entry: its ES module entry exports only `loadPolicy`, not the synchronous
 * `loadPolicySync` a fresh instance is made with in the middle of a request.
 */
const opa = createRequire(import.meta.url)(
  '@open-policy-agent/opa-wasm',
) as typeof import('@open-policy-agent/opa-wasm');

/** A compiled `WebAssembly.Module` (the project's TypeScript libs do not type WebAssembly). */
type CompiledModule = Parameters<typeof opa.loadPolicySync>[0];
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<CompiledModule>;
      RuntimeError: new (...args: never[]) => Error;
    };
  }
).WebAssembly;

/**
 * Aborted evaluations after which an instance is replaced: each leaks at most a few hundred bytes of its
 * 64 KiB stack (a rule conflict: 128), so this stays far from the ~500 after which every call traps.
 */
const ABORTS_PER_INSTANCE = 32;

export interface Instantiated {
  readonly call: WasmCall;
  readonly decisionId: number;
  readonly visibleId: number;
}

export async function instantiate(
  bundle: Bundle,
  decisionEntrypoint: string,
  visibleEntrypoint: string,
): Promise<Instantiated> {
  // Compiled off the event loop (a reload must not stall requests); instances are made from it at once.
  const module = await wasm.compile(bundle.wasm);
  const withData = (policy: ReturnType<typeof opa.loadPolicySync>) => {
    // Given as text when it holds integers beyond 2^53: opa-wasm would write the rounded values.
    policy.setData(bundle.dataJson === undefined ? bundle.data : jsonBytes(bundle.dataJson));
    return policy;
  };
  const fresh = () => withData(opa.loadPolicySync(module));
  const first = opa.loadPolicySync(module);
  // Refused here, not denied on every request that reaches the call (read before setData: see there).
  const missing = missingBuiltins(first);
  if (missing.length > 0) throw missingBuiltinsError(missing);
  const policy = withData(first);
  const eps = (policy.entrypoints ?? {}) as Record<string, number>;
  const decisionId = eps[decisionEntrypoint];
  const visibleId = eps[visibleEntrypoint];
  if (decisionId === undefined || visibleId === undefined) {
    const missing = [decisionEntrypoint, visibleEntrypoint].filter((e) => !(e in eps));
    throw new Error(`bundle lacks entrypoint(s) ${missing.join(', ')} (has: ${Object.keys(eps).join(', ')})`);
  }
  policy.evaluate({}, decisionId);
  policy.evaluate({}, visibleId);
  let current = wasmCall(policy);
  let aborts = 0;
  const call: WasmCall = (json, entrypoint) => {
    try {
      return current(json, entrypoint);
    } catch (err) {
      // A trap (the stack used up, memory out of bounds) broke this instance: the next call needs another.
      // An abort only leaked some stack: a fresh instance after every few, not each (it costs ~20 calls,
      // more with large data), so a caller provoking aborts gains no CPU amplifier.
      if (err instanceof wasm.RuntimeError || ++aborts >= ABORTS_PER_INSTANCE) {
        // The same module and data gave a working instance before: making one again does not fail.
        current = wasmCall(fresh());
        aborts = 0;
      }
      throw err;
    }
  };
  return { call, decisionId, visibleId };
}

/** JSON text as the ArrayBuffer opa-wasm's `setData` takes as it is. */
function jsonBytes(json: string): ArrayBuffer {
  const bytes = Buffer.from(json, 'utf8');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}
