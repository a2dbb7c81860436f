import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandsToLoad } from '../../../src/cli/command-name.js';
import { ROOT } from '../../helpers/policy.js';

describe('commandsToLoad', () => {
  it('loads only the command named, past the program options and their values', () => {
    expect(commandsToLoad(['health'])).toEqual(['health']);
    expect(commandsToLoad(['keys', 'list', '--json'])).toEqual(['keys']);
    expect(commandsToLoad(['-c', 'serve', 'keys', 'list'])).toEqual(['keys']); // `serve` is -c's file
    expect(commandsToLoad(['--config', '/etc/x.yaml', 'serve'])).toEqual(['serve']);
    expect(commandsToLoad(['--config=/etc/x.yaml', 'tokens', 'revoke', 'j'])).toEqual(['tokens']);
    expect(commandsToLoad(['help', 'blocks'])).toEqual(['blocks']);
  });

  it('loads every command for help, no arguments or an unknown command, and none for --version', () => {
    expect(commandsToLoad([])).toEqual(COMMANDS);
    expect(commandsToLoad(['--help'])).toEqual(COMMANDS);
    expect(commandsToLoad(['help'])).toEqual(COMMANDS);
    expect(commandsToLoad(['kyes', 'list'])).toEqual(COMMANDS);
    expect(commandsToLoad(['--', 'keys'])).toEqual(COMMANDS);
    expect(commandsToLoad(['--version'])).toEqual([]);
    expect(commandsToLoad(['-V'])).toEqual([]);
  });

  it('loads every command when an option the program does not know comes before the command', () => {
    // commander leaves that option and everything after it undispatched: it prints the program's help
    // (`-h serve`, `--help serve`) or an unknown option error with that help, which must list every command.
    expect(commandsToLoad(['-h', 'serve'])).toEqual(COMMANDS);
    expect(commandsToLoad(['--help', 'serve'])).toEqual(COMMANDS);
    expect(commandsToLoad(['--ready', 'health'])).toEqual(COMMANDS);
    expect(commandsToLoad(['-c', 'x.yaml', '--json', 'keys', 'list'])).toEqual(COMMANDS);
    // After the command, an unknown option is the command's: it is dispatched.
    expect(commandsToLoad(['health', '--ready'])).toEqual(['health']);
  });

  it('leaves an option value after the command that starts with -V to the command', () => {
    // `--description "-Vault key"` printed the version and exited 0, creating no key (a script took the
    // version for the key); program options come before the command only.
    expect(commandsToLoad(['keys', 'create', '--subject', 'x', '--description', '-Vault key'])).toEqual([
      'keys',
    ]);
    expect(commandsToLoad(['tokens', 'revoke', '--', '-V1'])).toEqual(['tokens']);
    expect(commandsToLoad(['help', 'keys', '-V'])).toEqual(['keys']);
  });

  it('takes -V for the version only where commander does: not as the value of -c', () => {
    // `-c -V`: -V is the config file; no command is named, so commander prints the help (exit 1).
    expect(commandsToLoad(['-c', '-V'])).toEqual(COMMANDS);
    expect(commandsToLoad(['--config', '--version'])).toEqual(COMMANDS);
    expect(commandsToLoad(['-Vc', 'x'])).toEqual([]);
  });
});

describe('the mcp-authz command', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('lists every command in help, in order, and suggests one for a typo', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    const listed = [...help.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]);
    expect(listed.filter((c) => c !== 'help')).toEqual([...COMMANDS]);
    const typo = run('kyes', 'list');
    expect(typo.status).toBe(1);
    expect(typo.stderr).toContain("unknown command 'kyes'");
    expect(typo.stderr).toContain('keys');
  });

  it('lists every command in the help that -h before a command prints', () => {
    const help = run('-h', 'serve');
    expect(help.status).toBe(0);
    const listed = [...help.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]);
    expect(listed.filter((c) => c !== 'help')).toEqual([...COMMANDS]);
  });

  it('gives a subcommand option its value even when that starts with -V or -c', () => {
    // Program options anywhere on the line took `-Vault` for -V: the version printed, exit 0, no key made.
    const r = run(
      'keys',
      'create',
      '--subject',
      'bot',
      '--description',
      '-Vault key',
      '-c',
      '/nonexistent/c.yaml',
    );
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/nonexistent/c.yaml: cannot be read (ENOENT)');
    const c = run('keys', 'create', '--subject', '-c', '--config', '/nonexistent/c.yaml');
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('/nonexistent/c.yaml: cannot be read (ENOENT)');
  });

  it('hands the program option -c and its value on, and prints the version', () => {
    const r = run('-c', '/nonexistent/config.yaml', 'keys', 'list', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: mcp-authz keys list');
    const v = run('--version');
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
