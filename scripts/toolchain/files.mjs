/**
 * File helpers shared by the toolchain and scripts/helm-render.mjs: list a folder's files in a stable order,
 * hash a set of files (for bundle revisions and "sources changed" stamps), and print a path short.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * Files under `dir` (recursively, sorted, posix-relative paths), `.git` and node_modules skipped, and other
 * hidden folders too unless `hidden` (opa build reads them, so a bundle's revision must see them).
 * @param {string} dir @param {(rel: string) => boolean} keep @param {{ hidden?: boolean }} [opts]
 */
export async function listFiles(dir, keep, opts = {}) {
  /** @type {string[]} */
  const found = [];
  /** @param {string} abs */
  async function walk(abs) {
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) {
        const skip =
          entry.name === '.git' ||
          entry.name === 'node_modules' ||
          (!opts.hidden && entry.name.startsWith('.'));
        if (!skip) await walk(path);
      } else if (entry.isFile()) {
        const rel = relative(dir, path).split(sep).join('/');
        if (keep(rel)) found.push(rel);
      }
    }
  }
  await walk(dir);
  return found.sort();
}

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

/** A path relative to the working directory when it lies inside it, else absolute. @param {string} path */
export function shortPath(path) {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}
