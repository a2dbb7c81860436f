/**
 * A doubly linked list for what the request path adds and removes once per request (the replies still
 * open). Not a `Set` or `Map`: one that lives long rebuilds its hash table every few dozen adds and deletes,
 * and a replaced table that had reached V8's old generation still points at what it held, which kept every
 * finished request's objects (its `IncomingMessage`, headers and `ServerResponse`: ~3 KB) alive through every
 * scavenge until the next full collection. A removed node is unlinked both ways and emptied, so nothing
 * long-lived keeps its value.
 *
 * @module
 */

/** One value's place in a list (handed back by {@link LinkedList.add} to remove it). */
export interface ListNode<T> {
  value: T | null;
  prev: ListNode<T> | null;
  next: ListNode<T> | null;
}

export class LinkedList<T> implements Iterable<T> {
  #head: ListNode<T> | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(value: T): ListNode<T> {
    const node: ListNode<T> = { value, prev: null, next: this.#head };
    if (this.#head !== null) this.#head.prev = node;
    this.#head = node;
    this.#size++;
    return node;
  }

  /** Removes `node` (once; again does nothing). */
  remove(node: ListNode<T>): void {
    if (node.value === null) return;
    if (node.prev !== null) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
    node.value = null;
    this.#size--;
  }

  /** The values, newest first; the one just yielded may be removed meanwhile. */
  *[Symbol.iterator](): Iterator<T> {
    for (const n of this.nodes()) yield n.value as T;
  }

  /** The nodes, newest first; the one just yielded may be removed meanwhile. */
  *nodes(): Generator<ListNode<T>> {
    for (let n = this.#head; n !== null; ) {
      const next = n.next;
      if (n.value !== null) yield n;
      n = next;
    }
  }
}
