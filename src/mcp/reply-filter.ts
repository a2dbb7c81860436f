/**
 * Rewrites upstream replies for one request: JSON-RPC responses to list requests are pruned with the
 * `visible` entrypoint, and the reply to a `tools/list` the sidecar saw sent teaches the annotation cache.
 * Works on a JSON body (one message or a batch) and, through `rewriteEvent`, on each SSE event.
 *
 * Which responses are list replies: those answering the body's own list requests (by id), and, where a
 * reply to some other request can arrive, every response whose result holds a list field as well
 * (`alsoAnyList`): a Streamable HTTP GET stream (which replays replies on resumption with `Last-Event-ID`),
 * the legacy SSE stream, and a POST in a session (the upstream routes a reply to the POST that sent its id
 * last; ids in flight cannot be reused, see `in-flight-ids.ts`, but a request cut off early is still
 * answered upstream). Stateless POSTs, the hot path, look at nothing unless they carry a list request;
 * then any response carrying a list field is pruned as well, whatever its id: an upstream that answers
 * `tools/list` 1 under id "1", or another wrong id, must not get an unpruned list past the filter.
 *
 * Only the reply to a `tools/list` teaches: the response under the id of one of the body's own `tools/list`
 * requests (its POST's reply, JSON or event stream; not a POST reusing the id of a request cut off, whose late
 * answer may come under it: `untaught`, untaught-sessions.ts), or on the legacy SSE stream one the
 * session sent (`answered`, tool-list-ids.ts). Any other response carrying a `tools` field is pruned as a
 * list but teaches nothing: a tool's result can be of its caller's making (an echo), and would otherwise
 * plant annotations (a destructive tool said read-only), `Mcp-Param-*` marks or argument names. The upstream's
 * `notifications/tools/list_changed`, wherever a filter sees it, has the annotations learnt forgotten
 * (`AnnotationCache.toolsChanged`; an event of a session once, as a resumed stream replays it), and the
 * replies to lists sent before it teach nothing.
 *
 * The same replies bind the tasks they create to the caller and have `tasks/list` results pruned to the
 * caller's tasks (`TaskScope`), and on the long-lived event streams the server notifications the caller may
 * not be told of are dropped (`NotificationCheck`).
 *
 * A message that needs no change is passed as the upstream wrote it, never re-serialised (JSON.parse then
 * JSON.stringify would round numbers beyond 2^53 and change their spelling).
 *
 * @module
 */
import type { EventSourceMessage } from 'eventsource-parser';
import type { Principal } from '../authn/principal.js';
import type { TaskRequestKind } from '../pipeline/context.js';
import { isRecord, type JsonRpcId } from './action.js';
import { type AnnotationCache, TOOLS_LIST_CHANGED } from './annotations.js';
import { toolArgumentNames } from './argument-names.js';
import { rewrittenText } from './json-scan.js';
import {
  filterListResult,
  type ListMethod,
  listMethodOf,
  toolAnnotations,
  type VisibleFn,
} from './list-filter.js';
import { toolParamHeaders } from './param-headers.js';
import type { TaskOwners } from './task-owners.js';
import { createdTask, isTaskList, pruneTaskList } from './tasks.js';

export function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

/**
 * Whether the caller may be told of one server notification (method and params): on a long-lived event
 * stream (a 2026-07-28 `subscriptions/listen`, a Streamable HTTP GET stream, the legacy SSE stream), a
 * `notifications/resources/updated` is passed on only for a URI the policy lets the caller subscribe to
 * (`server/stream-notifications.ts`).
 */
export type NotificationCheck = (method: string, params: unknown) => boolean;

/** Starts timing one list reply's pruning (a trace span); the result is called with kept and removed. */
export type FilterTimer = () => ((kept: number, removed: number) => void) | undefined;

/** The caller's tasks: replies creating one bind it to the caller, `tasks/list` replies keep only theirs. */
export interface TaskScope {
  readonly owners: TaskOwners;
  readonly caller: Principal;
  /** Requests of the body whose replies may create or list tasks (by id key). */
  readonly pending?: ReadonlyMap<string, TaskRequestKind>;
  /** Told of a task created in reply to one of `pending` (by its id key). */
  readonly created?: (key: string, taskId: string) => void;
}

/** What a reply filter does besides pruning lists, each only when given. */
export interface ReplyFilterOptions {
  /** Times each list reply's pruning (a trace span). */
  readonly timer?: FilterTimer | undefined;
  /** Binds created tasks to the caller and prunes `tasks/list` replies to theirs. */
  readonly tasks?: TaskScope | undefined;
  /** Drops the server notifications the caller may not be told of. */
  readonly notifications?: NotificationCheck | undefined;
  /** Told the id key of every response an SSE event carries (the legacy transport's replies, at shutdown). */
  readonly replies?: ((key: string) => void) | undefined;
  /** Shown every message an SSE event carries (the session notes the server's own requests). */
  readonly sent?: ((msg: unknown) => void) | undefined;
  /**
   * Told the id of every response (result or error, as the upstream wrote it); true when it answers a
   * `tools/list` the session sent, whose tools are learnt (the legacy SSE stream, where every reply of the
   * session comes).
   */
  readonly answered?: ((id: unknown) => boolean) | undefined;
  /** The replies to the body's own `tools/list` requests teach nothing (it reuses the id of a request cut off). */
  readonly untaught?: boolean | undefined;
  /** The Streamable HTTP session replied in: a tools/list_changed event replayed in it is acted on once. */
  readonly session?: string | undefined;
}

/**
 * Whether a reply filter made of these would be active ({@link ReplyFilter.active}): a route can skip building
 * one that would not be (the stateless POST without a list or task request, the hot path).
 */
export function filterActive(
  pending: ReadonlyMap<string, ListMethod>,
  alsoAnyList: boolean,
  tasks: TaskScope | undefined,
  notifications: NotificationCheck | undefined,
): boolean {
  return alsoAnyList || pending.size > 0 || (tasks?.pending?.size ?? 0) > 0 || notifications !== undefined;
}

export class ReplyFilter {
  readonly #pending: ReadonlyMap<string, ListMethod>;
  readonly #anyList: boolean;
  readonly #visible: VisibleFn;
  readonly #annotations: AnnotationCache;
  readonly #timer: FilterTimer | undefined;
  readonly #tasks: TaskScope | undefined;
  readonly #notifications: NotificationCheck | undefined;
  readonly #replies: ((key: string) => void) | undefined;
  readonly #sent: ((msg: unknown) => void) | undefined;
  readonly #answered: ((id: unknown) => boolean) | undefined;
  readonly #untaught: boolean;
  /** The annotation cache's generation when the filter was made (its body about to be forwarded). */
  readonly #generation: number;
  readonly #session: string | undefined;
  /** The id of the last event the reply passed (or dropped), where a GET resuming its stream starts. */
  lastEventId: string | undefined;

  /**
   * `alsoAnyList`: prune every response carrying a list too (and bind every task created), not only replies
   * to `pending` requests. `notifications`: the server notifications to pass on (SSE events; others dropped).
   */
  constructor(
    pending: ReadonlyMap<string, ListMethod>,
    alsoAnyList: boolean,
    visible: VisibleFn,
    annotations: AnnotationCache,
    options: ReplyFilterOptions = {},
  ) {
    this.#pending = pending;
    this.#anyList = alsoAnyList;
    this.#visible = visible;
    this.#annotations = annotations;
    this.#timer = options.timer;
    this.#tasks = options.tasks;
    this.#notifications = options.notifications;
    this.#replies = options.replies;
    this.#sent = options.sent;
    this.#answered = options.answered;
    this.#untaught = options.untaught === true;
    this.#generation = annotations.generation;
    this.#session = options.session;
  }

  /** True when some reply may need rewriting (a list or task request is pending, or any reply may be one). */
  get active(): boolean {
    return filterActive(this.#pending, this.#anyList, this.#tasks, this.#notifications);
  }

  /**
   * Rewrites one parsed JSON-RPC message (or batch), which came as the SSE event `eventId` when given; returns
   * the same object when nothing applies.
   */
  rewriteMessage(msg: unknown, eventId?: string): unknown {
    if (Array.isArray(msg)) {
      const out = msg.map((m) => this.rewriteMessage(m, eventId));
      return out.every((m, i) => m === msg[i]) ? msg : out;
    }
    if (!isRecord(msg)) return msg;
    if (!('id' in msg)) {
      // The upstream's tools changed: what was learnt of them no longer decides calls (once per event).
      if (msg.method === TOOLS_LIST_CHANGED) {
        const session = this.#session;
        this.#annotations.toolsChanged(session && eventId ? { session, id: eventId } : undefined);
      }
      return msg;
    }
    if (!('result' in msg)) {
      if (this.#answered && 'error' in msg && msg.id !== null) this.#answered(msg.id);
      return msg;
    }
    const key = idKey(msg.id as JsonRpcId);
    const listed = this.#answered?.(msg.id) === true;
    // A task reply's result goes on to the list pruning: one that also carries a list field (an upstream's
    // odd shape, or a wrong id) must not pass it unpruned.
    const result = (this.#tasks && this.#taskResult(this.#tasks, key, msg.result)) ?? msg.result;
    const pending = this.#pending.get(key);
    // A reply under an id of no pending list request still carries a list when its result has a list field
    // (an upstream answering `tools/list` 1 as "1", or with a wrong id): pruned all the same.
    const method = pending ?? (this.active ? listMethodOf(result) : undefined);
    if (!method) return result === msg.result ? msg : { ...msg, result };
    const done = this.#timer?.();
    // Learnt only from the reply to a tools/list (by id); any other response carrying a list is only pruned. Nor
    // from the reply to the body's own if the upstream said its tools changed since it was sent: it may predate it.
    const own =
      pending === 'tools/list' && !this.#untaught && this.#annotations.generation === this.#generation;
    if (method === 'tools/list' && (own || listed)) {
      this.#annotations.learn(toolAnnotations(result));
      this.#annotations.learnParamHeaders(toolParamHeaders(result));
      this.#annotations.learnArgumentNames(toolArgumentNames(result));
    }
    const filtered = filterListResult(method, result, this.#visible);
    done?.(filtered.kept, filtered.total - filtered.kept);
    return { ...msg, result: filtered.result };
  }

  /**
   * A reply creating a task (bound to the caller, passed as it is) or listing tasks (pruned to the caller's):
   * its result; undefined for any other reply. Like list replies, any response of that shape counts once
   * the filter is active, whatever its id, with one exception: under an id of no pending `create`, only a
   * 2025-11-25 `CreateTaskResult` (`result.task`) binds. A flat `resultType: "task"` result is also what a
   * 2026-07-28 `tasks/get` or `tasks/cancel` answers, and binding that would hand an unknown task (with
   * `unknownTasks: forward`) to whoever polled it in a batch beside a list or task-creating request.
   */
  #taskResult(tasks: TaskScope, key: string, result: unknown): unknown {
    const kind = tasks.pending?.get(key);
    const created =
      kind === 'create' || (kind === undefined && this.active && isRecord(result) && isRecord(result.task))
        ? createdTask(result)
        : undefined;
    if (created) {
      tasks.owners.bind(created.taskId, tasks.caller, created.ttlMs);
      if (kind === 'create') tasks.created?.(key, created.taskId);
      return result;
    }
    if (kind !== 'list' && !(this.active && isTaskList(result))) return undefined;
    if (!isRecord(result)) return { tasks: [] };
    return pruneTaskList(result, (id) => tasks.owners.mayList(id, tasks.caller)).result;
  }

  /** Rewrites a JSON body; null when it is not JSON (a JSON reply then fails closed, see `forward`). */
  rewriteJson(text: string): string | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    const out = this.rewriteMessage(parsed);
    return out === parsed ? text : rewrittenText(text, parsed, out);
  }

  /**
   * SSE event rewrite: only `message` events are changed, and only list replies, task replies and the server
   * notifications the caller may not be told of (`notifications`: dropped, from a batch or as the whole
   * event, null). Empty data (the priming event of 2025-11-25 streams, which carries only an id) passes as
   * it is; other data that is not JSON is replaced by `{}` rather than passed unfiltered to a client whose
   * parser might be more lenient.
   */
  readonly rewriteEvent = (event: EventSourceMessage): string | null => {
    if (event.id !== undefined) this.lastEventId = event.id;
    if (event.event !== undefined && event.event !== 'message') return event.data;
    if (!(this.active || this.#replies || this.#sent) || event.data.trim() === '') return event.data;
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return '{}';
    }
    if (this.#replies) this.#seeReplies(this.#replies, parsed);
    this.#sent?.(parsed);
    const told = this.#withoutRefusedNotifications(parsed);
    if (told === undefined) return null;
    const out = this.rewriteMessage(told, event.id);
    return out === parsed ? event.data : rewrittenText(event.data, parsed, out);
  };

  /** Tells `replies` of each response in a message or batch (an id, and a result or an error). */
  #seeReplies(replies: (key: string) => void, msg: unknown): void {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (isRecord(m) && 'id' in m && ('result' in m || 'error' in m) && m.id !== null)
        replies(idKey(m.id as JsonRpcId));
    }
  }

  /**
   * The message (or batch) less the server notifications the caller may not be told of; undefined when
   * nothing is left. A batch keeps its other messages: a response beside a refused notification is still
   * the answer its client waits for.
   */
  #withoutRefusedNotifications(msg: unknown): unknown {
    const check = this.#notifications;
    if (!check) return msg;
    const refused = (m: unknown): boolean =>
      isRecord(m) && typeof m.method === 'string' && !('id' in m) && !check(m.method, m.params);
    if (!Array.isArray(msg)) return refused(msg) ? undefined : msg;
    const kept = msg.filter((m) => !refused(m));
    if (kept.length === msg.length) return msg;
    return kept.length > 0 ? kept : undefined;
  }
}
