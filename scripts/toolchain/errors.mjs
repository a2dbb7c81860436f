/**
 * The one error type of the policy toolchain: every failure the CLI should report as a message (not a stack)
 * is a ToolchainError, optionally carrying the output of the tool that failed. scripts/helm-render.mjs
 * throws it too, so both CLIs print failures the same way. `toolFailure` words the message of a failed Rego
 * compile with the hints its output calls for.
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

/**
 * Appended to a failure whose output has an "undefined function": OPA says the same for a typo and for a
 * builtin left out of the capabilities, and the second is the surprise for a policy author.
 */
const UNDEFINED_FUNCTION_HINT =
  'an undefined function is a typo or a builtin the JS wasm runtime (opa-wasm) does not implement: policies ' +
  'compile against its capabilities, without time.*, crypto.*, io.jwt.*, http.send, net.lookup_ip_addr, ' +
  'uuid.*, semver.*, units.* (time comes from input.context; see policies/README.md)';

/** Appended to a failure whose output has an undefined input reference (the input schema's check). */
const UNDEFINED_INPUT_HINT =
  'an undefined ref to input is a field the sidecar never sends (schema/policy-input.json lists them): a ' +
  'misspelt name? An annotation outside MCP’s set is read with object.get(input.resource.annotations, ' +
  '"name", default); build or test with --no-input-schema to skip the check';

/** The failure message for `what`, with the hints the tool's output calls for. @param {string} what @param {string} output */
export function toolFailure(what, output) {
  const hints = [];
  if (/undefined function /.test(output)) hints.push(UNDEFINED_FUNCTION_HINT);
  if (/undefined ref: input\b/.test(output)) hints.push(UNDEFINED_INPUT_HINT);
  return [what, ...hints].join('\n');
}
