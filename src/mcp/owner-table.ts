/**
 * A bounded table of ids bound to owners (owner keys from `ownerKey`), oldest first, with each owner's ids
 * indexed: what the session table and the task table share. Past `perOwner` ids, the owner's oldest goes;
 * past `max` in all, the oldest of anyone's. What the bounds push out is reported to `onEvict`; what is
 * removed on purpose is not.
 *
 * @module
 */

export class OwnerTable<B extends { readonly owner: string }> {
  /** Oldest (or least recently used, see {@link touch}) first. */
  readonly #entries = new Map<string, B>();
  /** Each owner's ids, in the same order. */
  readonly #byOwner = new Map<string, Set<string>>();
  readonly #max: number;
  readonly #perOwner: number;
  readonly #onEvict: ((id: string, binding: B) => void) | undefined;

  /** `what` names the entries in the error for caps below 1 (an entry just bound would go at once). */
  constructor(what: string, max: number, perOwner: number, onEvict?: (id: string, binding: B) => void) {
    if (!(max >= 1 && perOwner >= 1)) throw new TypeError(`${what} caps must be at least 1`);
    this.#max = max;
    this.#perOwner = perOwner;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): B | undefined {
    return this.#entries.get(id);
  }

  /** The entries, oldest first (one may be removed while they are walked). */
  oldestFirst(): MapIterator<[string, B]> {
    return this.#entries.entries();
  }

  /** The oldest entry, or undefined when empty. */
  oldest(): [string, B] | undefined {
    return this.#entries.entries().next().value;
  }

  /** Binds `id` anew (as the youngest), then keeps both bounds. */
  set(id: string, binding: B): void {
    this.remove(id);
    this.#entries.set(id, binding);
    let mine = this.#byOwner.get(binding.owner);
    if (!mine) {
      mine = new Set();
      this.#byOwner.set(binding.owner, mine);
    }
    mine.add(id);
    if (mine.size > this.#perOwner) this.evict(mine.values().next().value as string);
    if (this.#entries.size > this.#max) this.evict(this.#entries.keys().next().value as string);
  }

  /** Moves `id` to the young end, so the bounds push out idle entries first. */
  touch(id: string): void {
    const b = this.#entries.get(id);
    if (b === undefined) return;
    this.#entries.delete(id);
    this.#entries.set(id, b);
    const mine = this.#byOwner.get(b.owner);
    mine?.delete(id);
    mine?.add(id);
  }

  /** Forgets `id` without reporting it; returns what it was bound to. */
  remove(id: string): B | undefined {
    const b = this.#entries.get(id);
    if (b === undefined) return undefined;
    this.#entries.delete(id);
    const mine = this.#byOwner.get(b.owner);
    mine?.delete(id);
    if (mine?.size === 0) this.#byOwner.delete(b.owner);
    return b;
  }

  /** Forgets `id` and reports it to `onEvict`. */
  evict(id: string): void {
    const b = this.remove(id);
    if (b !== undefined) this.#onEvict?.(id, b);
  }
}
