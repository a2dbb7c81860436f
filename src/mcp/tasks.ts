/**
 * MCP tasks on the wire (2025-11-25 task-augmented requests; the 2026-07-28 tasks extension): which
 * requests may create a task, which name one, where a reply carries a new task's id and lifetime, and the
 * `tasks/list` result. The binding of tasks to callers is `task-owners.ts`.
 *
 * @module
 */
import { isRecord } from './action.js';
import { listenList } from './subscriptions.js';

/** Methods that address one task by `params.taskId` (2026-07-28 adds `tasks/update`, drops `tasks/result`). */
export const TASK_METHODS: ReadonlySet<string> = new Set([
  'tasks/get',
  'tasks/result',
  'tasks/cancel',
  'tasks/update',
]);

export const TASK_LIST_METHOD = 'tasks/list';

/** The per-request client capabilities of 2026-07-28, and the tasks extension's identifier in them. */
const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * The `taskId` a task method names: a string, or null when the request names none (or not as a string).
 * Undefined for any other method.
 */
export function namedTaskId(method: string, params: unknown): string | null | undefined {
  if (!TASK_METHODS.has(method)) return undefined;
  const id = isRecord(params) ? params.taskId : undefined;
  return typeof id === 'string' && id !== '' ? id : null;
}

/**
 * The `_meta` member that ties a message to a task (2025-11-25). The MCP TypeScript SDK's server queues the
 * reply to a request naming one into that task's messages (delivered by its `tasks/result`), hands the id to
 * the handler (`extra.taskId`), and marks the task `input_required` when the handler asks the client something.
 */
export const RELATED_TASK_META = 'io.modelcontextprotocol/related-task';

/** The task a message's `params._meta` relates it to, when it names one by a non-empty string `taskId`. */
export function relatedTaskId(params: unknown): string | undefined {
  const meta = isRecord(params) && isRecord(params._meta) ? params._meta[RELATED_TASK_META] : undefined;
  const id = isRecord(meta) ? meta.taskId : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * The tasks a `subscriptions/listen` asks to be notified of (each notification carries the task's whole
 * state, its result included): none when it names no `notifications.taskIds`, null when they are not a
 * list of task ids. Undefined for any other method.
 */
export function subscribedTaskIds(method: string, params: unknown): readonly string[] | null | undefined {
  return listenList(method, params, 'taskIds');
}

/**
 * The one request a server may answer with a new task: `tasks.requests.tools.call` is the only server-side
 * task augmentation of 2025-11-25, and `tools/call` the only method the 2026-07-28 extension supports.
 */
export const TASK_CREATING_METHOD = 'tools/call';

/**
 * Whether the upstream may answer this request with a new task: a `tools/call` that asks for one
 * (`params.task`, 2025-11-25), or whose client declares the tasks extension in the request's capabilities
 * (2026-07-28, where the server chooses per call). A 2026-07-28 client declares its capabilities in every
 * request: any other method's reply is no task (nor read whole for one).
 */
export function mayCreateTask(method: string, params: unknown): boolean {
  if (method !== TASK_CREATING_METHOD || !isRecord(params)) return false;
  if (isRecord(params.task)) return true;
  const meta = isRecord(params._meta) ? params._meta[CLIENT_CAPABILITIES_META] : undefined;
  const extensions = isRecord(meta) ? meta.extensions : undefined;
  return isRecord(extensions) && TASKS_EXTENSION in extensions;
}

export interface CreatedTask {
  readonly taskId: string;
  /** The lifetime the upstream granted in ms; null: unlimited; undefined: not said. */
  readonly ttlMs: number | null | undefined;
}

/**
 * The task a result creates: a `CreateTaskResult` (`result.task`, 2025-11-25), or a result of
 * `resultType: "task"` carrying the task flat or under `task` (2026-07-28). Undefined for any other result.
 */
export function createdTask(result: unknown): CreatedTask | undefined {
  if (!isRecord(result)) return undefined;
  const task = isRecord(result.task) ? result.task : result.resultType === 'task' ? result : undefined;
  if (!task || typeof task.taskId !== 'string' || task.taskId === '') return undefined;
  const ttl = 'ttlMs' in task ? task.ttlMs : task.ttl;
  const ttlMs = ttl === null ? null : typeof ttl === 'number' && ttl >= 0 ? ttl : undefined;
  return { taskId: task.taskId, ttlMs };
}

/** Whether a result carries a task list (`tasks/list`, 2025-11-25). */
export function isTaskList(result: unknown): boolean {
  return isRecord(result) && 'tasks' in result;
}

export interface TaskListOutcome {
  readonly result: Record<string, unknown>;
  readonly total: number;
  readonly kept: number;
}

/**
 * A `tasks/list` result with only the tasks `keep` accepts (by `taskId`); an entry without one, or a
 * `tasks` field that is not an array, is dropped (fail closed). `nextCursor` and the rest pass.
 */
export function pruneTaskList(
  result: Record<string, unknown>,
  keep: (taskId: string) => boolean,
): TaskListOutcome {
  const tasks = Array.isArray(result.tasks) ? result.tasks : [];
  const kept = tasks.filter((t) => isRecord(t) && typeof t.taskId === 'string' && keep(t.taskId));
  return { result: { ...result, tasks: kept }, total: tasks.length, kept: kept.length };
}
