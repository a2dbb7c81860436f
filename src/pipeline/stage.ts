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

export interface Stage {
  readonly name: StageName;
  run(ctx: RequestContext, signal: AbortSignal): Promise<StageResult> | StageResult;
}
