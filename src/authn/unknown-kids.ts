/**
 * Which kids, missing from the key set fetched last, may name a key the issuer has just added: a token
 * naming one is refused without counting as a failed authentication (see `jwks.ts`).
 *
 * @module
 */

/** How many kids a cooldown window may leave uncounted, and how many confirmed-unknown kids are remembered. */
const MAX_NEW_KIDS_PER_WINDOW = 3;
const MAX_CONFIRMED_UNKNOWN = 1_000;

/**
 * Which unknown kids may be a key the issuer has just added (a refusal not counted as a failed login): at
 * most {@link MAX_NEW_KIDS_PER_WINDOW} per cooldown window — a rotation adds one, a token sprayer inventing
 * kids gets no more — and never one that a fetch after its first sight still lacked.
 */
export class UnknownKids {
  #window = new Set<string>();
  readonly #confirmed = new Set<string>();

  newWindow(): void {
    this.#window.clear();
  }

  confirm(kid: string): void {
    if (this.#confirmed.size >= MAX_CONFIRMED_UNKNOWN) {
      const oldest = this.#confirmed.values().next().value;
      if (oldest !== undefined) this.#confirmed.delete(oldest);
    }
    this.#confirmed.add(kid);
  }

  mayBeNew(kid: string): boolean {
    if (this.#confirmed.has(kid)) return false;
    if (this.#window.has(kid)) return true;
    if (this.#window.size >= MAX_NEW_KIDS_PER_WINDOW) return false;
    this.#window.add(kid);
    return true;
  }
}
