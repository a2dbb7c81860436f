/**
 * The policy decision: every JSON-RPC request in the body becomes an Action decided by the `decision`
 * entrypoint. Notifications and client responses pass once authenticated. If any request is denied the
 * whole body is denied (a batch is never partly forwarded); the responder answers each message.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { ANONYMOUS, type Principal } from '../../authn/principal.js';
import { cutText } from '../../cut-text.js';
import { PolicyError, RequestError } from '../../errors/errors.js';
import { type Action, classify, malformedParams } from '../../mcp/action.js';
import { type AnnotationCache, learnableToolName } from '../../mcp/annotations.js';
import { misspeltArgument, spellingReason } from '../../mcp/argument-names.js';
import { holdsMoreValues } from '../../mcp/json-values.js';
import { isListMethod } from '../../mcp/list-filter.js';
import { checkedParamHeaders, requestParamHeaderMismatch } from '../../mcp/param-headers.js';
import { idKey } from '../../mcp/reply-filter.js';
import { nonCanonicalUri } from '../../mcp/resource-uri.js';
import { MAX_RESOURCE_SUBSCRIPTIONS, resourceSubscriptions } from '../../mcp/subscriptions.js';
import type { TaskOwners } from '../../mcp/task-owners.js';
import {
  mayCreateTask,
  namedTaskId,
  relatedTaskId,
  subscribedTaskIds,
  TASK_LIST_METHOD,
  TASK_METHODS,
} from '../../mcp/tasks.js';
import { type Decision, denyDecision } from '../../policy/decision.js';
import type { PolicyEngine } from '../../policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../../policy/input.js';
import { enforcedDenial, type MessageDecision, type RequestContext } from '../context.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';
import { markRefused } from './late-refusal.js';

export interface DecideDeps {
  readonly engine: PolicyEngine;
  readonly annotations: AnnotationCache;
  readonly facts: (ctx: RequestContext) => RequestFacts;
  /** Called before deciding on a tool the sidecar has not seen listed (learn its annotations). */
  readonly discover?: (tool: string, signal: AbortSignal) => Promise<void>;
  /** Called for each decision with the message's params (tracing: one span per decision). */
  readonly onDecision?: (ctx: RequestContext, d: MessageDecision, params: unknown) => void;
  /**
   * `policy.dryRun`: a denial is recorded on its decision (`dryRun`), and the body goes on — except an
   * anonymous caller's, which is answered with the sign-in challenge as always.
   */
  readonly dryRun?: boolean;
  /**
   * Tasks bound to their callers: a task method (or a `subscriptions/listen` for task notifications) naming
   * a task of another caller (or, by default, one never seen created) is refused before the policy, and is
   * never let through by a dry run.
   */
  readonly tasks?: TaskOwners;
  /** `policy.maxArgumentValues`: a call whose arguments hold more JSON values is refused before the policy. */
  readonly maxArgumentValues?: number;
}

export function decideStage(deps: DecideDeps): Stage {
  const decideAll = (ctx: RequestContext): StageResult => {
    const parsed = ctx.parsed;
    if (!parsed) return CONTINUE;
    const principal = ctx.principal ?? ANONYMOUS;
    const facts = deps.facts(ctx);
    ctx.facts = facts;
    let firstDenied: PolicyError | undefined;
    // Resource subscriptions decided for the whole body: a batch of listens shares one allowance.
    const subscriptions = { left: MAX_RESOURCE_SUBSCRIPTIONS };
    for (const [index, msg] of parsed.messages.entries()) {
      if (msg.kind !== 'request') continue;
      const action = classify(msg.method, msg.id, msg.params);
      const annotations = action.tool !== undefined ? deps.annotations.get(action.tool) : undefined;
      // A completion's resource template is matched as written (the SDK server compares the text): no URL form.
      const canonical =
        action.uri === undefined || action.resource.kind === 'resource_template'
          ? undefined
          : nonCanonicalUri(action.uri);
      const foreignTask = deps.tasks ? taskRefusal(deps.tasks, msg.method, msg.params, principal) : undefined;
      const misspelt =
        action.tool !== undefined && action.arguments !== undefined
          ? misspeltArgument(action.arguments, deps.annotations.argumentNames(action.tool))
          : undefined;
      const malformed = misspelt ? spellingReason(misspelt) : malformedParams(msg.method, msg.params);
      const badArguments = malformed !== undefined;
      const tooLarge =
        deps.maxArgumentValues !== undefined &&
        action.arguments !== undefined &&
        holdsMoreValues(action.arguments, deps.maxArgumentValues);
      const decision = canonical
        ? denyDecision(`write the resource URI as ${canonical}`, undefined, deps.engine.revision)
        : badArguments
          ? denyDecision(malformed, undefined, deps.engine.revision)
          : tooLarge
            ? denyDecision(
                `the arguments hold more than ${deps.maxArgumentValues} JSON values (policy.maxArgumentValues)`,
                undefined,
                deps.engine.revision,
              )
            : foreignTask
              ? denyDecision(foreignTask, undefined, deps.engine.revision)
              : (decideSubscriptions(deps.engine, principal, action, msg.params, facts, subscriptions) ??
                deps.engine.decide(buildDecisionInput(principal, action, annotations, facts)));
      const decisionId = randomUUID();
      // A dry run never lets an unauthenticated request through: an anonymous caller (`authn.mode: optional`)
      // the policy denies is still asked to sign in (respond.ts), as authentication stays enforced. Nor does
      // it open another caller's task, or pass arguments (or a completion's ref) the policy never saw: those
      // are no policy choice.
      const notEnforced =
        !decision.allow &&
        deps.dryRun === true &&
        principal.authMethod !== 'anonymous' &&
        foreignTask === undefined &&
        !badArguments &&
        !tooLarge;
      // A task method's unknown or foreign task is the spec's invalid params; a listen naming one stays a denial.
      const refusal = tooLarge
        ? 'ERR_ARGUMENTS_TOO_LARGE'
        : foreignTask === NOT_THE_CALLERS && TASK_METHODS.has(action.method)
          ? 'ERR_TASK_UNKNOWN'
          : undefined;
      const d: MessageDecision = notEnforced
        ? { index, action, decision, decisionId, dryRun: true }
        : refusal
          ? { index, action, decision, decisionId, refusal }
          : { index, action, decision, decisionId };
      ctx.decisions.push(d);
      deps.onDecision?.(ctx, d, msg.params);
      if (!decision.allow && !notEnforced) {
        firstDenied ??= denial(decision.reasons, decisionId, decision.failure !== undefined, refusal);
      } else if (isListMethod(action.method)) {
        ctx.listRequests.set(idKey(action.id), action.method);
      } else if (
        deps.tasks &&
        (action.method === TASK_LIST_METHOD || mayCreateTask(action.method, msg.params))
      ) {
        ctx.taskRequests ??= new Map();
        ctx.taskRequests.set(idKey(action.id), action.method === TASK_LIST_METHOD ? 'list' : 'create');
      }
    }
    if (!firstDenied) return CONTINUE;
    holdBack(ctx.decisions);
    return deny(firstDenied);
  };
  // A 2026-07-28 call whose Mcp-Param-* headers disagree with its arguments is a bad request, refused before
  // any decision (even in a dry run): what routes on the header in front must not see another call than
  // the one decided. Its tool's marks are known once it has been seen listed (hence after discovery).
  const declarationsOf = (tool: string) => deps.annotations.paramHeaders(tool);
  const checkThenDecide = (ctx: RequestContext): StageResult => {
    const parsed = ctx.parsed;
    const why = parsed
      ? requestParamHeaderMismatch(ctx.req.headers, parsed.messages, declarationsOf, ctx.req.rawHeaders)
      : undefined;
    if (why) return deny(new RequestError('ERR_REQUEST_HEADER_MISMATCH', `Bad Request: ${why}`));
    if (parsed) ctx.paramHeaders = checkedParamHeaders(ctx.req.headers, parsed.messages, declarationsOf);
    return decideAll(ctx);
  };
  return {
    name: 'decide',
    run(ctx, client) {
      // Tools not seen listed yet are looked up first (async); otherwise the decisions are synchronous.
      const unseen = deps.discover ? unseenTools(ctx, deps.annotations) : [];
      if (unseen.length === 0 || !deps.discover) return checkThenDecide(ctx);
      const discover = deps.discover;
      return (async () => {
        for (const tool of unseen) await discover(tool, client.signal).catch(() => undefined);
        return checkThenDecide(ctx);
      })();
    },
  };
}

/**
 * A `subscriptions/listen` naming resources: each URI decided as its `resources/subscribe` would be; the
 * first denial (or a malformed list, or more URIs than the body's `allowance` has left: each costs a
 * decision) is the listen's decision. Undefined when there is nothing to refuse:
 * the listen itself is then decided as any method is.
 */
function decideSubscriptions(
  engine: PolicyEngine,
  principal: Principal,
  action: Action,
  params: unknown,
  facts: RequestFacts,
  allowance: { left: number },
): Decision | undefined {
  const uris = resourceSubscriptions(action.method, params);
  if (uris === undefined) return undefined;
  if (uris === null) {
    return denyDecision(
      `${action.method} needs notifications.resourceSubscriptions to be a list of at most ${MAX_RESOURCE_SUBSCRIPTIONS} resource URIs`,
      undefined,
      engine.revision,
    );
  }
  if (uris.length > allowance.left) {
    return denyDecision(
      `a request body may subscribe to at most ${MAX_RESOURCE_SUBSCRIPTIONS} resources in all`,
      undefined,
      engine.revision,
    );
  }
  allowance.left -= uris.length;
  for (const uri of uris) {
    const canonical = nonCanonicalUri(uri);
    if (canonical) return denyDecision(`write the resource URI as ${canonical}`, undefined, engine.revision);
    const subscribe = classify('resources/subscribe', action.id, { uri });
    const d = engine.decide(buildDecisionInput(principal, subscribe, undefined, facts));
    if (!d.allow) return d;
  }
  return undefined;
}

/**
 * Tools named by the body's `tools/call` requests that the annotation cache has not seen listed, and could
 * learn: a name too long to be learnt is decided as unseen without asking the upstream.
 */
function unseenTools(ctx: RequestContext, annotations: AnnotationCache): string[] {
  const out: string[] = [];
  for (const msg of ctx.parsed?.messages ?? []) {
    if (msg.kind !== 'request') continue;
    const tool = classify(msg.method, msg.id, msg.params).tool;
    if (tool === undefined || annotations.has(tool) || !learnableToolName(tool)) continue;
    if (!out.includes(tool)) out.push(tool);
  }
  return out;
}

/** The same words whether a task is another caller's or unknown: a task's existence is not told. */
const NOT_THE_CALLERS = 'no task with this taskId was created by this caller';

/**
 * Why a task method, or a `subscriptions/listen` naming tasks (2026-07-28: their notifications carry each
 * task's result), may not go on — it names no task, or a task the caller did not create — or undefined.
 */
function taskRefusal(
  tasks: TaskOwners,
  method: string,
  params: unknown,
  caller: Principal,
): string | undefined {
  // A request tied to another caller's task by `_meta` would have its reply queued into that task's messages,
  // whatever its method: checked first, so that no method's own check (a listen's taskIds) returns before it.
  const related = relatedTaskId(params);
  if (related !== undefined && !tasks.mayUse(related, caller)) return NOT_THE_CALLERS;
  const subscribed = subscribedTaskIds(method, params);
  if (subscribed === null) return `${method} needs notifications.taskIds to be a list of task ids`;
  if (subscribed !== undefined) {
    return subscribed.every((id) => tasks.mayUse(id, caller)) ? undefined : NOT_THE_CALLERS;
  }
  const taskId = namedTaskId(method, params);
  if (taskId === undefined) return undefined;
  if (taskId === null) return `${method} needs a taskId`;
  return tasks.mayUse(taskId, caller) ? undefined : NOT_THE_CALLERS;
}

/** Why a request of a batch with a denied one is not forwarded: its answer's reason (respond.ts) and its record's. */
export const HELD_BACK_REASON = 'another message in this batch was denied';

/**
 * Marks the requests a denied body holds back with it (allowed, or let through by a dry run): never forwarded,
 * they are audited as refused for the policy's sake, as their answers say, and are no calls for the abuse rules.
 */
function holdBack(decisions: readonly MessageDecision[]): void {
  for (const d of decisions) {
    if (!enforcedDenial(d)) markRefused(d, 'ERR_POLICY_DENIED', HELD_BACK_REASON);
  }
}

/** The longest reason a denial's reply carries, in its message and in `data.reasons`; longer ones end in `…`. */
export const REPLY_REASON_MAX_CHARS = 1_024;

/** Reasons as a reply carries them: each cut (a reason may quote a URI or tool name the caller sent). */
export function replyReasons(reasons: readonly string[]): string[] {
  return reasons.map((r) => cutText(r, REPLY_REASON_MAX_CHARS));
}

export function denial(
  reasons: readonly string[],
  decisionId: string,
  failure: boolean,
  refusal?: MessageDecision['refusal'],
): PolicyError {
  const cut = replyReasons(reasons);
  return new PolicyError(
    refusal ?? (failure ? 'ERR_POLICY_UNAVAILABLE' : 'ERR_POLICY_DENIED'),
    `${refusal ? 'Invalid params' : 'Forbidden'}: ${cut[0] ?? 'denied'}`,
    {
      data: { reasons: cut, decision_id: decisionId },
    },
  );
}
