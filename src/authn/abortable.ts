/**
 * An authentication that gives up when its request does: the stage's deadline passed or the client left.
 *
 * @module
 */
import { AuthnError } from '../errors/errors.js';

/** Runs `fn`, rejecting with ERR_AUTHN_UNAVAILABLE if `signal` aborts first (deadline or client gone). */
export function abortable<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  const aborted = () =>
    new AuthnError('ERR_AUTHN_UNAVAILABLE', 'authentication aborted', { cause: signal?.reason });
  if (!signal) return fn();
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    fn().then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
