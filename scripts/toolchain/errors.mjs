/**
 * The one error type of the policy toolchain: every failure the CLI should report as a message (not a stack)
 * is a ToolchainError, optionally carrying the output of the tool that failed. scripts/helm-render.mjs
 * throws it too, so both CLIs print failures the same way.
 *
 * @module
 */

export class ToolchainError extends Error {
  /** @param {string} message @param {{ cause?: unknown, output?: string }} [opts] */
  constructor(message, opts = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    /** Output of the failing tool, if any. */
    this.output = opts.output ?? '';
  }
}
