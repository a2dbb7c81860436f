/**
 * The builtins a bundle's wasm leaves to the host that the shipped opa-wasm cannot run. OPA's wasm compiler
 * implements most builtins inside the module and lists the rest in the module's builtin table (its
 * `builtins` export), which opa-wasm answers from its JavaScript builtins: a listed builtin it has no version
 * of throws "not implemented" on every evaluation that reaches the call. `npm run policy:build` refuses such
 * a builtin; a bundle built otherwise (plain `opa build`) is refused at load instead, naming it.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The part of opa-wasm's LoadedPolicy read here: its instance's exports and its memory. */
export interface HostPolicy {
  readonly mem: { readonly buffer: ArrayBuffer };
  readonly wasmInstance: unknown;
}

interface TableExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
}

const require = createRequire(import.meta.url);
/** opa-wasm's package folder (its entry is `src/index.cjs`). */
const OPA_WASM = dirname(dirname(require.resolve('@open-policy-agent/opa-wasm')));

/**
 * The builtins opa-wasm runs in JavaScript, as its dispatcher looks them up (`src/builtins/index.js`, which
 * its `exports` map does not name: reached through the package's entry). The sidecar passes no custom
 * builtins to `loadPolicySync`; any it adds one day belong in this set too.
 */
const RUNTIME_BUILTINS: ReadonlySet<string> = new Set(Object.keys(runtimeBuiltins()));

function runtimeBuiltins(): object {
  const file = join(OPA_WASM, 'src', 'builtins', 'index.js');
  try {
    return require(file) as object;
  } catch (err) {
    throw new Error(
      `the policy engine's builtin check needs opa-wasm's ${file} (was @open-policy-agent/opa-wasm upgraded or pruned?)`,
      { cause: err },
    );
  }
}

/**
 * The builtins `policy`'s wasm calls on the host that the runtime has no implementation of, sorted. Read
 * before `setData`, which sets the heap back to where loading left it, so the table's JSON costs nothing.
 */
export function missingBuiltins(policy: HostPolicy): string[] {
  const instance = policy.wasmInstance as { exports?: TableExports; instance?: { exports: TableExports } };
  const exports = instance.exports ?? instance.instance?.exports;
  if (!exports) throw new Error('wasm instance has no exports');
  const addr = exports.opa_json_dump(exports.builtins());
  // The memory may have grown while dumping: view it afterwards.
  const mem = new Uint8Array(policy.mem.buffer);
  const end = mem.indexOf(0, addr);
  const table = JSON.parse(new TextDecoder().decode(mem.subarray(addr, end))) as Record<string, number>;
  return Object.keys(table)
    .filter((name) => !RUNTIME_BUILTINS.has(name))
    .sort();
}

/** The load error for a bundle calling `missing`, naming them and how to find them before deploying. */
export function missingBuiltinsError(missing: readonly string[]): Error {
  const { version } = require(join(OPA_WASM, 'package.json')) as { version: string };
  return new Error(
    `bundle calls builtin(s) the wasm runtime (opa-wasm ${version}) cannot run: ${missing.join(', ')}; ` +
      'every request reaching them would be denied (npm run policy:build refuses them at build time)',
  );
}
