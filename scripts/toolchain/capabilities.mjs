/**
 * The capabilities file every policy build and test compiles against: the builtins and wasm ABI versions of
 * the JS runtime (`@open-policy-agent/opa-wasm/capabilities.json`) plus the `rego_v1` feature, and `print`
 * for tests, so a builtin the runtime lacks fails the build instead of the sidecar. Also written for the
 * Docker policy stage by scripts/docker/capabilities.mjs.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ROOT, WASM_CAPABILITIES } from './config.mjs';
import { ToolchainError } from './errors.mjs';

/**
 * Builtin declarations of `print` and of per-case tests' `internal.test_case` as OPA 1.4.2's capabilities
 * have them (tests may use them; builds may not).
 */
const PRINT_BUILTINS = [
  {
    name: 'internal.print',
    decl: { args: [{ dynamic: { of: { type: 'any' }, type: 'set' }, type: 'array' }], type: 'function' },
  },
  { name: 'print', decl: { type: 'function', variadic: { type: 'any' } } },
  // Per-case test rules (`test_x[note] if { some note, tc in cases … }`) are rewritten to call it.
  {
    name: 'internal.test_case',
    decl: { args: [{ dynamic: { type: 'any' }, type: 'array' }], type: 'function' },
  },
];

/**
 * Builtins opa-wasm's `capabilities.json` lists although its runtime can run neither: OPA's wasm compiler
 * leaves them to the host, and opa-wasm implements no JavaScript version ("not implemented: built-in
 * function … time.diff" on the first request that reaches the call). Left out, a policy using them fails
 * its build and its tests instead.
 */
const NOT_IN_RUNTIME = new Set(['time.diff', 'rand.intn']);

/**
 * Writes the capabilities to compile against: the builtins and wasm ABI versions of the JS runtime
 * (`@open-policy-agent/opa-wasm/capabilities.json`), plus the language feature `rego_v1`, which that file
 * lacks and without which OPA 1.x refuses to parse Rego v1 ("rego_v1 feature required"). Language features
 * are the compiler's business, not the runtime's, so adding it is safe. Tests also get `print` and test cases.
 * @param {string} dir @param {{ forTests?: boolean }} [opts] @returns {Promise<string>} the file written
 */
export async function writeCapabilities(dir, opts = {}) {
  let runtime;
  try {
    runtime = JSON.parse(await readFile(WASM_CAPABILITIES, 'utf8'));
  } catch (cause) {
    throw new ToolchainError(`cannot read ${relative(ROOT, WASM_CAPABILITIES)}: run npm ci first`, { cause });
  }
  const builtins = runtime.builtins.filter(
    (/** @type {{ name: string }} */ b) => !NOT_IN_RUNTIME.has(b.name),
  );
  if (opts.forTests) {
    for (const b of PRINT_BUILTINS) {
      if (!builtins.some((/** @type {{ name: string }} */ x) => x.name === b.name)) builtins.push(b);
    }
  }
  const features = [...new Set([...(runtime.features ?? []), 'rego_v1'])];
  const file = join(dir, opts.forTests ? 'capabilities.test.json' : 'capabilities.json');
  await writeFile(file, JSON.stringify({ ...runtime, builtins, features }));
  return file;
}
