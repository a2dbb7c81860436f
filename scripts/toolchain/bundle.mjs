/**
 * What goes into a policy bundle and how to read one back: which files of a policy folder are bundle
 * sources (Rego, JSON, YAML; not `*_test.rego`), the content-hash revision computed from them, and a small
 * reader for the `.tar.gz` that `opa build` writes.
 *
 * @module
 */
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_SRC } from './config.mjs';
import { hashFiles, listFiles } from './files.mjs';

/** The Rego unit tests of a policy folder, which a bundle leaves out (`opa build --ignore`). */
export const TEST_GLOB = '*_test.rego';

/** @param {string} rel */
const isTestFile = (rel) => rel.endsWith('_test.rego');
/** Files that go into a bundle: what opa's loader reads (rego, json, yaml), minus tests. @param {string} rel */
const isBundleSource = (rel) => /\.(rego|json|ya?ml)$/.test(rel) && !isTestFile(rel);

/**
 * The default bundle revision: the first 12 hex chars of a sha256 over the sorted bundle sources (paths and
 * contents), so the same policy always gets the same revision.
 * @param {string} [src]
 */
export async function computeRevision(src = DEFAULT_SRC) {
  const dir = resolve(src);
  return (await hashFiles(dir, await listFiles(dir, isBundleSource, { hidden: true }))).slice(0, 12);
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
