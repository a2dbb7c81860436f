/**
 * A bundle downloaded from a URL, kept on local disk (`policy.persistDir`), as OPA's bundle `persist`
 * does: every bundle loaded from the URL is written there, and a sidecar that starts while the bundle
 * server is down (or serves a bundle that does not load) starts on that copy instead of denying every
 * call until the server answers. In Kubernetes an `emptyDir` outlives the container, so a container
 * restart (an OOM kill, a crash) during a bundle-server outage keeps the pod serving.
 *
 * The copy is the tarball as downloaded, so it is checked like any bundle when loaded (its signature
 * too, under `policy.verification`). It is written to a temporary name and renamed over the last one, so
 * a crash mid-write never leaves half a bundle. The URL it came from is recorded as a SHA-256 (a URL can
 * carry credentials): a copy of another URL — the configuration changed — is not used.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

export const PERSISTED_BUNDLE_FILE = 'bundle.tar.gz';
export const PERSISTED_META_FILE = 'bundle.json';

const MetaSchema = z.object({
  location: z.string(),
  revision: z.string(),
  savedAt: z.string(),
  /** SHA-256 of the tarball: a tarball renamed in without its description (a save cut short) is not used. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type PersistedMeta = z.infer<typeof MetaSchema>;

export interface PersistedBundle {
  readonly bytes: Buffer;
  readonly file: string;
  readonly meta: PersistedMeta;
}

export class BundlePersistence {
  readonly #dir: string;
  readonly #location: string;
  /** Temporary files left by an earlier process were removed (once, at the first save). */
  #swept = false;

  /** Copies of bundles downloaded from `location`, kept in `dir` (created when first written). */
  constructor(dir: string, location: string) {
    this.#dir = dir;
    this.#location = sha256(location);
  }

  get file(): string {
    return join(this.#dir, PERSISTED_BUNDLE_FILE);
  }

  /**
   * Keeps `bytes` (a bundle tarball of revision `revision`) in place of the last copy. When that fails (a
   * full or too small folder) the last copy is dropped as well, and the error rethrown: it is older than the
   * bundle now loaded, and a restart must not go back to it (a revision that revoked a grant would be undone).
   */
  async save(bytes: Buffer, revision: string, now = new Date()): Promise<void> {
    const metaFile = join(this.#dir, PERSISTED_META_FILE);
    // read() never starts on a copy in such a folder: say so at the save, not in the outage the copy was
    // for, and write nothing there (nor delete: a host's shared /tmp holds other users' files).
    const unsafe = await unsafeFolder(this.#dir);
    if (unsafe) throw new Error(`${unsafe}; a copy kept there would never be used`);
    try {
      // Only the folder itself, in a parent that exists: Node's recursive mkdir never returns under /proc.
      await mkdir(this.#dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      if (!this.#swept) await this.#sweep();
      const meta: PersistedMeta = {
        location: this.#location,
        revision,
        savedAt: now.toISOString(),
        sha256: sha256(bytes),
      };
      // The tarball first, then what it is: a crash between the two leaves a tarball its description does
      // not hash to, which read() refuses.
      await replace(this.file, bytes);
      await replace(metaFile, Buffer.from(`${JSON.stringify(meta)}\n`));
    } catch (err) {
      // The description first: without it the copy is not used, whatever becomes of the tarball.
      await rm(metaFile, { force: true }).catch(() => undefined);
      await rm(this.file, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Removes temporary files that a process killed while writing left (an OOM kill right after a large
   * download): in a container the same pid overwrites them, elsewhere each restart would add one, as large
   * as the bundle. One sidecar per folder: those of a process still writing are removed too.
   */
  async #sweep(): Promise<void> {
    const names = await readdir(this.#dir);
    const left = names.filter((n) => /^bundle\.(tar\.gz|json)\.\d+\.tmp$/.test(n));
    await Promise.all(left.map((n) => rm(join(this.#dir, n), { force: true }).catch(() => undefined)));
    this.#swept = true;
  }

  /**
   * The copy kept for this location, or null when there is none, it is of another location, or it cannot
   * be read; `why` says which (for the log).
   */
  async read(): Promise<PersistedBundle | { readonly why: string }> {
    const unsafe = await unsafeFolder(this.#dir);
    if (unsafe) return { why: unsafe };
    let meta: PersistedMeta;
    try {
      meta = MetaSchema.parse(JSON.parse(await readFile(join(this.#dir, PERSISTED_META_FILE), 'utf8')));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { why: code === 'ENOENT' ? 'no copy has been kept yet' : 'its description cannot be read' };
    }
    if (meta.location !== this.#location) return { why: 'the copy kept is of another bundle URL' };
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (err) {
      return { why: `${this.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    if (sha256(bytes) !== meta.sha256) {
      return { why: 'the copy kept is not the one its description names (a save was cut short)' };
    }
    return { bytes, file: this.file, meta };
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Why a copy in `dir` cannot be trusted, or null: a folder another user may write to (a host's shared
 * `/tmp`, or a folder of theirs that a path there links to) could hold a bundle of theirs, started on as the
 * policy whenever the URL fails. The folder's owner must be this user or root, and it must not be writable
 * by any user. Not checked where there are no uids (Windows).
 */
async function unsafeFolder(dir: string): Promise<string | null> {
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(dir);
  } catch {
    return null; // no folder, no copy: read() says so
  }
  if (st.uid !== uid && st.uid !== 0)
    return `${dir} belongs to another user (uid ${st.uid}), who could put a bundle there`;
  if (st.mode & 0o002) return `${dir} is writable by any user, who could put a bundle there`;
  return null;
}

async function replace(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    // A partial write must not stay: in the chart the folder is a size-limited, memory-backed emptyDir.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
