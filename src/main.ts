#!/usr/bin/env node
/**
 * The `mcp-authz` command: `serve`, `config check`, `health`, `policy check|eval`, `keys create|list|revoke`, `tokens revoke`,
 * `blocks list|add|lift`, `report`.
 * Composition only; each command lives in `src/cli/`, and only the one invoked is loaded (see
 * `cli/command-name.ts`).
 *
 * @module
 */
import { Command } from 'commander';
import { COMMANDS, type CommandName, commandsToLoad } from './cli/command-name.js';
import { VERSION } from './version.js';

const program = new Command('mcp-authz')
  .description('Authorization sidecar for MCP servers')
  .version(VERSION, '-V, --version', 'print the version')
  .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
  // The program's options come before the command only: taken anywhere, an option value after it that
  // starts with -V (`--description "-Vault key"`) printed the version and exited 0, creating nothing.
  .enablePositionalOptions()
  .showHelpAfterError();

const modules: Record<CommandName, () => Promise<{ register(program: Command): void }>> = {
  serve: () => import('./cli/serve.js'),
  config: () => import('./cli/config-check.js'),
  health: () => import('./cli/health.js'),
  policy: () => import('./cli/policy.js'),
  keys: () => import('./cli/keys.js'),
  tokens: () => import('./cli/tokens.js'),
  blocks: () => import('./cli/blocks.js'),
  report: () => import('./cli/report.js'),
};

async function main(): Promise<void> {
  // Commander lists and matches commands in registration order: keep COMMANDS' order whatever is loaded.
  const wanted = new Set(commandsToLoad(process.argv.slice(2)));
  for (const name of COMMANDS) if (wanted.has(name)) (await modules[name]()).register(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`mcp-authz: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
