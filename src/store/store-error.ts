/**
 * The one error type the store throws. Its message says which operation failed and why, in words safe
 * to log (no secrets, no URL password, no command arguments); callers map it (authn → 503).
 *
 * @module
 */

export class StoreError extends Error {
  /** The store operation that failed, e.g. `getApiKey`. */
  readonly operation: string;

  constructor(operation: string, message: string) {
    super(`store ${operation} failed: ${message}`);
    this.name = new.target.name;
    this.operation = operation;
  }
}
