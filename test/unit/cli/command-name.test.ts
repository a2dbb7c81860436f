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

  it('hands the program option -c and its value on, and prints the version', () => {
    const r = run('-c', '/nonexistent/config.yaml', 'keys', 'list', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: mcp-authz keys list');
    const v = run('--version');
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
