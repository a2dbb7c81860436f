/**
 * THE ordered list of request stages (STYLE R5). The order is deliberate:
 *
 * 1. `origin` first: a browser request from a foreign origin is refused before any work (DNS rebinding).
 *    Then a blocked client address (abuse rules) is refused before its credentials cost a check.
 * 2. `authenticate` before reading the body: unauthenticated callers cost no body read or parse; a
 *    blocked subject is refused right after, and so is a caller naming another caller's session.
 * 3. `read-body`, `recheck` then `parse`: size and type limits; the caller checked again from memory (a
 *    body may come up to 30 s after its headers: a revocation, an expiry, a block or a session that is no
 *    longer the caller's meanwhile applies);
 *    JSON-RPC validation and header/body agreement, so the policy only ever sees well-formed messages.
 * 4. `decide`: one policy decision per JSON-RPC request; a deny here means nothing is forwarded.
 * 5. `ratelimit` (when configured) after the decision, because limits come from the policy's obligations
 *    and denied calls must not spend tokens.
 *
 * Forwarding and reply filtering follow in `server/forward.ts`; they write the response, stages do not.
 *
 * @module
 */
import type { RequestContext } from './context.js';
import type { RequestSignal, Stage, StageName, StageResult } from './stage.js';

/** Watches each stage run (tracing and metrics); returns the function called with its result. */
export type StageObserver = (
  ctx: RequestContext,
  name: StageName,
) => ((result: StageResult) => void) | undefined;

export interface Pipelines {
  /** POST with a JSON-RPC body (Streamable HTTP, legacy messages endpoint). */
  readonly post: readonly Stage[];
  /** GET (streams) and DELETE (session end): no body. */
  readonly bodiless: readonly Stage[];
  /** An open stream's caller checked again (blocks, quiet credentials check, session). */
  readonly recheck: readonly Stage[];
  /**
   * A method the endpoint does not serve (answered 405): the origin alone, as MCP asks a 403 for a foreign
   * `Origin` on every request.
   */
  readonly unserved: readonly Stage[];
}

export interface PipelineStages {
  readonly origin: Stage;
  readonly authenticate: Stage;
  /** `authenticate` for re-checks: no failed-login events, no API-key use recorded. */
  readonly recheckAuthenticate: Stage;
  readonly readBody: Stage;
  /** The caller checked again once the body is in (revocation, expiry, blocks). */
  readonly recheck: Stage;
  readonly parse: Stage;
  readonly protocolVersion: Stage;
  readonly decide: Stage;
  readonly ratelimit?: Stage;
  readonly blockIp?: Stage;
  readonly blockSubject?: Stage;
  readonly session?: Stage;
}

export function createPipelines(s: PipelineStages): Pipelines {
  const present = (stages: (Stage | undefined)[]) => stages.filter((x): x is Stage => x !== undefined);
  const front = present([s.origin, s.blockIp, s.authenticate, s.blockSubject, s.session]);
  return {
    post: [...front, ...present([s.readBody, s.recheck, s.parse, s.decide, s.ratelimit])],
    bodiless: [...front, s.protocolVersion],
    recheck: present([s.blockIp, s.recheckAuthenticate, s.blockSubject, s.session]),
    unserved: [s.origin],
  };
}

/** Runs stages in order; the first deny stops the run. */
export async function runStages(
  stages: readonly Stage[],
  ctx: RequestContext,
  client: RequestSignal,
  observe?: StageObserver,
): Promise<StageResult> {
  for (const stage of stages) {
    const done = observe?.(ctx, stage.name);
    let result: StageResult;
    try {
      const r = stage.run(ctx, client);
      // Most stages answer synchronously: do not pay for an await when they do.
      result = r instanceof Promise ? await r : r;
    } catch (err) {
      done?.({ kind: 'continue' });
      throw err;
    }
    done?.(result);
    if (result.kind === 'deny') return result;
  }
  return { kind: 'continue' };
}
