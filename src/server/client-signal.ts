/**
 * An AbortSignal that fires when the client goes away before its response is written, for the stages
 * (JWKS fetches, store calls). Released once the stages are done, so a normal close costs nothing.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';

/** One reason object for every disconnect: building an abort reason per request is costly. */
export const CLIENT_GONE = new Error('client went away');

export function clientSignal(res: ServerResponse): { readonly signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort(CLIENT_GONE);
  };
  res.once('close', onClose);
  return { signal: ac.signal, release: () => res.off('close', onClose) };
}
