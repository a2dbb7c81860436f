/**
 * Request ids in flight per Streamable HTTP session. MCP forbids reusing a request id within a session,
 * and the upstream routes each reply to the POST that sent its id last: a caller who sent `tools/call`
 * with the id of its own pending `tools/list` got the list reply on that POST, where no list request was
 * pending and nothing was pruned. A request whose id is still in flight in its session is therefore
 * refused; ids are released when the request finishes.
 *
 * @module
 */
import type { JsonRpcMessage } from './jsonrpc.js';

/** A session holding more ids than this in flight is refused more (a caller's own flood, not a client). */
export const MAX_IN_FLIGHT_PER_SESSION = 10_000;

/**
 * How long the ids of a request cut off before its reply (the client left, the upstream timed out) stay
 * claimed: the upstream may still answer them, and that late reply must not reach a new request reusing
 * the id. MCP clients never reuse ids in a session, so only a caller probing for this waits.
 */
export const LATE_REPLY_GRACE_MS = 5 * 60_000;

/** Releases a request's ids, at once or after `delayMs`. */
export type Release = (delayMs?: number) => void;

export class InFlightIds {
  readonly #bySession = new Map<string, Set<string>>();

  /**
   * Claims the request ids of `messages` for `session`; returns a refusal (the id already in flight, or
   * that the session is full) and claims nothing then, or a function that releases what was claimed.
   */
  claim(
    session: string,
    messages: readonly JsonRpcMessage[],
  ): { readonly release: Release } | { readonly refused: string } {
    const ids: string[] = [];
    for (const m of messages) if (m.kind === 'request') ids.push(String(m.id));
    if (ids.length === 0) return { release: noop };
    let set = this.#bySession.get(session);
    for (const id of ids) {
      if (set?.has(id)) return { refused: `request id ${id} is already in flight in this session` };
    }
    if ((set?.size ?? 0) + ids.length > MAX_IN_FLIGHT_PER_SESSION) {
      return { refused: `over ${MAX_IN_FLIGHT_PER_SESSION} requests are in flight in this session` };
    }
    if (!set) {
      set = new Set();
      this.#bySession.set(session, set);
    }
    for (const id of ids) set.add(id);
    const held = set;
    let released = false;
    const free = () => {
      for (const id of ids) held.delete(id);
      if (held.size === 0 && this.#bySession.get(session) === held) this.#bySession.delete(session);
    };
    return {
      release: (delayMs = 0) => {
        if (released) return;
        released = true;
        if (delayMs > 0) setTimeout(free, delayMs).unref();
        else free();
      },
    };
  }

  /** Sessions with requests in flight (tests). */
  get sessions(): number {
    return this.#bySession.size;
  }
}

function noop(): void {}
