/**
 * Runs `mcp-authz` subcommands in the test process: the given `register` functions add their commands to
 * one program whose output, errors and exit codes are captured instead of reaching the process.
 *
 * @module
 */
import { Command } from 'commander';
import type { CliIo } from '../../src/cli/table.js';

export interface CliRun {
  readonly out: string[];
  readonly err: string[];
  readonly exits: number[];
  /** Parses `mcp-authz <args…>`. */
  run(...args: string[]): Promise<Command>;
}

export function cliRun(...registers: ((program: Command, io: CliIo) => void)[]): CliRun {
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  const io: CliIo = {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    exit: (c) => void exits.push(c),
  };
  const program = new Command().exitOverride();
  for (const register of registers) register(program, io);
  return { out, err, exits, run: (...args) => program.parseAsync(['node', 'mcp-authz', ...args]) };
}
