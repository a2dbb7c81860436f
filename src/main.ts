#!/usr/bin/env node
/**
 * The `mcp-authz` command: `serve`, `health`, `policy check|eval`, `keys create|list|revoke`, `tokens revoke`,
 * `blocks list|add|lift`, `report`.
 * Composition only; each command lives in `src/cli/`.
 *
 * @module
 */
import { Command } from 'commander';
import { register as registerBlocks } from './cli/blocks.js';
import { register as registerHealth } from './cli/health.js';
import { register as registerKeys } from './cli/keys.js';
import { register as registerPolicy } from './cli/policy.js';
import { register as registerReport } from './cli/report.js';
import { register as registerServe } from './cli/serve.js';
import { register as registerTokens } from './cli/tokens.js';
import { VERSION } from './version.js';

const program = new Command('mcp-authz')
  .description('Authorization sidecar for MCP servers')
  .version(VERSION, '-V, --version', 'print the version')
  .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
  .showHelpAfterError();

registerServe(program);
registerHealth(program);
registerPolicy(program);
registerKeys(program);
registerTokens(program);
registerBlocks(program);
registerReport(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`mcp-authz: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
