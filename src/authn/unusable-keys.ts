/**
 * A key of the issuer's set that cannot be used — malformed (an EC point that is not on its curve), a
 * private key, one jose refuses to import — makes the tokens naming it invalid (401), not the issuer
 * unreachable (503, and a fetch-failure cooldown). jose lets the import's own error (a `DOMException`, a
 * `TypeError`) through just as it lets fetch's through, so after such a failure the key resolver asks here
 * whether the set held has a key for the token that fails on its own: then the key is at fault, not the
 * fetch. Each such kid is reported once (for the log), not on every request naming it.
 *
 * @module
 */
import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWTHeaderParameters,
} from 'jose';

/** The key set holds the key the token names, but that key cannot be used: the token is invalid. */
export class UnusableKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** How many kids are remembered as reported; the set's own kids, so only a long-lived misbehaving issuer fills it. */
const MAX_REPORTED = 1_000;
/** A reason longer than this is cut (an import error's message names no key material, but need not be short). */
const MAX_REASON = 200;

export class UnusableKeys {
  readonly #reported = new Set<string>();
  readonly #report: ((kid: string, reason: string) => void) | undefined;

  constructor(report?: (kid: string, reason: string) => void) {
    this.#report = report;
  }

  /**
   * The error to refuse the token with when `set`'s key for it cannot be used; undefined when the set has no
   * key for it, or one that can be used (the failure being checked was then not the key's).
   */
  async check(
    set: JSONWebKeySet | undefined,
    header: JWTHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<UnusableKeyError | undefined> {
    if (!set) return undefined;
    try {
      await createLocalJWKSet(set)(header, token);
      return undefined;
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
        return undefined;
      }
      const kid = typeof header.kid === 'string' ? header.kid : '';
      if (!this.#reported.has(kid)) {
        if (this.#reported.size >= MAX_REPORTED) this.#reported.clear();
        this.#reported.add(kid);
        this.#report?.(kid, reasonOf(err));
      }
      return new UnusableKeyError("the token's key in the key set cannot be used", { cause: err });
    }
  }
}

function reasonOf(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown };
  const text = `${typeof e.name === 'string' ? e.name : 'Error'}: ${String(e.message ?? err)}`;
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text;
}
