/**
 * The log lines a revision says once each: an unknown obligation, a `visible` failure, a `decision` failure
 * (each failing request is still denied and audited as an `evaluation_error`; the log says each error once). They are remembered by
 * their text, and a text may come from the input (an obligation named after the called tool, a builtin error
 * quoting an argument), so each kind remembers at most {@link MAX_WARNED} texts and then says, once, that
 * further ones go unlogged. The kinds are counted apart: a caller filling one with texts of its choosing
 * cannot silence the other (a `visible` that fails for every list item is still logged), and the operator
 * reading the log learns that lines were left out rather than seeing the log just stop.
 *
 * @module
 */
import type { Logger } from '../telemetry/logger.js';

/** Different texts one kind logs per revision. */
export const MAX_WARNED = 100;

/** Each kind: its log level, its line for a text, and what its lines are about (for the last one). */
const KINDS = {
  obligation: {
    level: 'warn',
    msg: (text: string) => `policy decision: ${text}`,
    about: 'unknown obligations',
  },
  visible: {
    level: 'error',
    msg: () => 'policy visibility evaluation failed',
    about: 'visibility evaluation failures',
  },
  evaluation: {
    level: 'error',
    msg: () => 'policy evaluation failed',
    about: 'decision evaluation failures',
  },
} as const;

export type WarnKind = keyof typeof KINDS;

export class WarnOnce {
  readonly #logger: Logger;
  readonly #revision: string;
  readonly #seen: Record<WarnKind, Set<string>> = {
    obligation: new Set(),
    visible: new Set(),
    evaluation: new Set(),
  };
  /** Kinds past {@link MAX_WARNED} texts (that said so). */
  readonly #full = new Set<WarnKind>();

  constructor(logger: Logger, revision: string) {
    this.#logger = logger;
    this.#revision = revision;
  }

  /**
   * Logs the line of `kind` for `text` (with `fields`) the first time `text` comes in this revision; once the
   * kind holds {@link MAX_WARNED} texts, a new one logs, the first time only, that further ones are not logged.
   * A text said before costs one lookup (an unknown obligation can be in every decision).
   */
  say(kind: WarnKind, text: string, fields?: object): void {
    const seen = this.#seen[kind];
    if (seen.has(text) || this.#full.has(kind)) return;
    const { level, msg, about } = KINDS[kind];
    if (seen.size < MAX_WARNED) {
      seen.add(text);
      this.#logger[level]({ revision: this.#revision, ...fields }, msg(text));
      return;
    }
    this.#full.add(kind);
    this.#logger[level](
      { revision: this.#revision },
      `policy: ${MAX_WARNED} different ${about} logged for this revision; further ones are not logged`,
    );
  }
}
