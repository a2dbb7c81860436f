/**
 * The policy commands behind the CLI and the API: `buildPolicy` compiles a policy folder into an
 * `opa build -t wasm` bundle and unpacks it, `testPolicy` runs its Rego unit tests and says where each failing
 * one failed, `fmtPolicy` checks or rewrites its formatting. Each runs the toolchain opa.mjs picks, against
 * the wasm runtime's capabilities, and throws a ToolchainError when the tool fails.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { computeRevision, readTarGz, TEST_GLOB } from './bundle.mjs';
import { writeCapabilities } from './capabilities.mjs';
import { DEFAULT_ENTRYPOINTS, DEFAULT_OUT, DEFAULT_SRC } from './config.mjs';
import { measureCoverage } from './coverage.mjs';
import { toolFailure as failure, ToolchainError } from './errors.mjs';
import { explainFailures } from './explain.mjs';
import { listFiles, shortPath } from './files.mjs';
import { checkInputSchema } from './input-check.mjs';
import { withLock } from './lock.mjs';
import { ensureToolchain } from './opa.mjs';
import { run } from './process.mjs';

/** @typedef {import('./opa.mjs').Toolchain} Toolchain */

/**
 * Parses every data.json of the folder as opa will, so that one that is not JSON is named with its line and
 * column (opa's own message has neither).
 * @param {string} src
 */
async function checkDataFiles(src) {
  for (const rel of await listFiles(src, (f) => f === 'data.json' || f.endsWith('/data.json'))) {
    const text = await readFile(join(src, rel), 'utf8');
    try {
      JSON.parse(text);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const pos = /at position (\d+)/.exec(message);
      const before = pos ? text.slice(0, Number(pos[1])) : '';
      const where = pos ? `:${before.split('\n').length}:${before.length - before.lastIndexOf('\n')}` : '';
      throw new ToolchainError(`${shortPath(join(src, rel))}${where}: not valid JSON (${message})`);
    }
  }
}

/** @param {string} src */
async function checkSrc(src) {
  const dir = resolve(src);
  if (!existsSync(dir) || !(await stat(dir)).isDirectory())
    throw new ToolchainError(`policy folder ${src} does not exist`);
  return dir;
}

/**
 * Signing of a built bundle, as `opa build --signing-key` does (OPA's flags and defaults): `key` is a PEM
 * private key file (RS*, PS*, ES*) or an HMAC secret (HS*); `alg` defaults to RS256; `claimsFile` adds claims
 * such as `scope` (and then no `kid` is written unless the claims name a `keyid`); `keyId` is the `kid`
 * (OPA's `--verification-key-id`, default `default`).
 * @typedef {{ key: string, alg?: string, claimsFile?: string, keyId?: string }} SigningOptions
 */

/**
 * The revision as the sidecar accepts it in a manifest (`src/policy/bundle.ts`): at most 256 characters, no
 * control characters or line breaks. Refused here, not by the sidecar after the bundle shipped.
 * @param {string} revision
 */
function checkRevision(revision) {
  if (revision.length > 256) throw new ToolchainError('--revision / POLICY_REVISION: at most 256 characters');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters refused
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(revision)) {
    throw new ToolchainError('--revision / POLICY_REVISION: no control characters or line breaks');
  }
  return revision;
}

/**
 * Compiles a policy folder into `<out>/bundle.tar.gz` (an `opa build -t wasm` bundle) and unpacks it into `<out>/bundle/`.
 * With `signing`, the bundle carries a `.signatures.json` (see SigningOptions).
 * `inputSchema`: the JSON Schema the Rego is type-checked against first (input-check.mjs; default the sidecar's
 * policy input), or false to skip the check.
 * @param {{ src?: string, out?: string, entrypoints?: readonly string[], revision?: string, signing?: SigningOptions, inputSchema?: string | false }} [opts]
 * @returns {Promise<{ bundle: string, dir: string, revision: string, files: string[], toolchain: Toolchain }>}
 */
export async function buildPolicy(opts = {}) {
  const src = await checkSrc(opts.src ?? DEFAULT_SRC);
  const out = resolve(opts.out ?? DEFAULT_OUT);
  const entrypoints = opts.entrypoints?.length ? opts.entrypoints : DEFAULT_ENTRYPOINTS;
  const signing = signingArgs(opts.signing); // refused before anything is built
  await checkDataFiles(src);
  const revision = checkRevision(
    opts.revision || process.env.POLICY_REVISION || (await computeRevision(src)),
  );
  const tc = await ensureToolchain();
  await mkdir(out, { recursive: true });
  // Two builds into one folder (parallel test workers, a watch loop and a manual run) would interleave
  // their tarball and unpacked copy: one at a time per output folder.
  return withLock(
    (line) => process.stderr.write(`${line}\n`),
    async () => {
      const bundle = join(out, 'bundle.tar.gz');
      const what = `policy build failed for ${shortPath(src) || '.'}`;
      // Written beside the bundle and renamed over it once built: a failed build leaves the last good
      // bundle in place, for the sidecar that reads it now and the one that starts on it later.
      const partial = join(out, '.bundle.tar.gz.partial');
      const tmp = await mkdtemp(join(tmpdir(), 'policy-build-'));
      let res;
      try {
        // With print among the builtins: `opa check` compiles print() calls, which `opa build` drops.
        await checkInputSchema(
          tc,
          src,
          await writeCapabilities(tmp, { forTests: true }),
          what,
          opts.inputSchema,
        );
        const caps = await writeCapabilities(tmp);
        const args = ['build', '-t', 'wasm', '--capabilities', caps, '--revision', revision];
        for (const e of entrypoints) args.push('-e', e);
        args.push(...signing);
        // Run inside src and compile `.`: the Rego files that opa keeps in a wasm bundle are then named
        // `/authz.rego`, not by this machine's absolute path, so the bundle is the same on every machine.
        args.push('--ignore', TEST_GLOB, '-o', partial, '.');
        res = await run(tc.bin, args, { cwd: src });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      if (res.code === 0) await rename(partial, bundle);
      else await rm(partial, { force: true });
      if (res.code !== 0) {
        const output = res.stderr + res.stdout;
        throw new ToolchainError(failure(what, output), {
          output,
        });
      }
      const dir = join(out, 'bundle');
      await rm(dir, { recursive: true, force: true });
      const files = [];
      for (const entry of readTarGz(await readFile(bundle))) {
        const rel = entry.name.replace(/^\/+/, '');
        if (!rel || rel.split('/').includes('..'))
          throw new ToolchainError(`unexpected bundle entry ${entry.name}`);
        await mkdir(dirname(join(dir, rel)), { recursive: true });
        await writeFile(join(dir, rel), entry.data);
        files.push(entry.name);
      }
      return { bundle, dir, revision, files, toolchain: tc };
    },
    out,
  );
}

/**
 * The signing flags of `opa build`/`policyc build`; file paths made absolute, as the build runs inside src.
 * @param {SigningOptions | undefined} signing
 */
function signingArgs(signing) {
  if (!signing) return [];
  if (!signing.key)
    throw new ToolchainError('--signing-alg, --claims-file and --verification-key-id need --signing-key');
  const key = existsSync(signing.key) ? resolve(signing.key) : signing.key; // a file, or an HMAC secret
  const args = ['--signing-key', key];
  if (signing.alg) args.push('--signing-alg', signing.alg);
  if (signing.claimsFile) args.push('--claims-file', resolve(signing.claimsFile));
  if (signing.keyId) args.push('--verification-key-id', signing.keyId);
  return args;
}

/**
 * One test's result; a failing one has an `explanation` (explain.mjs): the failed expression with its
 * file:line and the values of its variables, as `opa test --var-values` prints them.
 * @typedef {{ package: string, name: string, file: string, row: number, fail: boolean, error?: string,
 *   explanation?: string, skip: boolean, durationMs: number, output: string }} TestResult
 */

/**
 * Runs the Rego unit tests of a policy folder, compiled against the wasm runtime's capabilities (plus `print`).
 * Rejects with ToolchainError when the tests do not compile; failing tests are reported in the result, each
 * with the explanation of a traced rerun (explain.mjs). With `coverage`, once every test passed, a second run
 * measures which lines of the policy they reached (coverage.mjs).
 * The Rego (tests left out) is type-checked against `inputSchema` first, as for a build.
 * @param {{ src?: string, coverage?: boolean, inputSchema?: string | false }} [opts]
 * @returns {Promise<{ passed: number, failed: number, errored: number, skipped: number, results: TestResult[],
 *   coverage?: import('./coverage.mjs').Coverage }>}
 */
export async function testPolicy(opts = {}) {
  const src = await checkSrc(opts.src ?? DEFAULT_SRC);
  await checkDataFiles(src);
  const tc = await ensureToolchain();
  const tmp = await mkdtemp(join(tmpdir(), 'policy-test-'));
  try {
    // Tests compile against the runtime's builtins too, so a policy cannot pass its tests on a builtin the
    // wasm runtime lacks.
    const capsFile = await writeCapabilities(tmp, { forTests: true });
    await checkInputSchema(
      tc,
      src,
      capsFile,
      `policy tests did not run for ${shortPath(src) || '.'}`,
      opts.inputSchema,
    );
    // Inside src, on `.`: a path given to opa's loader as `prefix:path` would mount another folder's files
    // under a data prefix (and `-x` would be a flag), as build already avoids.
    const res = await run(tc.bin, ['test', '--format', 'json', '--capabilities', capsFile, '.'], {
      cwd: src,
    });
    /** @type {unknown} */
    let raw;
    try {
      raw = JSON.parse(res.stdout);
    } catch {
      const output = res.stderr + res.stdout;
      throw new ToolchainError(failure(`policy tests did not run for ${shortPath(src) || '.'}`, output), {
        output,
      });
    }
    const parsed = (Array.isArray(raw) ? raw : []).map(toTestResult);
    const failing = parsed.filter((r) => r.fail && !r.error);
    const explained = await explainFailures(tc.bin, capsFile, src, failing);
    const results = parsed.map((r) => {
      const explanation = explained.get(`${r.package}.${r.name}`);
      return explanation ? { ...r, explanation } : r;
    });
    const count = (/** @type {(r: TestResult) => boolean} */ f) => results.filter(f).length;
    const summary = {
      passed: count((r) => !r.fail && !r.error && !r.skip),
      failed: count((r) => r.fail && !r.error),
      errored: count((r) => Boolean(r.error)),
      skipped: count((r) => r.skip),
      results,
    };
    if (res.code !== 0 && summary.failed + summary.errored === 0) {
      throw new ToolchainError(`policy tests exited ${res.code}`, { output: res.stderr });
    }
    if (!opts.coverage || summary.failed + summary.errored > 0 || results.length === 0) return summary;
    return { ...summary, coverage: await measureCoverage(tc.bin, capsFile, src) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Normalises one entry of `opa test --format json` (policyc writes the same shape). @param {any} r @returns {TestResult} */
function toTestResult(r) {
  const err = r.error;
  return {
    package: String(r.package ?? ''),
    name: String(r.name ?? ''),
    file: String(r.location?.file ?? ''),
    row: Number(r.location?.row ?? 0),
    fail: Boolean(r.fail),
    skip: Boolean(r.skip),
    ...(err ? { error: typeof err === 'string' ? err : String(err.message ?? JSON.stringify(err)) } : {}),
    durationMs: Number(r.duration ?? 0) / 1e6,
    output: r.output ? Buffer.from(String(r.output), 'base64').toString('utf8') : '',
  };
}

/**
 * `opa fmt` for a policy folder (Rego v1): `check` lists files that are not formatted, `write` rewrites them.
 * @param {{ src?: string, mode?: 'check' | 'write' }} [opts]
 * @returns {Promise<{ files: string[] }>} the files that were not formatted
 */
export async function fmtPolicy(opts = {}) {
  const src = await checkSrc(opts.src ?? DEFAULT_SRC);
  const tc = await ensureToolchain();
  const regoFiles = await listFiles(src, (rel) => rel.endsWith('.rego'));
  if (regoFiles.length === 0) return { files: [] };
  // Both tools print the names of files that need formatting, one a line (`opa fmt --list`).
  const res = await run(tc.bin, ['fmt', '--list', ...(opts.mode === 'write' ? ['--write'] : []), src]);
  if (res.code !== 0) {
    throw new ToolchainError(`policy fmt failed for ${shortPath(src) || '.'}`, {
      output: res.stderr + res.stdout,
    });
  }
  const files = res.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((f) => shortPath(resolve(f)));
  return { files };
}
