/**
 * Which of the CLI's command modules a command line needs. `serve` (and `config check`) load the whole sidecar (the
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

/**
 * The commands to load for `args` (the arguments after the script): the one named, or all. It reads the
 * line as commander does (positional options: the program's come before the command, and everything from
 * the command on is the command's): the first operand is the command (`help <command>` names it second),
 * unless an option the program does not know came before it (`-h`, `--help`, a typo) — commander then
 * dispatches nothing and prints the program's help, or an error with it, listing every command. `-V` before
 * the command prints the version and ends the program the moment it is parsed, unless it is the value of `-c`.
 */
export function commandsToLoad(args: readonly string[]): readonly CommandName[] {
  let first: string | undefined;
  let i = 0;
  for (; i < args.length && first === undefined; i++) {
    const arg = args[i] as string;
    // commander takes the rest as operands; loading every command is never wrong.
    if (arg === '--') return COMMANDS;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg === '--version' || arg.startsWith('-V')) return [];
    if (arg.length > 1 && arg.startsWith('-')) {
      // `-cFILE` and `--config=FILE` are -c with its value; any other option is not the program's.
      if (!arg.startsWith('-c') && !arg.startsWith('--config=')) return COMMANDS;
      continue;
    }
    first = arg;
  }
  // `help <command>`: the help command's first operand (its options are its own).
  const name = first === 'help' ? args.slice(i).find((a) => !a.startsWith('-')) : first;
  return (COMMANDS as readonly string[]).includes(name ?? '') ? [name as CommandName] : COMMANDS;
}
