/**
 * The configuration as every command but `serve` reads it: the file of `--config` (or `AUTHZ_CONFIG`) and
 * the `AUTHZ_*` overrides, checked as `serve` checks them. An `AUTHZ_*` variable no setting reads is named
 * on stderr first, as `serve` logs it at start: a misspelt override (`AUTHZ_POLICY_BUNLDE`) would otherwise
 * leave its setting at the default without a word, and a command would check, evaluate or write somewhere
 * else than the operator meant.
 *
 * @module
 */
import { processEnv, unknownEnvNames } from '../config/env.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { CliIo } from './table.js';

/** Loads the config for a command; throws `ConfigError` (printed one problem a line by `fail`). */
export function loadCliConfig(file: string | undefined, io: CliIo): Config {
  for (const name of unknownEnvNames(processEnv())) {
    io.err(`mcp-authz: warning: ${name} is no variable mcp-authz reads (a typo?); ignored\n`);
  }
  return loadConfig(file ? { file } : {});
}
