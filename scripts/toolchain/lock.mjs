/**
 * A cache-folder lock between processes (e.g. parallel test workers building the same tool): a lock
 * directory holding the owner's pid, taken over when that process is gone, given up after 15 minutes.
 *
 * @module
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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
    // The lock appears with its pid in it, by a rename: there is never a lock without a holder. (A rename
    // onto an empty folder, an orphan of an older build script, replaces it.)
    const mine = `${lock}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await mkdir(mine);
    await writeFile(join(mine, 'pid'), String(process.pid));
    try {
      await rename(mine, lock);
      break;
    } catch (err) {
      await rm(mine, { recursive: true, force: true });
      const code = /** @type {NodeJS.ErrnoException} */ (err).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
      const holder = await holderOf(lock);
      if (holder === null) continue; // released meanwhile
      // A dead holder's lock is taken over; so is one without a pid (left by an older build script) once
      // it is older than such a script needed to write it.
      if (holder ? !processAlive(holder) : await olderThan(lock, ORPHAN_MS)) {
        await reap(lock, holder);
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
    // Only our own lock: one taken over from us (we looked dead) is its new holder's.
    if ((await holderOf(lock)) === process.pid) await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Removes a stale lock of `holder`: moved aside first (a rename, so of two waiters only one gets it), then
 * deleted if it was still that holder's, or put back if another waiter's fresh lock was moved instead.
 * @param {string} lock @param {number} holder
 */
async function reap(lock, holder) {
  const aside = `${lock}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(lock, aside);
  } catch {
    return; // gone already, or another waiter moved it
  }
  if ((await holderOf(aside)) === holder) await rm(aside, { recursive: true, force: true });
  else await rename(aside, lock).catch(() => rm(aside, { recursive: true, force: true }));
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

/** Whether process `pid` is alive (also one of another user, EPERM). @param {number} pid */
export function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}
