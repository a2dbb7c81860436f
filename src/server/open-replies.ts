/**
 * The replies of the public listener still open, for the shutdown to mark them `Connection: close`. A
 * linked list rather than a `Set`: the sidecar adds and deletes one reply per request, and a long-lived
 * `Set` rebuilds its hash table every few dozen of those; a replaced table that had reached the old
 * generation still points at the replies it held, which kept every finished request's objects (its
 * `IncomingMessage`, headers and `ServerResponse`, ~3 KB) alive through every scavenge until the next full
 * collection. A removed node is unlinked both ways and emptied, so nothing long-lived keeps a reply.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';

/** One open reply's place in the list (handed back by {@link OpenReplies.add} to remove it). */
export interface OpenReply {
  res: ServerResponse | null;
  prev: OpenReply | null;
  next: OpenReply | null;
}

export class OpenReplies implements Iterable<ServerResponse> {
  #head: OpenReply | null = null;

  add(res: ServerResponse): OpenReply {
    const node: OpenReply = { res, prev: null, next: this.#head };
    if (this.#head !== null) this.#head.prev = node;
    this.#head = node;
    return node;
  }

  /** Removes `node` (once; again does nothing). */
  remove(node: OpenReply): void {
    if (node.res === null) return;
    if (node.prev !== null) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
    node.res = null;
  }

  *[Symbol.iterator](): Iterator<ServerResponse> {
    for (let n = this.#head; n !== null; n = n.next) if (n.res !== null) yield n.res;
  }
}
