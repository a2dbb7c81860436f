/**
 * The stage contract (STYLE R5): a stage looks at the request context and either lets it continue or
 * denies it with a typed error. Stages never write the response; `server/` maps the error once.
 *
 * @module
 */
import type { SidecarError } from '../errors/errors.js';
import type { RequestContext } from './context.js';

export type StageName =
  | 'origin'
  | 'blocklist'
  | 'authenticate'
  | 'session'
  | 'read-body'
  | 'recheck'
  | 'parse'
  | 'decide'
  | 'ratelimit';

export type StageResult =
  | { readonly kind: 'continue' }
  | { readonly kind: 'deny'; readonly error: SidecarError };

export const CONTINUE: StageResult = Object.freeze({ kind: 'continue' });

export function deny(error: SidecarError): StageResult {
  return { kind: 'deny', error };
}

/** What a stage gets to notice a client that went away; `signal` is built on first use, so read it only
 * where something needs an AbortSignal (a fetch, a store call), not on the fast path. */
export interface RequestSignal {
  readonly aborted: boolean;
  readonly signal: AbortSignal;
}

/** A RequestSignal around an AbortSignal (tests, callers without a response to watch). */
export function requestSignal(signal: AbortSignal): RequestSignal {
  return {
    get aborted() {
      return signal.aborted;
    },
    signal,
  };
}

export interface Stage {
  readonly name: StageName;
  run(ctx: RequestContext, client: RequestSignal): Promise<StageResult> | StageResult;
}
