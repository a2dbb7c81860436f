/**
 * Debian sid packages for the project's Go tools, without installing anything: reads the machine's own
 * mirror from its apt sources, runs apt-get with a private configuration under `<cache>/apt`, keeps the
 * pinned versions' .deb files in `<cache>/debs` and unpacks them with `dpkg -x` into `<cache>/root`.
 * Shared by the policy compiler (tools/policyc) and scripts/helm-render.mjs (tools/helm-render).
 *
 * @module
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HOW_TO_GET, POLICYC_SET } from './config.mjs';
import { ToolchainError } from './errors.mjs';
import { run } from './process.mjs';

/**
 * A set of Debian sid packages, unpacked into `<cache>/root` by fetchDebianPackages, that a Go tool builds
 * against. `label` prefixes log lines, `owner` names where the list lives (for error messages), `summary`
 * names the packages whose versions are logged, `howToGet` ends the error messages, `gocache` is the Go build
 * cache (default `<cache>/gocache`; tools may share GO_BUILD_CACHE, since the standard library is most of a
 * cold build and Go's cache is safe to share between processes).
 * @typedef {{ cache: string, packages: readonly string[], label: string, owner: string,
 *   summary: readonly string[], howToGet: string, gocache?: string }} DebianSet
 */

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
