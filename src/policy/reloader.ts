/**
 * Hot reload: polls the bundle location (folder, `.tar.gz` or URL) and loads a changed bundle through
 * `PolicyEngine.load`, which swaps only a bundle that compiled and checked completely. Polling (rather
 * than `fs.watch`) follows Kubernetes ConfigMap symlink swaps and network file systems reliably; a
 * changed signature of sizes and mtimes (or a changed ETag for URLs) triggers a reload.
 *
 * A folder is loaded only once it has settled: its new signature must be seen at two checks in a row, and
 * again after the files were read. A folder updated file by file (`cp policy.wasm` now, `data.json` a moment
 * later) would otherwise load one bundle's wasm with another's data, a policy nobody wrote. The first load,
 * at start, does not wait. (A `.tar.gz` or a URL is one object: a partial copy fails to read, and is read
 * again once it changes.)
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../telemetry/logger.js';
import {
  type Bundle,
  BundleError,
  displayLocation,
  fromTarball,
  MAX_BUNDLE_BYTES,
  readBundle,
} from './bundle.js';
import { type BundleAuth, downloadSigned, isUrl } from './bundle-download.js';
import type { BundlePersistence } from './bundle-persist.js';
import type { BundleVerification } from './bundle-signature.js';
import type { PolicyEngine } from './engine.js';
import { isFolderSignature, signature } from './location-signature.js';

export interface ReloaderOptions {
  readonly location: string;
  readonly watch: boolean;
  readonly pollIntervalMs: number;
  readonly engine: PolicyEngine;
  readonly logger: Logger;
  /** When set, only a bundle whose signature verifies is loaded (bundle-signature.ts). */
  readonly verification?: BundleVerification;
  /** A bundle URL's bearer token (`policy.bundleTokenFile`); a request refused for its token is tried again each poll. */
  readonly auth?: BundleAuth;
  /** Where each bundle loaded from a URL is kept, and started on when the URL gives none (`policy.persistDir`). */
  readonly persist?: BundlePersistence;
  /** `policy.maxBundleBytes` (default {@link MAX_BUNDLE_BYTES}). */
  readonly maxBytes?: number;
}

export class PolicyReloader {
  readonly #opts: ReloaderOptions;
  get #maxBytes(): number {
    return this.#opts.maxBytes ?? MAX_BUNDLE_BYTES;
  }
  #timer: NodeJS.Timeout | undefined;
  #signature: string | null = null;
  /** A folder's changed signature seen at the last check, not loaded until it is seen again. */
  #settling: string | null = null;
  #started = false;
  #stopped = false;
  /** While the first check runs with a kept copy to fall back on, a read failure waits here (start()). */
  #deferring = false;
  #deferred: unknown;
  /** The last failure to read the bundle, reported once while it repeats. */
  #lastReadError: string | null = null;
  #busy: Promise<void> | undefined;
  /**
   * The check in flight's, aborted by stop(): a bundle check or download (up to 10 s / 30 s) does not hold a
   * shutdown. One per check, not one for the reloader's life: each request combines it with its timeout
   * (AbortSignal.any), and Node 20 keeps a reference per combination in the source signal until it aborts,
   * so a signal living as long as the reloader grew at every poll (86,400 a day at the 1 s default).
   */
  #abort: AbortController | undefined;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
  }

  /**
   * Loads the bundle once and starts watching. When that gives no policy and a copy of the URL's last
   * bundle was kept, the copy is loaded; otherwise the engine denies everything until a bundle loads.
   */
  async start(): Promise<void> {
    // With a kept copy to fall back on, a failure to read the URL at start is reported once it is known
    // whether the copy serves: an error line saying no policy is loaded, a moment before the copy loads,
    // would page someone for an outage the copy rides out.
    this.#deferring = this.#opts.persist !== undefined;
    await this.check();
    this.#deferring = false;
    const deferred = this.#deferred;
    this.#deferred = undefined;
    if (this.#opts.persist && !this.#stopped && this.#opts.engine.revision === null) {
      await this.#loadKept(this.#opts.persist, deferred);
    } else if (deferred !== undefined) this.#reportOnce(deferred);
    if (this.#stopped) return;
    this.#started = true;
    // Stopped while the first load ran (a shutdown during start-up): no polling after that.
    if (this.#opts.watch && !this.#stopped) {
      this.#timer = setInterval(() => void this.check(), this.#opts.pollIntervalMs);
      this.#timer.unref();
    }
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#busy ?? Promise.resolve();
  }

  /** Reloads if the signature changed. Concurrent calls share one check. Never throws. */
  check(): Promise<void> {
    this.#busy ??= this.#checkOnce().finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  async #checkOnce(): Promise<void> {
    const { location, engine } = this.#opts;
    const abort = new AbortController();
    this.#abort = abort;
    if (this.#stopped) abort.abort();
    let sig: string;
    try {
      sig = await this.#currentSignature(abort.signal);
    } catch (err) {
      // Gone or unreachable: whatever answers next is read again.
      this.#signature = null;
      this.#settling = null;
      this.#reportOnce(err);
      return;
    }
    if (sig === this.#signature) {
      // Back to what is loaded: a change seen earlier has not settled, it went away.
      this.#settling = null;
      return;
    }
    const folder = isFolderSignature(sig);
    if (folder && this.#started && sig !== this.#settling) {
      this.#settling = sig; // changed since the last check: maybe a copy in progress
      return;
    }
    this.#settling = null;
    this.#signature = sig;
    let bundle: Bundle;
    let downloaded: Buffer | undefined;
    try {
      if (isUrl(location)) {
        const got = await downloadSigned(location, abort.signal, this.#opts.auth, this.#maxBytes);
        downloaded = got.bytes;
        // What was loaded (or found broken) is what the download sent: when another node answered it than
        // the check (a stale CDN edge, an error page), the next check sees the difference and reads again.
        if (!got.sameAs(sig)) this.#signature = got.signature;
        bundle = await fromTarball(
          downloaded,
          displayLocation(location),
          this.#opts.verification,
          this.#maxBytes,
        );
      } else {
        bundle = await readBundle(
          location,
          undefined,
          this.#opts.verification,
          this.#opts.auth,
          this.#maxBytes,
        );
      }
      if (folder && (await this.#currentSignature(abort.signal).catch(() => null)) !== sig) {
        // Changed while being read: read again once it has settled.
        this.#signature = null;
        return;
      }
    } catch (err) {
      // A download can fail for a moment (network, 5xx, 429): try it again at the next poll although the
      // ETag stays the same, reporting the same failure once. A bundle that is broken stays broken until
      // its signature changes (not fetched again every poll); a file or folder changes its signature
      // anyway once a copy in progress is complete.
      if (err instanceof BundleError && err.transient) this.#signature = null;
      this.#reportOnce(err);
      return;
    }
    this.#lastReadError = null;
    // load() records and logs its own failures and keeps the last good policy.
    const loaded = await engine.load(bundle).then(
      () => true,
      () => false,
    );
    if (loaded && downloaded && this.#opts.persist) await this.#keep(this.#opts.persist, downloaded, bundle);
  }

  async #keep(persist: BundlePersistence, bytes: Buffer, bundle: Bundle): Promise<void> {
    try {
      await persist.save(bytes, bundle.revision);
    } catch (err) {
      this.#opts.logger.warn(
        { file: persist.file, revision: bundle.revision, err: (err as Error).message },
        'the downloaded bundle could not be kept in policy.persistDir; a restart while the bundle URL fails would start without a policy',
      );
    }
  }

  /**
   * Loads the copy kept of the URL's last bundle (start-up found no policy at the URL). `unread` is the URL's
   * read failure, not yet reported: at warn once the copy serves, as an error when it does not.
   */
  async #loadKept(persist: BundlePersistence, unread: unknown): Promise<void> {
    const { engine, logger, location } = this.#opts;
    // Why the URL gave no policy (a bundle that did not load): load() clears it, yet it still holds.
    const urlFailure = engine.status().lastError;
    const reportUnread = () => {
      if (unread !== undefined) this.#reportOnce(unread);
    };
    const kept = await persist.read();
    if ('why' in kept) {
      reportUnread();
      logger.warn({ file: persist.file, why: kept.why }, 'no kept copy of the bundle to start on');
      return;
    }
    const source = `${kept.file} (kept copy of ${displayLocation(location)})`;
    let bundle: Bundle;
    try {
      bundle = await fromTarball(kept.bytes, source, this.#opts.verification, this.#maxBytes);
    } catch (err) {
      reportUnread();
      engine.recordFailure(err, source);
      return;
    }
    // load() logs the load (or its failure) with the copy as its source.
    if (
      !(await engine.load(bundle).then(
        () => true,
        () => false,
      ))
    ) {
      reportUnread();
      return;
    }
    logger.warn(
      { revision: bundle.revision, savedAt: kept.meta.savedAt, file: kept.file },
      'the bundle URL gave no policy at start; serving the kept copy of its last bundle until it does',
    );
    // /readyz shows the URL's failure beside the loaded revision (state warn) from now on, not only after
    // the next poll: with policy.watch false there is none, and a broken bundle at the URL is not read again
    // until it changes. A repeat of the same failure is still reported once.
    if (unread !== undefined) {
      // Counted and shown like any read failure, at warn: the copy serves meanwhile.
      engine.recordFailure(unread, displayLocation(location), 'warn');
      this.#lastReadError = String((unread as Error)?.message ?? unread);
    } else if (urlFailure) engine.showFailure(urlFailure);
  }

  /**
   * The bundle's signature and, when bundles are verified, the key's digest: a bundle refused with the old
   * key is read again once the key file changes (a bundle published before its key was rotated in), not
   * only once the bundle changes.
   */
  async #currentSignature(signal: AbortSignal): Promise<string> {
    const { location, verification, auth } = this.#opts;
    const sig = await signature(location, verification !== undefined, auth, this.#maxBytes, signal);
    if (!verification) return sig;
    return `${sig}|key:${createHash('sha256')
      .update(verification.key() ?? '')
      .digest('hex')}`;
  }

  /** Records a failure to read the bundle, unless it is the one recorded last (a failure repeats each poll). */
  #reportOnce(err: unknown): void {
    // Stopped: the failure is the abort, or a shutdown's business no more.
    if (this.#stopped) return;
    if (this.#deferring) {
      this.#deferred = err;
      return;
    }
    const text = String((err as Error)?.message ?? err);
    if (text !== this.#lastReadError)
      this.#opts.engine.recordFailure(err, displayLocation(this.#opts.location));
    this.#lastReadError = text;
  }
}
