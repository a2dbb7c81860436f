/**
 * What changes when the bundle at a location changes: a folder's files (each one's size, mtime, ctime and
 * inode), a file's stamp, or a URL's validator (`urlSignature`). The reloader compares it between polls.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { BundleError, bundleFiles } from './bundle.js';
import { type BundleAuth, isUrl, urlSignature } from './bundle-download.js';

const FOLDER = 'folder|';

export function isFolderSignature(sig: string): boolean {
  return sig.startsWith(FOLDER);
}

/**
 * Size, mtime, ctime and inode of a file: mtime alone misses files unpacked from an `opa build` tarball
 * (every entry dated 1970) or copied with their times kept, when the size stays the same; the ctime and
 * inode change on every write or replacement, whatever the tool sets.
 */
function fileStamp(f: { size: number; mtimeMs: number; ctimeMs: number; ino: number }): string {
  return `${f.size}:${f.mtimeMs}:${f.ctimeMs}:${f.ino}`;
}

/** `all`: every file of a folder counts (a signature covers them all), not only those readBundle loads. */
export async function signature(
  location: string,
  all: boolean,
  auth: BundleAuth | undefined,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string> {
  if (isUrl(location)) return urlSignature(location, auth, maxBytes, signal);
  // Named as readBundle names it (`policy check`, `policy eval`), not as a bare `ENOENT … stat`.
  const st = await stat(location).catch((err: unknown) => {
    throw new BundleError(`bundle not found at ${location}`, { cause: err });
  });
  if (!st.isDirectory()) return fileStamp(st);
  // Every file readBundle reads, at any depth (a data.json in a subfolder is part of the bundle).
  return FOLDER + (await bundleFiles(location, all)).map((f) => `${f.rel}:${fileStamp(f)}`).join('|');
}
