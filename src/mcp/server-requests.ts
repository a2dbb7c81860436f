/**
 * The server's own requests (sampling, elicitation, roots, ping) seen on a session's event streams, by id,
 * so the client's answer to each passes the rate limit free, once, while a response answering none of them
 * (made up: nothing else ties a response to a request the server made) takes a token from the caller's
 * notifications bucket. Kept per session, with its binding (Streamable HTTP) or its stream (legacy SSE).
 * An id answered is remembered as answered: a stream resumed with `Last-Event-ID` replays the request, and
 * must not make its answer free again.
 *
 * @module
 */
import { isRecord, type JsonRpcId } from './action.js';
import type { ParsedBody } from './jsonrpc.js';
import { idKey } from './reply-filter.js';

/** Ids remembered per session, noted and answered each (the oldest forgotten first). */
export const MAX_SERVER_REQUESTS = 256;

function addBounded(set: Set<string>, key: string): void {
  if (set.size >= MAX_SERVER_REQUESTS) set.delete(set.values().next().value as string);
  set.add(key);
}

export class ServerRequestIds {
  readonly #noted = new Set<string>();
  readonly #answered = new Set<string>();

  /** Notes the server requests (an id and a method) a message or batch sent to the client carries. */
  note(msg: unknown): void {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (!isRecord(m) || typeof m.method !== 'string' || !('id' in m) || m.id === null) continue;
      const key = idKey(m.id as JsonRpcId);
      if (!this.#noted.has(key) && !this.#answered.has(key)) addBounded(this.#noted, key);
    }
  }

  /** Whether a response under `key` would answer a request noted and not answered yet. */
  awaits(key: string): boolean {
    return this.#noted.has(key);
  }

  /**
   * The body's responses are forwarded: those answering a noted request are answered now. Returns their keys
   * (undefined when none), for {@link unanswered} should the body not reach the upstream after all.
   */
  answered(parsed: ParsedBody | undefined): string[] | undefined {
    let keys: string[] | undefined;
    for (const m of parsed?.messages ?? []) {
      if (m.kind !== 'response') continue;
      const key = idKey(m.id);
      if (this.#noted.delete(key)) {
        addBounded(this.#answered, key);
        keys ??= [];
        keys.push(key);
      }
    }
    return keys;
  }

  /**
   * The body {@link answered} returned `keys` for was never forwarded (pipelined behind a reply that closed
   * its connection, or its client left first): the server still awaits those answers, and the client's
   * retry of them passes free again.
   */
  unanswered(keys: readonly string[]): void {
    for (const key of keys) if (this.#answered.delete(key)) addBounded(this.#noted, key);
  }
}

/**
 * How many messages of a body take a token from the notifications bucket: its notifications, and its
 * responses but the first answering each request noted in `ids` (the caller's session's) and not answered.
 */
export function chargedUndecided(parsed: ParsedBody | undefined, ids: ServerRequestIds | undefined): number {
  let n = 0;
  let freed: Set<string> | undefined;
  for (const m of parsed?.messages ?? []) {
    if (m.kind === 'notification') n++;
    else if (m.kind === 'response') {
      const key = idKey(m.id);
      if (ids?.awaits(key) && !freed?.has(key)) {
        freed ??= new Set();
        freed.add(key);
      } else n++;
    }
  }
  return n;
}
