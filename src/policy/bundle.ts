/**
 * Reads an OPA bundle — what `opa build -t wasm` writes — from a folder, a `.tar.gz` file or an HTTP(S)
 * URL, and checks it: a manifest with a revision, a `policy.wasm`, and `data.json` documents merged at
 * their folder paths (bundle-data.ts). Tar entries may carry a leading `/` (OPA writes them that way).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { z } from 'zod';
import { POLICY_MAX_BUNDLE_BYTES } from '../config/defaults.js';
import { mergeDataFiles, pathOutsideRoots } from './bundle-data.js';
import { type BundleAuth, download, isUrl } from './bundle-download.js';
import { type BundleVerification, SIGNATURES_FILE, verifyBundle } from './bundle-signature.js';
import { exactDataJson } from './exact-data.js';

export const ManifestSchema = z
  .object({
    // Named in every audit record, metric, log line and `config check`'s summary: one printable line.
    revision: z
      .string()
      .max(256, 'at most 256 characters')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
      .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, 'no control characters or line breaks')
      .default(''),
    roots: z.array(z.string()).optional(),
    rego_version: z.number().int().optional(),
    wasm: z.array(z.object({ entrypoint: z.string(), module: z.string() })).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export type Manifest = z.infer<typeof ManifestSchema>;

export interface Bundle {
  readonly manifest: Manifest;
  /** The manifest revision, or `sha256:<12 hex>` of the wasm and data when the manifest has none. */
  readonly revision: string;
  readonly wasm: Uint8Array;
  readonly data: Record<string, unknown>;
  /** `data` as JSON text with its integers beyond 2^53 as written, when it holds one (`exact-data.ts`). */
  readonly dataJson?: string;
  /** Where it came from, for logs. */
  readonly source: string;
}

export class BundleError extends Error {
  /** A failure that may pass by itself (network error, HTTP 5xx or 429): worth another try. */
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.transient = options?.transient ?? false;
  }
}

/**
 * The default bound on a bundle (`policy.maxBundleBytes`): its download and its tarball decompressed. Loading
 * takes about 20 times its `data.json` in memory, and a hostile bundle server replaying an old signature with
 * a huge `data.json` makes it parse all of it before the mismatch shows: the bound keeps that within reach of
 * the chart's memory limit.
 */
export const MAX_BUNDLE_BYTES = POLICY_MAX_BUNDLE_BYTES;

/**
 * A bundle location fit for logs, errors and `/readyz`: a URL without its userinfo, query and fragment (a
 * presigned bucket URL carries its credentials in the query); a path as it is.
 */
export function displayLocation(location: string): string {
  if (!/^https?:\/\//i.test(location)) return location;
  try {
    const u = new URL(location);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * Loads a bundle from a folder, a `.tar.gz` or an http(s) URL. Throws `BundleError` naming the problem.
 * With `verification`, every file of the bundle is checked against its `.signatures.json` first
 * (bundle-signature.ts); an unsigned or tampered bundle is refused. `auth` gives a URL's bearer token.
 */
export async function readBundle(
  location: string,
  signal?: AbortSignal,
  verification?: BundleVerification,
  auth?: BundleAuth,
  maxBytes = MAX_BUNDLE_BYTES,
): Promise<Bundle> {
  if (isUrl(location)) {
    const bytes = await download(location, signal, auth, maxBytes);
    return fromTarball(bytes, displayLocation(location), verification, maxBytes);
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(location);
  } catch (err) {
    throw new BundleError(`bundle not found at ${location}`, { cause: err });
  }
  if (info.isDirectory()) {
    const files = await readFolder(location, verification !== undefined, maxBytes);
    return checked(files, location, verification);
  }
  return fromTarball(await readFile(location), location, verification, maxBytes);
}

/**
 * Verifies the signature when asked to, then builds the bundle from the files as verified (a structured
 * file in the canonical form that was hashed, not as written).
 */
async function checked(
  files: Map<string, Buffer>,
  source: string,
  verification: BundleVerification | undefined,
): Promise<Bundle> {
  return fromFiles(verification ? await verifyBundle(files, verification, source) : files, source);
}

/**
 * The bundle files of a folder; `all` of them (any name) when they are to be checked against a signature.
 * Over `maxBytes` in all it is refused before anything is read, as a tarball is.
 */
async function readFolder(dir: string, all: boolean, maxBytes: number): Promise<Map<string, Buffer>> {
  const found = await bundleFiles(dir, all);
  const total = found.reduce((n, f) => n + f.size, 0);
  if (total > maxBytes) throw tooLarge(dir, maxBytes, 'in its files');
  const files = new Map<string, Buffer>();
  for (const f of found) files.set(f.rel, await readFile(f.full));
  return files;
}

function tooLarge(source: string, maxBytes: number, where: string): BundleError {
  return new BundleError(
    `bundle ${source} is over ${maxBytes} bytes ${where} (policy.maxBundleBytes; the sidecar needs about 20 times its data.json in memory to load it)`,
  );
}

/**
 * The bundle files of a folder bundle, at any depth (`.manifest`, `data.json`, `*.wasm`), sorted by path,
 * with their size, times and inode: what `readBundle` reads, and what the reloader's signature watches.
 */
export interface BundleFile {
  readonly rel: string;
  readonly full: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

export async function bundleFiles(dir: string, all = false): Promise<BundleFile[]> {
  const out: BundleFile[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile() && !e.isSymbolicLink()) continue;
    const full = join(e.parentPath, e.name);
    const rel = relative(dir, full).split(sep).join('/');
    // Kubernetes ConfigMap mounts keep the real files in ..<timestamp> folders: follow only the top links.
    if (rel.split('/').some((part) => part.startsWith('..'))) continue;
    if (!all && !isBundleFile(rel)) continue;
    const st = await stat(full).catch(() => undefined);
    if (st?.isFile()) {
      out.push({ rel, full, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino });
    }
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function isBundleFile(rel: string): boolean {
  const base = posix.basename(rel);
  return base === '.manifest' || base === 'data.json' || base.endsWith('.wasm') || rel === SIGNATURES_FILE;
}

export async function fromTarball(
  buf: Buffer,
  source: string,
  verification?: BundleVerification,
  maxBytes = MAX_BUNDLE_BYTES,
): Promise<Bundle> {
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(buf, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(source, maxBytes, 'decompressed');
    }
    throw new BundleError(`bundle ${source} ${gzipProblem(buf, err as NodeJS.ErrnoException)}`, {
      cause: err,
    });
  }
  // The two zero blocks that end a tar archive: without them the archive was cut short (a partial copy or
  // download that is still valid gzip), maybe at an entry's boundary, its later files missing unnoticed.
  if (tarBytes.length < 1024 || tarBytes.subarray(-1024).some((b) => b !== 0)) {
    throw new BundleError(
      `bundle ${source} is not a valid tar archive: it ends without its end-of-archive blocks (cut short?)`,
    );
  }
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        const name = entry.path.replace(/^\/+/, '').replace(/^\.\//, '');
        // A signature covers every file of the bundle: all are read when it is checked.
        if (entry.type !== 'File' || (!verification && !isBundleFile(name))) {
          entry.resume();
          return;
        }
        if (name.split('/').some((part) => part === '..' || part === '.')) {
          parser.abort(new Error(`entry ${name} names a path outside the bundle`));
          return;
        }
        if (files.has(name)) {
          parser.abort(new Error(`entry ${name} appears twice`));
          return;
        }
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => files.set(name, Buffer.concat(chunks)));
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve());
    parser.end(tarBytes);
  }).catch((err: unknown) => {
    throw new BundleError(`bundle ${source} is not a valid tar archive: ${(err as Error).message}`, {
      cause: err,
    });
  });
  return checked(files, source, verification);
}

/**
 * Why a buffer does not gunzip: no gzip header (another file), a gzip stream that ends early (a partial
 * download or copy: zlib's "unexpected end of file"), or one whose data is damaged.
 */
function gzipProblem(buf: Buffer, err: NodeJS.ErrnoException): string {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return `is not a gzip file: ${err.message}`;
  if (err.code === 'Z_BUF_ERROR') return `is cut short (a partial download or copy?): ${err.message}`;
  return `is a damaged gzip file: ${err.message}`;
}

function fromFiles(files: Map<string, Buffer>, source: string): Bundle {
  const manifest = parseManifest(files.get('.manifest'), source);
  const wasmPath = (manifest.wasm?.[0]?.module ?? '/policy.wasm').replace(/^\/+/, '');
  const wasm = files.get(wasmPath);
  if (!wasm)
    throw new BundleError(
      `bundle ${source} has no ${wasmPath}: it is not a compiled bundle (policy sources are not one); ` +
        'point policy.bundle at what `npm run policy:build -- --src <folder> --out <dir>` writes ' +
        '(<dir>/bundle or <dir>/bundle.tar.gz), or at a bundle of `opa build -t wasm`',
    );
  if (wasm.length < 8 || wasm.readUInt32BE(0) !== 0x0061736d) {
    throw new BundleError(`bundle ${source}: ${wasmPath} is not a WebAssembly module`);
  }
  const data = mergeDataFiles(files, source);
  const outside = pathOutsideRoots(data, manifest.roots);
  if (outside !== undefined) {
    throw new BundleError(
      `bundle ${source}: the manifest roots (${(manifest.roots ?? []).join(', ')}) do not permit data at ${outside.slice(0, 200)}`,
    );
  }
  const revision = manifest.revision || `sha256:${contentHash(wasm, files)}`;
  const dataJson = exactDataJson(files, source, data);
  const bundle = { manifest, revision, wasm: new Uint8Array(wasm), data, source };
  return dataJson === undefined ? bundle : { ...bundle, dataJson };
}

function parseManifest(raw: Buffer | undefined, source: string): Manifest {
  if (!raw) return ManifestSchema.parse({});
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new BundleError(`bundle ${source}: .manifest is not valid JSON`, { cause: err });
  }
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BundleError(
      `bundle ${source}: .manifest ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

function contentHash(wasm: Buffer, files: Map<string, Buffer>): string {
  const h = createHash('sha256').update(wasm);
  for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (path.endsWith('data.json')) h.update(path).update(content);
  }
  return h.digest('hex').slice(0, 12);
}
