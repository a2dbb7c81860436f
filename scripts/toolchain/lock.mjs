/**
 * A cache-folder lock between processes (e.g. parallel test workers building the same tool): a lock
 * directory holding the owner's pid, taken over when that process is gone, given up after 15 minutes.
 *
 * @module
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE } from './config.mjs';
import { ToolchainError } from './errors.mjs';
import { shortPath } from './files.mjs';

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
      const holder = await holderOf(lock);
      if (holder === null) continue; // released meanwhile
      // A dead holder's lock is taken over; so is one whose pid was never written (a crash between the
      // mkdir and the write) once it is older than a holder needs to write it.
      if (holder ? !processAlive(holder) : await olderThan(lock, ORPHAN_MS)) {
        // Only if it is still that holder's: another waiter may have taken it over already.
        if ((await holderOf(lock)) === holder) await rm(lock, { recursive: true, force: true });
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

/** A lock folder without a pid this old is an orphan. */
const ORPHAN_MS = 10_000;

/** The lock's holder pid, 0 when it has none (yet), null when there is no lock. @param {string} lock */
async function holderOf(lock) {
  try {
    return Number(await readFile(join(lock, 'pid'), 'utf8')) || 0;
  } catch {
    return (await stat(lock).catch(() => null)) ? 0 : null;
  }
}

/** @param {string} path @param {number} ms */
async function olderThan(path, ms) {
  const s = await stat(path).catch(() => null);
  return s !== null && Date.now() - s.mtimeMs > ms;
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
