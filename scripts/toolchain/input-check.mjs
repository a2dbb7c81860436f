/**
 * Type-checks a policy folder's Rego against the JSON Schema of the sidecar's policy input, as
 * `opa check --schema` does (policyc takes the same flags). A field the input never has, such as
 * `input.subject.teant` or `input.resource.annotations.readOnlyHnt`, is then an error naming the field and
 * the ones there are, before anything is built or tested; without it, the reference is undefined on every
 * request and the rule that reads it silently never applies. Test files are left out: their inputs are
 * written by hand (`with input as`), and OPA does not check those against the schema anyway.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { TEST_GLOB } from './bundle.mjs';
import { INPUT_SCHEMA } from './config.mjs';
import { ToolchainError, toolFailure } from './errors.mjs';
import { shortPath } from './files.mjs';
import { run } from './process.mjs';

/**
 * Runs the check inside `src` (on `.`, as build and test run) with the capabilities in `capsFile`. `schema`:
 * the schema file (default the sidecar's), or false to skip. Throws a ToolchainError saying `what` failed,
 * with the tool's output, when the check fails.
 * @param {{ bin: string }} tc @param {string} src @param {string} capsFile @param {string} what
 * @param {string | false} [schema]
 */
export async function checkInputSchema(tc, src, capsFile, what, schema = INPUT_SCHEMA) {
  if (schema === false) return;
  if (!existsSync(schema)) throw new ToolchainError(`input schema ${shortPath(schema)} does not exist`);
  const args = ['check', '--schema', schema, '--capabilities', capsFile, '--ignore', TEST_GLOB, '.'];
  const res = await run(tc.bin, args, { cwd: src });
  if (res.code === 0) return;
  const output = res.stderr + res.stdout;
  throw new ToolchainError(toolFailure(what, output), { output });
}
