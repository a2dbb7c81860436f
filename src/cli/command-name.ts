/**
 * Which of the CLI's command modules a command line needs. `serve` alone loads the whole sidecar (the
 * OpenTelemetry SDK, express, the wasm runtime: about 0.6 s of a core), and every command loaded the lot,
 * so `mcp-authz health` — the image's Docker HEALTHCHECK, every 30 s — and `--version` took over a second.
 * Now only the invoked command's module is loaded (none for `--version`); when the line names none
 * (`--help`, no arguments) or one that does not exist (commander then suggests the nearest), all are, so
 * help and suggestions list every command.
 *
 * @module
 */

/** The top-level commands, in the order help lists them. */
export const COMMANDS = [
  'serve',
  'config',
  'health',
  'policy',
  'keys',
  'tokens',
  'blocks',
  'report',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The program's own options that take a value in the next argument (`-c file`). */
const VALUE_OPTIONS = new Set(['-c', '--config']);

/** The commands to load for `args` (the arguments after the script): the one named, or all. */
export function commandsToLoad(args: readonly string[]): readonly CommandName[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    // The first operand is the command; `help <command>` names it second.
    const name = arg === 'help' ? args[i + 1] : arg;
    return (COMMANDS as readonly string[]).includes(name ?? '') ? [name as CommandName] : COMMANDS;
  }
  // No command: `--version` needs none, anything else (help) lists them all.
  return args.includes('-V') || args.includes('--version') ? [] : COMMANDS;
}
