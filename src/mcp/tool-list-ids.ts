/**
 * The `tools/list` requests one legacy HTTP+SSE session sent, so that the replies that answer them — which
 * come on the session's one event stream, among every other reply — teach the sidecar tool facts, and no
 * other reply does. A caller can have a tool answer with a result of its own making (an echo, a fetch of
 * JSON): sent under the id of its own pending `tools/list`, that answer would be the list's reply to a
 * filter matching ids alone.
 *
 * So every request id the session sends is followed until a response under it passes on the stream. The
 * legacy transport has no check of ids in flight (Streamable HTTP sessions have one: in-flight-ids.ts), so
 * a session that sends an id still awaiting its response (MCP forbids reusing one), one longer than
 * {@link MAX_FOLLOWED_ID_CHARS}, or more than {@link MAX_FOLLOWED_IDS} awaiting at once (requests cancelled
 * or never answered stay awaiting: a late answer may still come) teaches nothing more for the rest of its
 * life: which of two replies under one id answers the list cannot be told. Its tools are still learnt from
 * the sidecar's own discovery, and from other sessions' lists.
 *
 * `1` and `"1"` are one id here, as in a batch (`jsonrpc.ts`) and in a Streamable HTTP session: an upstream
 * may write an id back as the other type (a PHP array key, a string map), and would then answer a caller's
 * `tools/call` `"1"` under the id of its `tools/list` `1`. Sending both is a reuse; a response under either
 * spelling answers the one request awaiting under it.
 *
 * Nor does the reply to a `tools/list` sent before the upstream said its tools changed teach (the annotation
 * cache's `generation` moved on since): it may list them as they were, and would undo the forgetting
 * (annotations.ts), as a Streamable HTTP POST's reply would (reply-filter.ts).
 *
 * @module
 */
import type { JsonRpcMessage } from './jsonrpc.js';
import type { ListMethod } from './list-filter.js';
import { idKey } from './reply-filter.js';

/** Request ids followed per session, awaiting their responses; beyond it the session teaches nothing more. */
export const MAX_FOLLOWED_IDS = 1_024;

/** Ids longer than this are not followed (the session teaches nothing more), rather than held. */
export const MAX_FOLLOWED_ID_CHARS = 128;

/** What an id is followed under: its text, the same for `1` and `"1"`; undefined for no request's id. */
function followed(id: unknown): string | undefined {
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

export class ToolListIds {
  /** Ids ({@link followed}) of the requests sent whose response has not passed yet; undefined once untrusted. */
  #awaiting: Set<string> | undefined = new Set();
  /** Those of `#awaiting` that are `tools/list` requests, each with the generation it was sent under. */
  readonly #lists = new Map<string, number>();
  /** The annotation cache's generation (`AnnotationCache.generation`): a list sent under another teaches nothing. */
  readonly #generation: () => number;

  constructor(generation: () => number) {
    this.#generation = generation;
  }

  /** Whether the session still teaches (tests). */
  get following(): boolean {
    return this.#awaiting !== undefined;
  }

  /**
   * Notes the requests of a POST about to be forwarded, `lists` its list requests the policy let through (by
   * id key, `idKey`); returns the ids noted, for {@link unsent}.
   */
  sent(messages: readonly JsonRpcMessage[], lists: ReadonlyMap<string, ListMethod>): string[] {
    const noted: string[] = [];
    for (const m of messages) {
      const awaiting = this.#awaiting;
      if (awaiting === undefined) break;
      if (m.kind !== 'request') continue;
      const key = String(m.id);
      if (awaiting.has(key) || key.length > MAX_FOLLOWED_ID_CHARS || awaiting.size >= MAX_FOLLOWED_IDS) {
        this.#untrust();
        break;
      }
      awaiting.add(key);
      noted.push(key);
      if (lists.size > 0 && lists.get(idKey(m.id)) === 'tools/list') this.#lists.set(key, this.#generation());
    }
    return noted;
  }

  /** Forgets requests that never reached the upstream (their POST failed before the upstream had it whole). */
  unsent(keys: readonly string[]): void {
    for (const key of keys) {
      this.#awaiting?.delete(key);
      this.#lists.delete(key);
    }
  }

  /**
   * A response (result or error) under `id` passed on the stream: true when it answers a `tools/list` the
   * session sent since the upstream last said its tools changed, whose tools are then learnt.
   */
  answered(id: unknown): boolean {
    const key = followed(id);
    if (key === undefined || !this.#awaiting?.delete(key)) return false;
    const generation = this.#lists.get(key);
    this.#lists.delete(key);
    return generation === this.#generation();
  }

  #untrust(): void {
    this.#awaiting = undefined;
    this.#lists.clear();
  }
}
