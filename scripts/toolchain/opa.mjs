/**
 * Which Rego toolchain runs the policy commands: a real `opa` (env OPA_BIN, else `opa` on PATH) when there is
 * one, else the project's own compiler tools/policyc (policyc.mjs). The choice is made once a process, and
 * `describe` says which one was taken.
 *
 * @module
 */
import { HOW_TO_GET } from './config.mjs';
import { ToolchainError } from './errors.mjs';
import { shortPath } from './files.mjs';
import { ensurePolicyc } from './policyc.mjs';
import { findOnPath, isExecutable, run } from './process.mjs';

/**
 * @typedef {{ kind: 'opa' | 'policyc', bin: string, opaVersion: string, goVersion?: string,
 *   packages?: Record<string, string> }} Toolchain
 */

/** @type {Promise<Toolchain> | undefined} */
let cached;

/**
 * Finds or builds a toolchain: OPA_BIN, else `opa` on PATH, else tools/policyc built from Debian sid.
 * @param {{ log?: (line: string) => void }} [opts]
 * @returns {Promise<Toolchain>}
 */
export function ensureToolchain(opts = {}) {
  cached ??= resolveToolchain(opts.log ?? ((line) => process.stderr.write(`${line}\n`)));
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/** @param {(line: string) => void} log @returns {Promise<Toolchain>} */
async function resolveToolchain(log) {
  const fromEnv = process.env.OPA_BIN;
  if (fromEnv) {
    if (!(await isExecutable(fromEnv))) {
      throw new ToolchainError(
        `OPA_BIN is set to ${fromEnv}, which is not an executable file. ${HOW_TO_GET}`,
      );
    }
    return { kind: 'opa', bin: fromEnv, opaVersion: await opaVersion(fromEnv) };
  }
  const onPath = await findOnPath('opa');
  if (onPath) return { kind: 'opa', bin: onPath, opaVersion: await opaVersion(onPath) };
  return ensurePolicyc(log);
}

/** @param {string} bin */
async function opaVersion(bin) {
  const res = await run(bin, ['version']);
  const m = /^Version:\s*(\S+)/m.exec(res.stdout);
  if (res.code !== 0 || !m?.[1]) {
    throw new ToolchainError(`${bin} version failed (exit ${res.code}): is it OPA?`, { output: res.stderr });
  }
  return m[1];
}

/** @param {Toolchain} tc */
export function describe(tc) {
  if (tc.kind === 'opa') return `opa ${tc.opaVersion} (${tc.bin})`;
  return `policyc (OPA ${tc.opaVersion}, ${tc.goVersion}, Debian sid) at ${shortPath(tc.bin)}`;
}
