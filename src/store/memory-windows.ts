/**
 * The memory store's sliding windows, by the rules of the Redis script (`redis-scripts.ts` WINDOW_SCRIPT):
 * each window keeps its running sum, its counts in a min-heap by time, and the counts that have an id by id,
 * so a hit costs O(log n) however many counts the window holds (a 1-day window holds one per flush, 86,400).
 * Counts at or before now − window leave the sum as they leave the heap; a hit with the id of an earlier one
 * replaces it (a retried count, `WindowHit.id`): the earlier one is taken off the sum and left in the heap as
 * dead until its time passes.
 *
 * @module
 */
import type { WindowCount, WindowHit } from './store.js';

interface Count {
  readonly at: number;
  readonly n: number;
  readonly id: string | undefined;
  /** False once replaced by a count with its id (then it is no longer in the sum). */
  live: boolean;
}

interface Window {
  /** Min-heap by `at`. */
  readonly heap: Count[];
  readonly byId: Map<string, Count>;
  sum: number;
  /** No new trip before this epoch ms. */
  tripUntil: number;
  /** The id of the hit that tripped last: sent again, it trips again (WindowHit.id). */
  tripBy?: string | undefined;
  /** Epoch ms after which the window is empty and can be dropped. */
  expiresAt: number;
}

const WINDOW_SWEEP_AT = 4_096;

export class MemoryWindows {
  readonly #windows = new Map<string, Window>();
  #sweepAt = WINDOW_SWEEP_AT;

  /** `Store.countInWindows`. */
  count(hits: readonly WindowHit[], nowMs: number): WindowCount[] {
    const results = hits.map((h) => this.#hit(h, nowMs));
    if (this.#windows.size >= this.#sweepAt) {
      for (const [k, w] of this.#windows) if (w.expiresAt <= nowMs) this.#windows.delete(k);
      this.#sweepAt = Math.max(WINDOW_SWEEP_AT, this.#windows.size * 2);
    }
    return results;
  }

  #hit(h: WindowHit, nowMs: number): WindowCount {
    let w = this.#windows.get(h.key);
    if (!w) {
      w = { heap: [], byId: new Map(), sum: 0, tripUntil: 0, expiresAt: 0 };
      this.#windows.set(h.key, w);
    }
    const cutoff = nowMs - h.windowMs;
    for (let top = w.heap[0]; top !== undefined && top.at <= cutoff; top = w.heap[0]) {
      pop(w.heap);
      if (!top.live) continue;
      w.sum -= top.n;
      if (top.id !== undefined) w.byId.delete(top.id);
    }
    if (h.id !== undefined) {
      const earlier = w.byId.get(h.id);
      if (earlier) {
        earlier.live = false;
        w.sum -= earlier.n;
      }
    }
    const c: Count = { at: h.atMs, n: h.count, id: h.id, live: true };
    push(w.heap, c);
    if (h.id !== undefined) w.byId.set(h.id, c);
    w.sum += h.count;
    w.expiresAt = Math.max(w.expiresAt, nowMs + h.windowMs);
    const count = w.sum;
    let tripped = false;
    if (count > h.threshold && w.tripUntil <= nowMs) {
      w.tripUntil = nowMs + h.windowMs;
      w.tripBy = h.id;
      w.expiresAt = Math.max(w.expiresAt, w.tripUntil);
      tripped = true;
    } else if (count > h.threshold && h.id !== undefined && h.id === w.tripBy) {
      tripped = true;
    }
    return { count, tripped };
  }
}

function push(heap: Count[], c: Count): void {
  let i = heap.push(c) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent] as Count;
    if (p.at <= c.at) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = c;
}

function pop(heap: Count[]): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const child = r < heap.length && (heap[r] as Count).at < (heap[l] as Count).at ? r : l;
    const c = heap[child] as Count;
    if (c.at >= last.at) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = last;
}
