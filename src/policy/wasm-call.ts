/**
 * One evaluation of a compiled policy through its `opa_eval` export (OPA's wasm ABI 1.2), with less
 * around the call than `LoadedPolicy.evaluate()`: the input JSON is written straight into the wasm
 * memory (no intermediate `Uint8Array`, no new `TextEncoder`), and the result is found with a native
 * NUL search and decoded by `Buffer` (opa-wasm scans byte by byte in JavaScript and builds a new
 * `TextDecoder` on every call). On this project's machines that is a third of the fixed cost of an
 * evaluation. The JSON in and out is the same as opa-wasm's, so results are identical; a policy built
 * for an older ABI goes through `evaluate()`.
 *
 * opa-wasm keeps the instance, its memory and the heap addresses as public fields of `LoadedPolicy`
 * without typing them; {@link wasmCall} checks they are there and falls back to `evaluate()` when not.
 *
 * @module
 */
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';

/** Evaluates entrypoint `entrypoint` on the input given as JSON text; returns opa-wasm's result set. */
export type WasmCall = (inputJson: string, entrypoint: number) => unknown;

const PAGE = 64 * 1024;

/** The parts of a `WebAssembly.Memory` used here (the project's TypeScript libs do not type WebAssembly). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface PolicyInternals {
  readonly minorVersion: number;
  readonly mem: WasmMemory;
  readonly wasmInstance: { readonly exports: Record<string, unknown> };
  readonly dataAddr: number;
  readonly dataHeapPtr: number;
}

type OpaEval = (
  reserved: number,
  entrypoint: number,
  dataAddr: number,
  inputAddr: number,
  inputLen: number,
  heapPtr: number,
  format: number,
) => number;

function internals(policy: LoadedPolicy): (PolicyInternals & { readonly opaEval: OpaEval }) | undefined {
  const p = policy as unknown as Partial<PolicyInternals>;
  const opaEval = p.wasmInstance?.exports.opa_eval;
  if (
    typeof p.minorVersion !== 'number' ||
    p.minorVersion < 2 ||
    typeof p.mem?.grow !== 'function' ||
    !(p.mem.buffer instanceof ArrayBuffer) ||
    typeof p.dataAddr !== 'number' ||
    typeof p.dataHeapPtr !== 'number' ||
    typeof opaEval !== 'function'
  ) {
    return undefined;
  }
  return { ...(p as PolicyInternals), opaEval: opaEval as OpaEval };
}

/**
 * The evaluation function for `policy` once its data is set (the heap addresses are read once, here:
 * call this again after another `setData`).
 */
export function wasmCall(policy: LoadedPolicy): WasmCall {
  const p = internals(policy);
  if (!p) return (json, entrypoint) => policy.evaluate(JSON.parse(json), entrypoint);
  const { mem, opaEval, dataAddr, dataHeapPtr: inputAddr } = p;
  let view = Buffer.from(mem.buffer);
  const current = (): Buffer => {
    // The memory grows (and its buffer is replaced) when the input does not fit or the policy allocates.
    if (view.buffer !== mem.buffer) view = Buffer.from(mem.buffer);
    return view;
  };
  return (json, entrypoint) => {
    // Three bytes per UTF-16 unit is the most UTF-8 can need; only when that might not fit is the exact
    // size worth computing (memory never shrinks, so grow by what the input needs, not the bound).
    if (inputAddr + json.length * 3 > mem.buffer.byteLength) {
      const short = inputAddr + Buffer.byteLength(json) - mem.buffer.byteLength;
      if (short > 0) mem.grow(Math.ceil(short / PAGE));
    }
    const inputLen = current().write(json, inputAddr, 'utf8');
    const out = opaEval(0, entrypoint, dataAddr, inputAddr, inputLen, inputAddr + inputLen, 0);
    const buf = current();
    const end = buf.indexOf(0, out);
    return JSON.parse(buf.toString('utf8', out, end === -1 ? buf.length : end));
  };
}
