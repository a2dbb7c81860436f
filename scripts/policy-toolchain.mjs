#!/usr/bin/env node
/**
 * Policy toolchain: compiles the Rego policy folder into an OPA wasm bundle, runs its Rego unit tests and
 * checks its formatting. It uses a real `opa` (env OPA_BIN, else `opa` on PATH) when there is one, else the
 * project's own compiler `tools/policyc`, built from Debian sid's OPA Go sources into `.cache/opa-toolchain/`
 * (see shared notes `opa-toolchain.md`). Builds always use the capabilities of the JS wasm runtime
 * (`@open-policy-agent/opa-wasm/capabilities.json`), so a builtin the runtime lacks fails the build.
 *
 * CLI: node scripts/policy-toolchain.mjs ensure | build | test | fmt   (see `usage` in toolchain/cli.mjs)
 * API: ensureToolchain(), buildPolicy(), testPolicy(), fmtPolicy(), computeRevision() — each throws a
 * ToolchainError on failure; the CLI prints its message and exits 1.
 * Shared with the project's other Go tools built from Debian sid (scripts/helm-render.mjs): the private-apt
 * fetch and unpack of a package set (fetchDebianPackages), the GOPATH-mode build (goBuild), the cache lock
 * (withLock) and the file-hash helpers; each takes a DebianSet and defaults to the policy compiler's.
 *
 * This file is the entry and the public API only; the work is done in scripts/toolchain/, one job a module:
 * cli (arguments, output, exit codes), commands (build/test/fmt), input-check (the Rego type-checked against the
 * policy input's JSON Schema before build and test), explain (why a Rego test failed), opa
 * (opa binary or policyc), policyc (building tools/policyc and its stamp), debian (private-apt download and
 * unpack), go-build, lock, capabilities, bundle (revision, tar reading), files, process, config (paths, pins,
 * defaults), errors.
 *
 * @module
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from './toolchain/cli.mjs';

/** @typedef {import('./toolchain/debian.mjs').DebianSet} DebianSet */
/** @typedef {import('./toolchain/opa.mjs').Toolchain} Toolchain */

export { computeRevision, readTarGz } from './toolchain/bundle.mjs';
export { writeCapabilities } from './toolchain/capabilities.mjs';
export { main } from './toolchain/cli.mjs';
export { buildPolicy, fmtPolicy, testPolicy } from './toolchain/commands.mjs';
export {
  DEBIAN_PACKAGES,
  DEFAULT_ENTRYPOINTS,
  DEFAULT_OUT,
  DEFAULT_SRC,
  GO_BUILD_CACHE,
  GO_VERSION,
} from './toolchain/config.mjs';
export { fetchDebianPackages } from './toolchain/debian.mjs';
export { ToolchainError } from './toolchain/errors.mjs';
export { hashFiles, listFiles } from './toolchain/files.mjs';
export { goBuild } from './toolchain/go-build.mjs';
export { withLock } from './toolchain/lock.mjs';
export { ensureToolchain } from './toolchain/opa.mjs';
export { findOnPath, isExecutable, run } from './toolchain/process.mjs';

/**
 * The OPA release tools/policyc is verified against (building it warns when Debian sid ships another). Pinned
 * here, in the entry, because the Dockerfile's OPA_VERSION is checked against this file (test/unit/docker).
 */
export const EXPECTED_OPA_VERSION = '1.4.2';

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runCli(process.argv.slice(2));
}
