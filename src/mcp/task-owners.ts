/**
 * Binds MCP tasks to the caller who created them, as the MCP specification asks of a receiver with an
 * authorization context ("Task Isolation and Access Control"): the upstream behind the sidecar never sees
 * the caller's token, so the sidecar is where the binding can be kept. A task id learnt from the reply
 * that created it belongs to that caller (auth method, issuer, tenant, subject: `ownerKey`) for the task's
 * lifetime as the upstream granted it (capped, plus a minute's grace); `tasks/get`, `tasks/result`,
 * `tasks/cancel` and `tasks/update` naming it are refused to anyone else, and `tasks/list` replies keep only
 * the caller's own tasks (none of an anonymous caller's). A task id this sidecar never saw created (it restarted, the task was created
 * through another replica, or the bounded table forgot it) is refused by default; `forward` lets the
 * upstream decide (it is never listed). A task bound to another caller is refused either way.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import { MAX_TASK_BINDING_MS, MAX_TASKS_PER_CALLER, MAX_TRACKED_TASKS } from '../config/defaults.js';
import { ownerKey } from './owner-key.js';
import { OwnerTable } from './owner-table.js';

/** Kept past the lifetime the upstream granted: its own clean-up need not happen on the millisecond. */
export const TASK_BINDING_GRACE_MS = 60_000;
/** Expired bindings looked for at the old end of the table per `bind` (the rest go when asked for). */
const SWEEP_PER_BIND = 4;

export type UnknownTasks = 'reject' | 'forward';

export interface TaskOwnersOptions {
  /** Tasks in the table (default {@link MAX_TRACKED_TASKS}). */
  readonly max?: number;
  /** Tasks per caller (default {@link MAX_TASKS_PER_CALLER}); beyond it the caller's oldest is forgotten. */
  readonly perCaller?: number;
  /** The longest a binding is kept, whatever lifetime the upstream granted (default {@link MAX_TASK_BINDING_MS}). */
  readonly maxBindingMs?: number;
  readonly unknown?: UnknownTasks;
  readonly now?: () => number;
}

interface Binding {
  readonly owner: string;
  readonly expiresAt: number;
}

export class TaskOwners {
  /** Oldest binding first; each caller's tasks too. */
  readonly #tasks: OwnerTable<Binding>;
  readonly #maxBindingMs: number;
  readonly #unknown: UnknownTasks;
  readonly #now: () => number;

  constructor(opts: TaskOwnersOptions = {}) {
    this.#tasks = new OwnerTable<Binding>(
      'task',
      opts.max ?? MAX_TRACKED_TASKS,
      opts.perCaller ?? MAX_TASKS_PER_CALLER,
    );
    this.#maxBindingMs = opts.maxBindingMs ?? MAX_TASK_BINDING_MS;
    this.#unknown = opts.unknown ?? 'reject';
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Binds a task the upstream just created for `caller`, for `ttlMs` (null or undefined: the cap). A task
   * already bound to another caller keeps its owner (an upstream reusing an id must not hand it over).
   */
  bind(taskId: string, caller: Principal, ttlMs: number | null | undefined): void {
    const now = this.#now();
    this.#sweep(now);
    const owner = ownerKey(caller);
    const current = this.#live(taskId, now);
    if (current !== undefined && current.owner !== owner) return;
    const life = Math.min(ttlMs ?? this.#maxBindingMs, this.#maxBindingMs) + TASK_BINDING_GRACE_MS;
    this.#tasks.set(taskId, { owner, expiresAt: now + life });
  }

  /** True when `caller` created the task, or when it is unknown here and unknown tasks are forwarded. */
  mayUse(taskId: string, caller: Principal): boolean {
    const b = this.#live(taskId, this.#now());
    if (b === undefined) return this.#unknown === 'forward';
    return b.owner === ownerKey(caller);
  }

  /**
   * True when a `tasks/list` reply may show `caller` the task: `caller` created it. Never an unknown task,
   * even when unknown tasks are forwarded (a list would hand every caller the ids of all the tasks this
   * replica does not know: after a restart, everyone's), and none to anonymous callers, who are all one
   * caller and whose tasks are kept apart only by their ids being unguessable.
   */
  mayList(taskId: string, caller: Principal): boolean {
    if (caller.authMethod === 'anonymous') return false;
    return this.#live(taskId, this.#now())?.owner === ownerKey(caller);
  }

  /** The binding of `taskId` unless it expired (an expired one is dropped). */
  #live(taskId: string, now: number): Binding | undefined {
    const b = this.#tasks.get(taskId);
    if (b !== undefined && b.expiresAt <= now) {
      this.#tasks.remove(taskId);
      return undefined;
    }
    return b;
  }

  #sweep(now: number): void {
    for (let i = 0; i < SWEEP_PER_BIND; i++) {
      const oldest = this.#tasks.oldest();
      if (oldest === undefined || oldest[1].expiresAt > now) return;
      this.#tasks.remove(oldest[0]);
    }
  }
}
