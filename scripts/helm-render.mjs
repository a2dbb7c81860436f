#!/usr/bin/env node
/**
 * Chart rendering for tests and CI on machines without Helm. Uses `helm` (env HELM_BIN, else `helm` on PATH)
 * when there is one; otherwise the project's own renderer `tools/helm-render`: Go's `text/template` with
 * Sprig v3 and Helm's own functions, built from Debian sid's Go sources into `.cache/helm-render/` with the
 * same private-apt / dpkg -x / GOPATH machinery as the policy compiler (scripts/policy-toolchain.mjs).
 *
 * CLI: node scripts/helm-render.mjs ensure [--builtin] [--json]   (prints which renderer, building it if needed)
 *      node scripts/helm-render.mjs template [NAME] CHART [helm template flags]   (passed through)
 * API: ensureRenderer() — throws a ToolchainError on failure. The chart tests (test/unit/chart/) call the
 * renderer it returns directly; tools/helm-render takes `helm template`'s flags plus `--notes`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { lstat, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  fetchDebianPackages,
  findOnPath,
  GO_BUILD_CACHE,
  GO_VERSION,
  goBuild,
  hashFiles,
  isExecutable,
  listFiles,
  run,
  ToolchainError,
  withLock,
} from './policy-toolchain.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'helm-render');
const TOOL_SRC = join(ROOT, 'tools', 'helm-render');
const BIN = join(CACHE, 'bin', 'helm-render');
const STAMP = join(CACHE, 'stamp.json');

/** Debian sid packages that build tools/helm-render: Go (pinned), Sprig v3 and its dependencies, YAML, JSON Schema. */
export const HELM_RENDER_PACKAGES = Object.freeze([
  `golang-${GO_VERSION}-go`,
  `golang-${GO_VERSION}-src`,
  'golang-github-masterminds-sprig-dev',
  'golang-github-masterminds-goutils-dev',
  'golang-github-masterminds-semver-dev',
  'golang-github-huandu-xstrings-dev',
  'golang-github-google-uuid-dev',
  'golang-github-imdario-mergo-dev',
  'golang-github-shopspring-decimal-dev',
  'golang-github-mitchellh-copystructure-dev',
  'golang-github-mitchellh-reflectwalk-dev',
  'golang-github-spf13-cast-dev',
  'golang-golang-x-crypto-dev',
  'golang-golang-x-sys-dev',
  'golang-github-gobwas-glob-dev',
  'golang-k8s-sigs-yaml-dev',
  'golang-gopkg-yaml.v2-dev',
  'golang-gopkg-yaml.v3-dev',
  'golang-github-xeipuuv-gojsonschema-dev',
  'golang-github-xeipuuv-gojsonpointer-dev',
  'golang-github-xeipuuv-gojsonreference-dev',
]);

const HOW_TO_GET =
  'Install Helm 3 and put it on PATH or set HELM_BIN to it, ' +
  "or allow this machine to reach Debian's package mirrors so the project's own renderer (tools/helm-render) can be built.";

/** @type {import('./policy-toolchain.mjs').DebianSet} */
const SET = Object.freeze({
  cache: CACHE,
  packages: HELM_RENDER_PACKAGES,
  label: 'helm-render',
  owner: 'HELM_RENDER_PACKAGES in scripts/helm-render.mjs',
  summary: ['golang-github-masterminds-sprig-dev', `golang-${GO_VERSION}-go`],
  howToGet: HOW_TO_GET,
  // Shared with the policy compiler: its compiled standard library cuts a cold build from ~70 s to ~15 s.
  gocache: GO_BUILD_CACHE,
});

/** @typedef {{ kind: 'helm' | 'helm-render', bin: string, version: string }} Renderer */

/** @type {Promise<Renderer> | undefined} */
let cached;

/**
 * Finds or builds a chart renderer: HELM_BIN, else `helm` on PATH, else tools/helm-render built from Debian sid.
 * @param {{ log?: (line: string) => void, builtin?: boolean }} [opts] builtin: skip Helm, use tools/helm-render
 * @returns {Promise<Renderer>}
 */
export function ensureRenderer(opts = {}) {
  const log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  if (opts.builtin) return ensureBuiltin(log);
  cached ??= resolveRenderer(log);
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/** @param {(line: string) => void} log @returns {Promise<Renderer>} */
async function resolveRenderer(log) {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv) {
    if (!(await isExecutable(fromEnv)))
      throw new ToolchainError(
        `HELM_BIN is set to ${fromEnv}, which is not an executable file. ${HOW_TO_GET}`,
      );
    return { kind: 'helm', bin: fromEnv, version: await helmVersion(fromEnv) };
  }
  const onPath = await findOnPath('helm');
  if (onPath) return { kind: 'helm', bin: onPath, version: await helmVersion(onPath) };
  return ensureBuiltin(log);
}

/** @param {string} bin */
async function helmVersion(bin) {
  const res = await run(bin, ['version', '--short']);
  if (res.code !== 0) throw new ToolchainError(`${bin} version failed: is it Helm?`, { output: res.stderr });
  return res.stdout.trim();
}

const sourceHash = async () => hashFiles(TOOL_SRC, await listFiles(TOOL_SRC, (rel) => rel.endsWith('.go')));

/** @typedef {{ packages: Record<string, string>, set: string, srcHash: string, version?: string }} Stamp */

/** @returns {Promise<Stamp | undefined>} */
async function readStamp() {
  try {
    return JSON.parse(await readFile(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

/** @param {Stamp | undefined} stamp */
function unpackedSetMatches(stamp) {
  return (
    stamp?.set === HELM_RENDER_PACKAGES.join(' ') &&
    existsSync(join(CACHE, 'root', 'usr', 'lib', `go-${GO_VERSION}`, 'bin', 'go')) &&
    existsSync(join(CACHE, 'root', 'usr', 'share', 'gocode', 'src', 'github.com', 'Masterminds', 'sprig'))
  );
}

/**
 * Module paths with a major-version suffix that Debian installs without it (github.com/Masterminds/semver
 * holds `module github.com/Masterminds/semver/v3`). In GOPATH mode `import ".../semver/v3"` looks for a
 * `v3` folder, so we add `v3 -> .` inside our private unpacked tree.
 */
const MAJOR_VERSION_ALIASES = Object.freeze(['github.com/Masterminds/semver/v3']);

async function addMajorVersionAliases() {
  const src = join(CACHE, 'root', 'usr', 'share', 'gocode', 'src');
  for (const path of MAJOR_VERSION_ALIASES) {
    const alias = join(src, path);
    if (existsSync(alias) || (await lstat(alias).catch(() => undefined))) continue;
    if (!existsSync(dirname(alias)))
      throw new ToolchainError(`${dirname(path)} is missing from the Debian set`);
    await symlink('.', alias);
  }
}

/** @param {(line: string) => void} log @returns {Promise<Renderer>} */
async function ensureBuiltin(log) {
  const srcHash = await sourceHash();
  /** @param {Stamp | undefined} stamp */
  const ready = async (stamp) =>
    stamp && unpackedSetMatches(stamp) && stamp.srcHash === srcHash && (await isExecutable(BIN));
  const toRenderer = (/** @type {Stamp} */ s) => ({
    kind: /** @type {const} */ ('helm-render'),
    bin: BIN,
    version: s.version ?? 'unknown',
  });
  const warm = await readStamp();
  if (warm && (await ready(warm))) return toRenderer(warm);

  return withLock(
    log,
    async () => {
      let stamp = await readStamp();
      if (stamp && (await ready(stamp))) return toRenderer(stamp);
      const started = Date.now();
      if (!stamp || !unpackedSetMatches(stamp)) {
        await rm(STAMP, { force: true }); // a run that dies half way must not leave a matching stamp
        const packages = await fetchDebianPackages(log, SET);
        stamp = { packages, set: HELM_RENDER_PACKAGES.join(' '), srcHash: '' };
      }
      await addMajorVersionAliases();
      log('helm-render: compiling tools/helm-render (about 30 s the first time)…');
      await goBuild(TOOL_SRC, BIN, SET);
      const res = await run(BIN, ['version']);
      if (res.code !== 0) throw new ToolchainError('helm-render version failed', { output: res.stderr });
      const next = { ...stamp, srcHash, version: res.stdout.trim() };
      await writeFile(STAMP, `${JSON.stringify(next, null, 2)}\n`);
      log(`helm-render: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${next.version})`);
      return toRenderer(next);
    },
    CACHE,
  );
}

/** @param {string[]} argv @returns {Promise<number>} */
export async function main(argv) {
  const [command, ...rest] = argv;
  if (command === 'ensure') {
    const r = await ensureRenderer({ builtin: rest.includes('--builtin') });
    process.stdout.write(
      rest.includes('--json')
        ? `${JSON.stringify(r)}\n`
        : `chart renderer: ${r.kind} ${r.version} (${r.bin})\n`,
    );
    return 0;
  }
  if (command === 'template') {
    const r = await ensureRenderer();
    const res = await run(r.bin, ['template', ...rest]);
    process.stdout.write(res.stdout);
    process.stderr.write(res.stderr);
    return res.code;
  }
  process.stdout.write(
    'usage: node scripts/helm-render.mjs ensure [--builtin] [--json] | template [NAME] CHART [helm template flags]\n' +
      'env: HELM_BIN (a helm executable; else helm on PATH, else tools/helm-render is built)\n',
  );
  return command ? 2 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      if (err instanceof ToolchainError) {
        if (err.output) process.stderr.write(err.output.endsWith('\n') ? err.output : `${err.output}\n`);
        process.stderr.write(`helm-render: error: ${err.message}\n`);
      } else {
        process.stderr.write(`helm-render: ${err?.stack ?? err}\n`);
      }
      process.exitCode = 1;
    },
  );
}
