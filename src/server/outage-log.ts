/**
 * One log line per outage, not per request: the first failure of a run of failures is logged at warn, the
 * ones after it at debug (the metrics count every one), and the first success after them once at info. An
 * MCP server that is down would otherwise write a warn line for each call refused with 502 or 504.
 *
 * @module
 */
import type { Logger } from '../telemetry/logger.js';

export class OutageLog {
  readonly #logger: Logger;
  readonly #recovered: string;
  #down = false;

  /** `recovered` is the message logged when a success ends an outage. */
  constructor(logger: Logger, recovered: string) {
    this.#logger = logger;
    this.#recovered = recovered;
  }

  /** A failure: at warn when it starts an outage, else at debug. */
  failed(fields: Record<string, unknown>, message: string): void {
    if (this.#down) {
      this.#logger.debug(fields, message);
      return;
    }
    this.#down = true;
    this.#logger.warn(fields, `${message} (further failures are logged at debug until it answers again)`);
  }

  /** A success: ends the outage, if there was one. */
  succeeded(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger.info(this.#recovered);
  }
}
