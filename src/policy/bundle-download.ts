/**
 * Bundles over HTTP(S): the download and the cheap signature the reloader polls. Both send credentials —
 * the URL's userinfo as an `Authorization: Basic` header (fetch refuses URLs that carry them), or a bearer
 * token (`policy.bundleTokenFile`, read at each request so a rotated token is used at once) — ask for no
 * content coding, and never read more than {@link MAX_BUNDLE_BYTES}: a body announced as larger is refused
 * before it is read, and one that grows past the limit (or a compressed body that inflates past it) is cut.
 * Error messages never hold the URL's userinfo or query (a presigned bucket URL's credentials).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { BundleError, displayLocation, MAX_BUNDLE_BYTES } from './bundle.js';

const DOWNLOAD_TIMEOUT_MS = 30_000;
const HEAD_TIMEOUT_MS = 10_000;

/** Credentials for a bundle URL besides its userinfo: a bearer token, read at each request (it may rotate). */
export interface BundleAuth {
  /** The token, or null when none is configured (then nothing is sent). */
  readonly token: () => Buffer | null;
  /** A token file is configured (a refusal while it gives no token says it is empty, not missing). */
  readonly configured?: boolean;
}

/** A token fit for an `Authorization` header: visible ASCII, no spaces (RFC 6750's b64token and more). */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** True for an http(s) URL, whatever the scheme's case. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** The URL without userinfo, and the headers to send (Basic credentials from the userinfo, or the bearer token). */
function requestFor(
  location: string,
  auth?: BundleAuth,
): { url: string; headers: Record<string, string>; emptyToken: boolean } {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    throw new BundleError(`bundle location ${displayLocation(location)} is not a valid URL`);
  }
  if (u.username || u.password) {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(u.username);
      password = decodeURIComponent(u.password);
    } catch {
      throw new BundleError(
        `bundle location ${displayLocation(location)}: its userinfo is not valid percent-encoding`,
      );
    }
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  const token = auth?.token()?.toString('utf8').trim();
  if (token) {
    if (headers.authorization) {
      throw new BundleError(
        `bundle location ${displayLocation(location)}: give its credentials once, in the URL's userinfo or in policy.bundleTokenFile`,
      );
    }
    if (!TOKEN_CHARS.test(token)) {
      throw new BundleError(
        'the bundle token (policy.bundleTokenFile / AUTHZ_BUNDLE_TOKEN) is not a valid header value: visible ASCII without spaces',
      );
    }
    headers.authorization = `Bearer ${token}`;
  }
  // A token source that gave nothing but blanks (an empty Secret key): worth naming when the server refuses.
  return { url: u.href, headers, emptyToken: !token && (token === '' || auth?.configured === true) };
}

/** `text` with every form of `location` replaced by its display form. */
function scrub(text: string, location: string): string {
  const shown = displayLocation(location);
  let out = text.split(location).join(shown);
  try {
    out = out.split(new URL(location).href).join(shown);
  } catch {
    // not a URL: nothing more to replace
  }
  return out;
}

interface GetInit {
  readonly method: 'GET' | 'HEAD';
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly range?: string;
  readonly auth?: BundleAuth | undefined;
}

/** What a refusal's message needs to know of the request: whether it carried credentials, or an empty token. */
type Sent = Response & { credentialed: boolean; emptyToken: boolean };

/** One request for the bundle. */
async function get(location: string, init: GetInit): Promise<Sent> {
  const { url, headers, emptyToken } = requestFor(location, init.auth);
  if (init.range) headers.range = init.range;
  try {
    const res = await fetch(url, {
      method: init.method,
      headers,
      // The caller's signal (a reloader stopping) cuts it short; the timeout holds either way. It must not
      // outlive the operation: Node 20 keeps each AbortSignal.any in its sources until they abort.
      signal: init.signal
        ? AbortSignal.any([init.signal, AbortSignal.timeout(init.timeoutMs)])
        : AbortSignal.timeout(init.timeoutMs),
    });
    if (res.redirected && url.startsWith('https:') && !res.url.startsWith('https:')) {
      // Followed to plain http: anyone on the path could have swapped the policy (fetch dropped the token).
      await res.body?.cancel().catch(() => undefined);
      throw new BundleError(
        `bundle ${init.method === 'HEAD' ? 'check' : 'download'} from ${displayLocation(location)} was redirected to plain http; refused`,
      );
    }
    return Object.assign(res, { credentialed: headers.authorization !== undefined, emptyToken });
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(
      `bundle ${init.method === 'HEAD' ? 'check' : 'download'} from ${displayLocation(location)} failed: ${scrub(fetchFailure(err), location)}`,
      { cause: err, transient: true },
    );
  }
}

/**
 * Why a fetch failed: undici says only "fetch failed" and keeps the reason (ECONNREFUSED, ENOTFOUND, a
 * certificate error) in `cause`, which is what the operator needs to act.
 */
function fetchFailure(err: unknown): string {
  const message = (err as Error).message;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const why =
    typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return why && !message.includes(why) ? `${message} (${why})` : message;
}

/** Reads a response body, refusing one announced or growing past `maxBytes`. */
async function boundedBody(res: Response, location: string, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new BundleError(
      `bundle from ${displayLocation(location)} exceeds ${maxBytes} bytes (policy.maxBundleBytes)`,
    );
  const announced = Number(res.headers.get('content-length') ?? Number.NaN);
  if (announced > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        // Cut off mid-body (a timeout, a reset): worth another try at the next poll.
        throw new BundleError(
          `bundle download from ${displayLocation(location)} failed: ${scrub((err as Error).message, location)}`,
          { cause: err, transient: true },
        );
      }
      const { done, value } = chunk;
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  }
  return Buffer.concat(chunks, size);
}

function httpFailure(location: string, what: string, res: Sent): BundleError {
  const { status } = res;
  const hint =
    status !== 401 && status !== 403
      ? ''
      : res.credentialed
        ? ' (the credentials sent were refused)'
        : res.emptyToken
          ? ' (no credentials were sent: the bundle token file, policy.bundleTokenFile, is empty or unreadable)'
          : ' (the server wants credentials: set policy.bundleTokenFile, or userinfo in the URL)';
  // Refused for its credentials (401/403) is tried again at the next poll as well, though the ETag stays the
  // same: a rotated token (policy.bundleTokenFile) or a fix on the server is then used at once.
  return new BundleError(`bundle ${what} from ${displayLocation(location)} failed: HTTP ${status}${hint}`, {
    transient: status >= 500 || status === 429 || status === 401 || status === 403,
  });
}

/** Downloads a bundle (a `.tar.gz`). */
export async function download(
  location: string,
  signal?: AbortSignal,
  auth?: BundleAuth,
  maxBytes = MAX_BUNDLE_BYTES,
): Promise<Buffer> {
  return (await downloadSigned(location, signal, auth, maxBytes)).bytes;
}

/**
 * {@link download}, with the signature ({@link urlSignature}'s kind) of what was actually sent: its own
 * `ETag` or `Last-Modified`, else the hash of its bytes. The check and the download are two requests, and
 * another node may answer the second (a CDN edge, a replica mid-rollout, a proxy's error page).
 */
export async function downloadSigned(
  location: string,
  signal?: AbortSignal,
  auth?: BundleAuth,
  maxBytes = MAX_BUNDLE_BYTES,
): Promise<{
  readonly bytes: Buffer;
  readonly signature: string;
  /** Whether a check's signature (ETag, Last-Modified or hash) describes what was downloaded. */
  sameAs(checked: string): boolean;
}> {
  const res = await get(location, {
    method: 'GET',
    timeoutMs: DOWNLOAD_TIMEOUT_MS,
    auth,
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw httpFailure(location, 'download', res);
  }
  const bytes = await boundedBody(res, location, maxBytes);
  const hash = createHash('sha256').update(bytes).digest('hex');
  const etag = res.headers.get('etag');
  const modified = res.headers.get('last-modified');
  return {
    bytes,
    signature: etag ?? modified ?? hash,
    // The check found no validator (it hashed the body), or another one than the download's first: what
    // the check would say of this download, whichever kind it used.
    sameAs: (checked) => checked === etag || checked === modified || checked === hash,
  };
}

/**
 * What changes when the bundle at `location` changes: its `ETag` or `Last-Modified` from a HEAD request —
 * or, where HEAD is refused (a presigned URL is signed for GET only, some servers answer 405), from a GET of
 * its first byte — else the hash of the whole body, read under the same bound as the bundle
 * (`policy.maxBundleBytes`).
 */
export async function urlSignature(
  location: string,
  auth?: BundleAuth,
  maxBytes = MAX_BUNDLE_BYTES,
  signal?: AbortSignal,
): Promise<string> {
  const head = await get(location, { method: 'HEAD', timeoutMs: HEAD_TIMEOUT_MS, auth, signal });
  if (head.ok) {
    const tag = validator(head);
    if (tag) return tag;
  } else if (head.status >= 500 || head.status === 429) {
    throw httpFailure(location, 'check', head);
  } else {
    // HEAD refused: a GET of the first byte brings the same validators (S3, GCS), without the body.
    const probe = await get(location, {
      method: 'GET',
      timeoutMs: HEAD_TIMEOUT_MS,
      range: 'bytes=0-0',
      auth,
      signal,
    });
    await probe.body?.cancel().catch(() => undefined);
    if (!probe.ok) throw httpFailure(location, 'check', probe);
    const tag = validator(probe);
    if (tag) return tag;
  }
  return createHash('sha256')
    .update(await download(location, signal, auth, maxBytes))
    .digest('hex');
}

function validator(res: Response): string | null {
  return res.headers.get('etag') ?? res.headers.get('last-modified');
}
