/**
 * Rewrites upstream replies for one request: JSON-RPC responses to list requests are pruned with the
 * `visible` entrypoint, and every complete `tools/list` teaches the annotation cache. Works on a JSON body
 * (one message or a batch) and, through `rewriteEvent`, on each SSE event.
 *
 * @module
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { isRecord, type JsonRpcId } from './action.js';
import type { AnnotationCache } from './annotations.js';
import { filterListResult, type ListMethod, toolAnnotations, type VisibleFn } from './list-filter.js';

export function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

/** Starts timing one list reply's pruning (a trace span); the result is called with kept and removed. */
export type FilterTimer = () => ((kept: number, removed: number) => void) | undefined;

export class ReplyFilter {
  readonly #pending: ReadonlyMap<string, ListMethod>;
  readonly #visible: VisibleFn;
  readonly #annotations: AnnotationCache;
  readonly #timer: FilterTimer | undefined;

  constructor(
    pending: ReadonlyMap<string, ListMethod>,
    visible: VisibleFn,
    annotations: AnnotationCache,
    timer?: FilterTimer,
  ) {
    this.#pending = pending;
    this.#visible = visible;
    this.#annotations = annotations;
    this.#timer = timer;
  }

  /** True when some reply needs rewriting (a list request is pending). */
  get active(): boolean {
    return this.#pending.size > 0;
  }

  /** Rewrites one parsed JSON-RPC message (or batch); returns the same object when nothing applies. */
  rewriteMessage(msg: unknown): unknown {
    if (Array.isArray(msg)) return msg.map((m) => this.rewriteMessage(m));
    if (!isRecord(msg) || !('result' in msg) || !('id' in msg)) return msg;
    const method = this.#pending.get(idKey(msg.id as JsonRpcId));
    if (!method) return msg;
    const done = this.#timer?.();
    if (method === 'tools/list') this.#annotations.learn(toolAnnotations(msg.result));
    const filtered = filterListResult(method, msg.result, this.#visible);
    done?.(filtered.kept, filtered.total - filtered.kept);
    return { ...msg, result: filtered.result };
  }

  /** Rewrites a JSON body. A body that is not JSON is replaced by nothing rather than passed unfiltered. */
  rewriteJson(text: string): string | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    return JSON.stringify(this.rewriteMessage(parsed));
  }

  /** SSE event rewrite: only `message` events carrying a pending response are changed. */
  readonly rewriteEvent = (event: EventSourceMessage): string => {
    if (event.event !== undefined && event.event !== 'message') return event.data;
    if (!this.active) return event.data;
    return this.rewriteJson(event.data) ?? '{}';
  };
}
