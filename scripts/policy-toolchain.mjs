#!/usr/bin/env node
/**
 * Policy toolchain: compiles the Rego policy folder into an OPA wasm bundle, runs its Rego unit tests and
 * checks its formatting. It uses a real `opa` (env OPA_BIN, else `opa` on PATH) when there is one, else the
 * project's own compiler `tools/policyc`, built from Debian sid's OPA Go sources into `.cache/opa-toolchain/`
 * (see shared notes `opa-toolchain.md`). Builds always use the capabilities of the JS wasm runtime
 * (`@open-policy-agent/opa-wasm/capabilities.json`), so a builtin the runtime lacks fails the build.
 *
 * CLI: node scripts/policy-toolchain.mjs ensure | build | test | fmt   (see `usage` below)
 * API: ensureToolchain(), buildPolicy(), testPolicy(), fmtPolicy(), computeRevision() — each throws a
 * ToolchainError on failure; the CLI prints its message and exits 1.
 * Shared with the project's other Go tools built from Debian sid (scripts/helm-render.mjs): the private-apt
 * fetch and unpack of a package set (fetchDebianPackages), the GOPATH-mode build (goBuild), the cache lock
 * (withLock) and the file-hash helpers; each takes a DebianSet and defaults to the policy compiler's.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'opa-toolchain');
const TOOL_SRC = join(ROOT, 'tools', 'policyc');
const POLICYC = join(CACHE, 'bin', 'policyc');
const STAMP = join(CACHE, 'stamp.json');
const WASM_CAPABILITIES = join(ROOT, 'node_modules', '@open-policy-agent', 'opa-wasm', 'capabilities.json');

export const DEFAULT_SRC = 'policies';
export const DEFAULT_OUT = join('build', 'policy');
export const DEFAULT_ENTRYPOINTS = Object.freeze(['mcp/authz/decision', 'mcp/authz/visible']);
export const EXPECTED_OPA_VERSION = '1.4.2';
export const GO_VERSION = '1.26';
const TEST_GLOB = '*_test.rego';

/** Debian sid packages that build tools/policyc: Go (pinned) + OPA's Go sources and their dependencies. */
export const DEBIAN_PACKAGES = Object.freeze([
  `golang-${GO_VERSION}-go`,
  `golang-${GO_VERSION}-src`,
  'golang-github-agnivade-levenshtein-dev',
  'golang-github-beorn7-perks-dev',
  'golang-github-cespare-xxhash-v2-dev',
  'golang-github-go-ini-ini-dev',
  'golang-github-go-logr-logr-dev',
  'golang-github-go-logr-stdr-dev',
  'golang-github-gobwas-glob-dev',
  'golang-github-google-uuid-dev',
  'golang-github-gorilla-mux-dev',
  'golang-github-munnerz-goautoneg-dev',
  'golang-github-open-policy-agent-opa-dev',
  'golang-github-prometheus-client-golang-dev',
  'golang-github-prometheus-client-model-dev',
  'golang-github-prometheus-common-dev',
  'golang-github-prometheus-procfs-dev',
  'golang-github-rcrowley-go-metrics-dev',
  'golang-github-sirupsen-logrus-dev',
  'golang-github-tchap-go-patricia-dev',
  'golang-github-xeipuuv-gojsonpointer-dev',
  'golang-github-xeipuuv-gojsonreference-dev',
  'golang-github-yashtewari-glob-intersection-dev',
  'golang-golang-x-sys-dev',
  'golang-google-protobuf-dev',
  'golang-gopkg-yaml.v2-dev',
  'golang-gopkg-yaml.v3-dev',
  'golang-k8s-sigs-yaml-dev',
  'golang-opentelemetry-otel-dev',
]);

const HOW_TO_GET =
  'Install OPA (any recent 1.x `opa` executable) and put it on PATH or set OPA_BIN to it, ' +
  "or allow this machine to reach Debian's package mirrors so the project's own compiler (tools/policyc) can be built.";

/**
 * A set of Debian sid packages, unpacked into `<cache>/root` by fetchDebianPackages, that a Go tool builds
 * against. `label` prefixes log lines, `owner` names where the list lives (for error messages), `summary`
 * names the packages whose versions are logged, `howToGet` ends the error messages, `gocache` is the Go build
 * cache (default `<cache>/gocache`; tools may share GO_BUILD_CACHE, since the standard library is most of a
 * cold build and Go's cache is safe to share between processes).
 * @typedef {{ cache: string, packages: readonly string[], label: string, owner: string,
 *   summary: readonly string[], howToGet: string, gocache?: string }} DebianSet
 */

/** The policy compiler's Go build cache, which other tools built from Debian sid may share. */
export const GO_BUILD_CACHE = join(CACHE, 'gocache');

/** The policy compiler's set: the default of every shared helper below. @type {DebianSet} */
const POLICYC_SET = Object.freeze({
  cache: CACHE,
  packages: DEBIAN_PACKAGES,
  label: 'policy toolchain',
  owner: 'DEBIAN_PACKAGES in scripts/policy-toolchain.mjs',
  summary: ['golang-github-open-policy-agent-opa-dev', `golang-${GO_VERSION}-go`],
  howToGet: HOW_TO_GET,
});

export class ToolchainError extends Error {
  /** @param {string} message @param {{ cause?: unknown, output?: string }} [opts] */
  constructor(message, opts = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    /** Output of the failing tool, if any. */
    this.output = opts.output ?? '';
  }
}

// ---------------------------------------------------------------------------------------------- processes

/**
 * Runs a command and collects its output.
 * @param {string} cmd @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [opts]
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** @param {string} path */
export async function isExecutable(path) {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** @param {string} name */
export async function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------- files

/**
 * Files under `dir` (recursively, sorted, posix-relative paths), hidden folders and node_modules skipped.
 * @param {string} dir @param {(rel: string) => boolean} keep
 */
export async function listFiles(dir, keep) {
  /** @type {string[]} */
  const found = [];
  /** @param {string} abs */
  async function walk(abs) {
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && entry.name !== 'node_modules') await walk(path);
      } else if (entry.isFile()) {
        const rel = relative(dir, path).split(sep).join('/');
        if (keep(rel)) found.push(rel);
      }
    }
  }
  await walk(dir);
  return found.sort();
}

/** @param {string} rel */
const isTestFile = (rel) => rel.endsWith('_test.rego');
/** Files that go into a bundle: what opa's loader reads (rego, json, yaml), minus tests. @param {string} rel */
const isBundleSource = (rel) => /\.(rego|json|ya?ml)$/.test(rel) && !isTestFile(rel);

/** sha256 over `path NUL content NUL` of each file, in sorted path order. @param {string} dir @param {string[]} files */
export async function hashFiles(dir, files) {
  const hash = createHash('sha256');
  for (const rel of files) {
    hash
      .update(rel)
      .update('\0')
      .update(await readFile(join(dir, rel)))
      .update('\0');
  }
  return hash.digest('hex');
}

/**
 * The default bundle revision: the first 12 hex chars of a sha256 over the sorted bundle sources (paths and
 * contents), so the same policy always gets the same revision.
 * @param {string} [src]
 */
export async function computeRevision(src = DEFAULT_SRC) {
  const dir = resolve(src);
  return (await hashFiles(dir, await listFiles(dir, isBundleSource))).slice(0, 12);
}

/**
 * Reads the entries of a .tar.gz (regular files only).
 * @param {Buffer} gz
 * @returns {{ name: string, mode: number, data: Buffer }[]}
 */
export function readTarGz(gz) {
  const tar = gunzipSync(gz);
  const entries = [];
  let offset = 0;
  /** @type {string | undefined} */
  let longName;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (/** @type {number} */ start, /** @type {number} */ len) =>
      header
        .subarray(start, start + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const data = tar.subarray(offset + 512, offset + 512 + size);
    if (type === 'L') longName = data.toString('utf8').replace(/\0.*$/s, '');
    else if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
    } else if (type === '0') {
      name = name.trim();
      entries.push({ name, mode: Number.parseInt(field(100, 8).trim() || '0', 8), data: Buffer.from(data) });
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------- toolchain

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

/** Hash of the policyc sources: a change rebuilds the binary (but never refetches Debian packages). */
async function policycSourceHash() {
  return hashFiles(TOOL_SRC, await listFiles(TOOL_SRC, (rel) => rel.endsWith('.go')));
}

/** @param {(line: string) => void} log @returns {Promise<Toolchain>} */
async function ensurePolicyc(log) {
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

/**
 * Serialises toolchain builds between processes (e.g. parallel test workers) with a lock directory.
 * @template T @param {(line: string) => void} log @param {() => Promise<T>} fn
 * @param {string} [cache] the cache folder to lock @returns {Promise<T>}
 */
export async function withLock(log, fn, cache = CACHE) {
  const lock = join(cache, '.lock');
  await mkdir(cache, { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (holder && !processAlive(holder)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new ToolchainError(`timed out waiting for ${lock} (held by pid ${holder})`);
      if (!told) log(`waiting for another build in ${shortPath(cache)} (pid ${holder || '?'})…`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** @param {number} pid */
function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

/**
 * The machine's own Debian mirror URI and archive keyring, read from its apt sources (never hard-coded).
 * @returns {Promise<{ uri: string, keyring: string }>}
 */
async function debianMirror(howToGet = HOW_TO_GET) {
  const file = '/etc/apt/sources.list.d/debian.sources';
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ToolchainError(
      `cannot read ${file}: this is not a Debian machine with deb822 apt sources. ${howToGet}`,
    );
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    /** @type {Record<string, string>} */
    const fields = {};
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) fields[m[1].toLowerCase()] = m[2].trim();
    }
    const uri = fields.uris?.split(/\s+/)[0];
    const suites = fields.suites?.split(/\s+/) ?? [];
    if (!uri || !/\bdeb\b/.test(fields.types ?? '') || suites.every((s) => s.includes('security'))) continue;
    const keyring = fields['signed-by'] || '/usr/share/keyrings/debian-archive-keyring.gpg';
    return { uri, keyring };
  }
  throw new ToolchainError(`no Debian archive stanza in ${file}. ${howToGet}`);
}

/**
 * Downloads the pinned packages from sid with a private apt configuration and unpacks them into
 * `<set.cache>/root`, by default .cache/opa-toolchain/root (dpkg -x; nothing is installed into the system).
 * @param {(line: string) => void} log @param {DebianSet} [set]
 * @returns {Promise<Record<string, string>>} package → version
 */
export async function fetchDebianPackages(log, set = POLICYC_SET) {
  const { cache, packages, label, owner, howToGet } = set;
  const { uri, keyring } = await debianMirror(howToGet);
  const apt = join(cache, 'apt');
  const debs = join(cache, 'debs');
  for (const d of [join(apt, 'lists', 'partial'), join(apt, 'cache', 'archives', 'partial'), debs]) {
    await mkdir(d, { recursive: true });
  }
  const sourceList = join(apt, 'sources.list');
  await writeFile(sourceList, `deb [signed-by=${keyring}] ${uri} sid main\n`);
  const aptOpts = [
    ['Dir::Etc::SourceList', sourceList],
    ['Dir::Etc::SourceParts', '/dev/null'],
    ['Dir::Etc::Preferences', '/dev/null'],
    ['Dir::Etc::PreferencesParts', '/dev/null'],
    ['Dir::State::Lists', join(apt, 'lists')],
    ['Dir::Cache', join(apt, 'cache')],
    ['Debug::NoLocking', '1'],
    ['APT::Sandbox::User', 'root'],
  ].flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  const env = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };
  /** @param {string} tool @param {string[]} args @param {string} [cwd] */
  const apt_ = async (tool, args, cwd) => {
    try {
      return await run(tool, [...aptOpts, ...args], { env, cwd });
    } catch (cause) {
      throw new ToolchainError(`cannot run ${tool}: no apt on this machine. ${howToGet}`, { cause });
    }
  };

  log(`${label}: updating the Debian sid package list (private apt config)…`);
  const update = await apt_('apt-get', ['-q', 'update']);
  if (update.code !== 0 || /^(E:|W: Failed to fetch)/m.test(update.stderr)) {
    throw new ToolchainError(
      `apt-get update for Debian sid failed: the package mirror is not reachable. ${howToGet}`,
      { output: redact(update.stderr, uri) },
    );
  }

  const policy = await apt_('apt-cache', ['policy', ...packages]);
  /** @type {Record<string, string>} */
  const versions = {};
  for (const m of policy.stdout.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)) {
    if (m[1] && m[2] && m[2] !== '(none)') versions[m[1]] = m[2];
  }
  const missing = packages.filter((p) => !versions[p]);
  if (missing.length > 0) {
    throw new ToolchainError(
      `Debian sid no longer has package ${missing.join(', ')}: update ${owner} ` +
        `(and the tool's sources if its Go dependencies changed). ${howToGet}`,
    );
  }

  const debFile = (/** @type {string} */ p) => {
    const full = /** @type {string} */ (versions[p]);
    // apt-get download keeps an epoch in the file name as `%3a` (golang-golang-x-crypto-dev_1%3a0.58.0-1_all.deb).
    const prefixes = [`${p}_${full.replace(/^\d+:/, '')}_`, `${p}_${full.replace(':', '%3a')}_`];
    return readdir(debs).then((names) =>
      names.find((n) => prefixes.some((x) => n.startsWith(x)) && n.endsWith('.deb')),
    );
  };
  const wanted = [];
  for (const p of packages) if (!(await debFile(p))) wanted.push(`${p}=${versions[p]}`);
  if (wanted.length > 0) {
    log(`${label}: downloading ${wanted.length} Debian packages…`);
    const dl = await apt_('apt-get', ['-q', 'download', ...wanted], debs);
    if (dl.code !== 0) {
      const named = packages.find((p) => dl.stderr.includes(p));
      throw new ToolchainError(
        `apt-get download failed${named ? ` for package ${named}` : ''} (exit ${dl.code}). ${howToGet}`,
        { output: redact(dl.stderr, uri) },
      );
    }
  }

  log(`${label}: unpacking ${packages.length} packages…`);
  const root = join(cache, 'root');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  // Remove debs of other versions so the cache does not grow with every sid upload.
  const keep = new Set();
  for (const p of packages) keep.add(await debFile(p));
  for (const name of await readdir(debs)) if (!keep.has(name)) await rm(join(debs, name), { force: true });
  const queue = [...packages];
  const unpack = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const file = await debFile(p);
      if (!file) throw new ToolchainError(`package ${p} was not downloaded. ${howToGet}`);
      const x = await run('dpkg', ['-x', join(debs, file), root]);
      if (x.code !== 0) throw new ToolchainError(`dpkg -x failed for package ${p}`, { output: x.stderr });
    }
  };
  await Promise.all([unpack(), unpack(), unpack()]);
  const summary = set.summary.map((p) => `${p} ${versions[p]}`).join(', ');
  log(`${label}: got ${summary}`);
  return versions;
}

/** Removes the mirror URI from tool output we show (no registry host names in output). */
function redact(/** @type {string} */ text, /** @type {string} */ uri) {
  const host = /^[a-z]+:\/\/([^/]+)/i.exec(uri)?.[1];
  let out = text.split(uri).join('<debian-mirror>');
  if (host) out = out.split(host).join('<debian-mirror>');
  return out;
}

/** Debian's usual name for a Go import path: github.com/gobwas/glob → golang-github-gobwas-glob-dev. */
function debianNameOf(/** @type {string} */ importPath) {
  const [host = '', ...rest] = importPath.toLowerCase().split('/');
  return `golang-${[host.split('.')[0], ...rest].join('-')}-dev`;
}

/** Compiles tools/policyc in GOPATH mode against the unpacked Debian Go sources. */
function compilePolicyc() {
  return goBuild(TOOL_SRC, POLICYC);
}

/**
 * Compiles the Go program in `srcDir` to `out` in GOPATH mode (CGO off, -trimpath) against the Debian Go
 * sources that fetchDebianPackages unpacked for `set`. Errors name the Debian package a missing import
 * probably comes from.
 * @param {string} srcDir @param {string} out @param {DebianSet} [set]
 */
export async function goBuild(srcDir, out, set = POLICYC_SET) {
  const { cache, owner } = set;
  const root = join(cache, 'root');
  const goroot = join(root, 'usr', 'lib', `go-${GO_VERSION}`);
  await mkdir(dirname(out), { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? cache,
    GOROOT: goroot,
    GOPATH: join(root, 'usr', 'share', 'gocode'),
    GO111MODULE: 'off',
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOFLAGS: '',
    GOCACHE: set.gocache ?? join(cache, 'gocache'),
    CGO_ENABLED: '0',
  };
  const res = await run(join(goroot, 'bin', 'go'), ['build', '-trimpath', '-o', `${out}.tmp`, '.'], {
    cwd: srcDir,
    env,
  });
  if (res.code !== 0) {
    const pkg = /cannot find package "([^"]+)"/.exec(res.stderr)?.[1];
    throw new ToolchainError(
      pkg
        ? `compiling ${relative(ROOT, srcDir)} failed: Go package ${pkg} is missing from the Debian set; add the ` +
            `Debian package that provides it (probably ${debianNameOf(pkg)}) to ${owner}`
        : `compiling ${relative(ROOT, srcDir)} failed against the Debian sid Go sources (see the compiler output)`,
      { output: res.stderr },
    );
  }
  await rename(`${out}.tmp`, out);
}

// ---------------------------------------------------------------------------------------------- commands

/** A path relative to the working directory when it lies inside it, else absolute. @param {string} path */
function shortPath(path) {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

/** @param {Toolchain} tc */
function describe(tc) {
  if (tc.kind === 'opa') return `opa ${tc.opaVersion} (${tc.bin})`;
  return `policyc (OPA ${tc.opaVersion}, ${tc.goVersion}, Debian sid) at ${shortPath(tc.bin)}`;
}

/** Builtin declarations of `print` as OPA 1.4.2's capabilities have them (tests may print; builds may not). */
const PRINT_BUILTINS = [
  {
    name: 'internal.print',
    decl: { args: [{ dynamic: { of: { type: 'any' }, type: 'set' }, type: 'array' }], type: 'function' },
  },
  { name: 'print', decl: { type: 'function', variadic: { type: 'any' } } },
];

/**
 * Writes the capabilities to compile against: the builtins and wasm ABI versions of the JS runtime
 * (`@open-policy-agent/opa-wasm/capabilities.json`), plus the language feature `rego_v1`, which that file
 * lacks and without which OPA 1.x refuses to parse Rego v1 ("rego_v1 feature required"). Language features
 * are the compiler's business, not the runtime's, so adding it is safe. Tests also get `print`.
 * @param {string} dir @param {{ forTests?: boolean }} [opts] @returns {Promise<string>} the file written
 */
export async function writeCapabilities(dir, opts = {}) {
  let runtime;
  try {
    runtime = JSON.parse(await readFile(WASM_CAPABILITIES, 'utf8'));
  } catch (cause) {
    throw new ToolchainError(`cannot read ${relative(ROOT, WASM_CAPABILITIES)}: run npm ci first`, { cause });
  }
  const builtins = [...runtime.builtins];
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

/** @param {string} src */
async function checkSrc(src) {
  const dir = resolve(src);
  if (!existsSync(dir) || !(await stat(dir)).isDirectory())
    throw new ToolchainError(`policy folder ${src} does not exist`);
  return dir;
}

/**
 * Compiles a policy folder into `<out>/bundle.tar.gz` (an `opa build -t wasm` bundle) and unpacks it into `<out>/bundle/`.
 * @param {{ src?: string, out?: string, entrypoints?: readonly string[], revision?: string }} [opts]
 * @returns {Promise<{ bundle: string, dir: string, revision: string, files: string[], toolchain: Toolchain }>}
 */
export async function buildPolicy(opts = {}) {
  const src = await checkSrc(opts.src ?? DEFAULT_SRC);
  const out = resolve(opts.out ?? DEFAULT_OUT);
  const entrypoints = opts.entrypoints?.length ? opts.entrypoints : DEFAULT_ENTRYPOINTS;
  const revision = opts.revision || process.env.POLICY_REVISION || (await computeRevision(src));
  const tc = await ensureToolchain();
  await mkdir(out, { recursive: true });
  const bundle = join(out, 'bundle.tar.gz');
  const tmp = await mkdtemp(join(tmpdir(), 'policy-build-'));
  const args = [
    'build',
    '-t',
    'wasm',
    '--capabilities',
    await writeCapabilities(tmp),
    '--revision',
    revision,
  ];
  for (const e of entrypoints) args.push('-e', e);
  // Run inside src and compile `.`: the Rego files that opa keeps in a wasm bundle are then named
  // `/authz.rego`, not by this machine's absolute path, so the bundle is the same on every machine.
  args.push('--ignore', TEST_GLOB, '-o', bundle, '.');
  await rm(bundle, { force: true });
  const res = await run(tc.bin, args, { cwd: src }).finally(() => rm(tmp, { recursive: true, force: true }));
  if (res.code !== 0) {
    throw new ToolchainError(`policy build failed for ${shortPath(src) || '.'}`, {
      output: res.stderr + res.stdout,
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
}

/**
 * @typedef {{ package: string, name: string, file: string, row: number, fail: boolean, error?: string,
 *   skip: boolean, durationMs: number, output: string }} TestResult
 */

/**
 * Runs the Rego unit tests of a policy folder, compiled against the wasm runtime's capabilities (plus `print`).
 * Rejects with ToolchainError when the tests do not compile; failing tests are reported in the result.
 * @param {{ src?: string }} [opts]
 * @returns {Promise<{ passed: number, failed: number, errored: number, skipped: number, results: TestResult[] }>}
 */
export async function testPolicy(opts = {}) {
  const src = await checkSrc(opts.src ?? DEFAULT_SRC);
  const tc = await ensureToolchain();
  const tmp = await mkdtemp(join(tmpdir(), 'policy-test-'));
  try {
    // Tests compile against the runtime's builtins too, so a policy cannot pass its tests on a builtin the
    // wasm runtime lacks.
    const capsFile = await writeCapabilities(tmp, { forTests: true });
    const res = await run(tc.bin, [
      'test',
      '--format',
      'json',
      '--capabilities',
      capsFile,
      shortPath(src) || '.',
    ]);
    /** @type {unknown} */
    let raw;
    try {
      raw = JSON.parse(res.stdout);
    } catch {
      throw new ToolchainError(`policy tests did not run for ${shortPath(src) || '.'}`, {
        output: res.stderr + res.stdout,
      });
    }
    const results = (Array.isArray(raw) ? raw : []).map(toTestResult);
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
    return summary;
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

// ---------------------------------------------------------------------------------------------- CLI

const usage = `usage: node scripts/policy-toolchain.mjs <command> [options]
  ensure                                    find or build a policy toolchain and print which one
  build [--src DIR] [--out DIR] [--revision R] [-e ENTRYPOINT ...]
                                            compile DIR (default ${DEFAULT_SRC}) to OUT/bundle.tar.gz and OUT/bundle/
  test  [--src DIR] [-v]                    run the Rego unit tests (*_test.rego)
  fmt   [--check|--write] [--src DIR]       opa fmt (Rego v1); --check (default) fails on unformatted files
env: OPA_BIN (an opa executable), POLICY_REVISION (bundle revision)`;

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ src?: string, out?: string, revision?: string, entrypoints: string[], verbose: boolean, mode: 'check' | 'write' }} */
  const o = { entrypoints: [], verbose: false, mode: 'check' };
  for (let i = 0; i < argv.length; i++) {
    const arg = /** @type {string} */ (argv[i]);
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new ToolchainError(`${flag} needs a value\n${usage}`);
      return v;
    };
    switch (flag) {
      case '--src':
        o.src = value();
        break;
      case '--out':
      case '-o':
        o.out = value();
        break;
      case '--revision':
        o.revision = value();
        break;
      case '-e':
      case '--entrypoint':
        o.entrypoints.push(value());
        break;
      case '-v':
      case '--verbose':
        o.verbose = true;
        break;
      case '--check':
        o.mode = 'check';
        break;
      case '--write':
      case '-w':
        o.mode = 'write';
        break;
      default:
        throw new ToolchainError(`unknown option ${arg}\n${usage}`);
    }
  }
  return o;
}

/** @param {string[]} argv @returns {Promise<number>} exit code */
export async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return command ? 0 : 2;
  }
  const o = parseArgs(rest);
  switch (command) {
    case 'ensure': {
      const tc = await ensureToolchain();
      process.stdout.write(`policy toolchain: ${describe(tc)}\n`);
      return 0;
    }
    case 'build': {
      const r = await buildPolicy(o);
      const at = shortPath(r.bundle);
      process.stdout.write(
        `policy build: ${at} revision ${r.revision} (${r.files.join(', ')}) via ${r.toolchain.kind}\n`,
      );
      return 0;
    }
    case 'test': {
      const r = await testPolicy(o);
      for (const t of r.results) {
        const where = `${t.file}:${t.row}`;
        const id = `${t.package}.${t.name}`;
        if (t.error) process.stdout.write(`ERROR ${id} (${where}): ${t.error}\n`);
        else if (t.fail) process.stdout.write(`FAIL  ${id} (${where})\n`);
        else if (o.verbose)
          process.stdout.write(`${t.skip ? 'SKIP' : 'PASS'}  ${id} (${t.durationMs.toFixed(2)} ms)\n`);
        if (t.output && (o.verbose || t.fail || t.error))
          process.stdout.write(t.output.replace(/^/gm, '      '));
      }
      process.stdout.write(`policy test: ${r.passed} passed, ${r.failed + r.errored} failed`);
      process.stdout.write(`${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
      if (r.results.length === 0) {
        process.stderr.write(`policy test: no tests found in ${o.src ?? DEFAULT_SRC}\n`);
        return 1;
      }
      return r.failed + r.errored > 0 ? 1 : 0;
    }
    case 'fmt': {
      const r = await fmtPolicy(o);
      for (const f of r.files) process.stdout.write(`${f}\n`);
      if (o.mode === 'write') {
        process.stderr.write(`policy fmt: ${r.files.length} file(s) rewritten\n`);
        return 0;
      }
      if (r.files.length > 0) {
        process.stderr.write(
          `policy fmt: ${r.files.length} file(s) not formatted; run: npm run policy:fmt -- --write\n`,
        );
        return 1;
      }
      return 0;
    }
    default:
      throw new ToolchainError(`unknown command ${command}\n${usage}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      if (err instanceof ToolchainError) {
        if (err.output) process.stderr.write(err.output.endsWith('\n') ? err.output : `${err.output}\n`);
        process.stderr.write(`policy toolchain: error: ${err.message}\n`);
      } else {
        process.stderr.write(`policy toolchain: ${err?.stack ?? err}\n`);
      }
      process.exitCode = 1;
    },
  );
}
