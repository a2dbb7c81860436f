/**
 * The project's own Rego compiler, tools/policyc, built on first use: fetches the pinned Debian sid set
 * (debian.mjs), compiles policyc against it (go-build.mjs) into `.cache/opa-toolchain/bin/policyc`, and
 * records in `.cache/opa-toolchain/stamp.json` which set and sources it was built from, so the warm path
 * needs neither apt nor the lock, and a change to tools/policyc recompiles without refetching packages.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// The verified OPA release is pinned in the entry file, which the Dockerfile's OPA_VERSION is checked against
// (test/unit/docker); it is only read when policyc is built, so this import cycle is safe.
import { EXPECTED_OPA_VERSION } from '../policy-toolchain.mjs';
import { CACHE, DEBIAN_PACKAGES, GO_VERSION, POLICYC, STAMP, TOOL_SRC } from './config.mjs';
import { fetchDebianPackages } from './debian.mjs';
import { ToolchainError } from './errors.mjs';
import { hashFiles, listFiles } from './files.mjs';
import { goBuild } from './go-build.mjs';
import { withLock } from './lock.mjs';
import { isExecutable, run } from './process.mjs';

/** @typedef {import('./opa.mjs').Toolchain} Toolchain */

/** Hash of the policyc sources: a change rebuilds the binary (but never refetches Debian packages). */
async function policycSourceHash() {
  return hashFiles(TOOL_SRC, await listFiles(TOOL_SRC, (rel) => rel.endsWith('.go')));
}

/** @param {(line: string) => void} log @returns {Promise<Toolchain>} */
export async function ensurePolicyc(log) {
  const srcHash = await policycSourceHash();
  /** @param {Stamp | undefined} stamp */
  const ready = async (stamp) =>
    stamp && unpackedSetMatches(stamp) && stamp.srcHash === srcHash && (await isExecutable(POLICYC));
  // Warm path: the unpacked set is the pinned one and the binary is current; no apt, no lock.
  const warm = await readStamp();
  if (warm && (await ready(warm))) return toolchainFromStamp(warm);

  return withLock(log, async () => {
    const stamp = await readStamp(); // another process may have finished while we waited
    if (stamp && (await ready(stamp))) return toolchainFromStamp(stamp);
    if (stamp && unpackedSetMatches(stamp)) {
      log('policy toolchain: tools/policyc changed, compiling policyc…');
      await compilePolicyc();
      const next = await describePolicyc({ ...stamp, srcHash }, log);
      await writeStamp(next);
      return toolchainFromStamp(next);
    }
    const seconds = (/** @type {number} */ since) => ((Date.now() - since) / 1000).toFixed(1);
    const started = Date.now();
    await rm(STAMP, { force: true }); // a run that dies half way must not leave a matching stamp
    const packages = await fetchDebianPackages(log);
    log('policy toolchain: compiling policyc (about 30 s the first time)…');
    const compileStarted = Date.now();
    await compilePolicyc();
    const next = await describePolicyc({ packages, set: DEBIAN_PACKAGES.join(' '), srcHash }, log);
    await writeStamp(next);
    log(`policy toolchain: ready in ${seconds(started)} s (compile ${seconds(compileStarted)} s)`);
    return toolchainFromStamp(next);
  });
}

/**
 * @typedef {{ packages: Record<string, string>, set: string, srcHash: string, opaVersion?: string,
 *   goVersion?: string }} Stamp
 */

/** @returns {Promise<Stamp | undefined>} */
async function readStamp() {
  try {
    return JSON.parse(await readFile(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

/** @param {Stamp} stamp */
async function writeStamp(stamp) {
  await writeFile(STAMP, `${JSON.stringify(stamp, null, 2)}\n`);
}

/** @param {Stamp} stamp */
function unpackedSetMatches(stamp) {
  return (
    stamp.set === DEBIAN_PACKAGES.join(' ') &&
    existsSync(join(CACHE, 'root', 'usr', 'lib', `go-${GO_VERSION}`, 'bin', 'go')) &&
    existsSync(join(CACHE, 'root', 'usr', 'share', 'gocode', 'src', 'github.com', 'open-policy-agent', 'opa'))
  );
}

/** @param {Stamp} stamp @returns {Toolchain} */
function toolchainFromStamp(stamp) {
  return {
    kind: 'policyc',
    bin: POLICYC,
    opaVersion: stamp.opaVersion ?? 'unknown',
    goVersion: stamp.goVersion ?? 'unknown',
    packages: stamp.packages,
  };
}

/** Asks the built binary for its OPA and Go versions; warns when OPA is not the verified one. */
async function describePolicyc(/** @type {Stamp} */ stamp, /** @type {(line: string) => void} */ log) {
  const res = await run(POLICYC, ['version']);
  const opa = /^OPA:\s*(\S+)/m.exec(res.stdout)?.[1];
  const go = /^Go:\s*(\S+)/m.exec(res.stdout)?.[1];
  if (res.code !== 0 || !opa) throw new ToolchainError('policyc version failed', { output: res.stderr });
  if (opa !== EXPECTED_OPA_VERSION) {
    log(
      `policy toolchain: warning: Debian sid now ships OPA ${opa}, not the verified ${EXPECTED_OPA_VERSION}; ` +
        'check the policy tests and bundle before relying on it',
    );
  }
  return { ...stamp, opaVersion: opa, goVersion: go };
}

/** Compiles tools/policyc in GOPATH mode against the unpacked Debian Go sources. */
function compilePolicyc() {
  return goBuild(TOOL_SRC, POLICYC);
}
