/**
 * The `mcp-authz` program itself (`src/main.ts`), run as the real process: `--version` prints the package
 * version on stdout and exits 0, so an operator can tell which build an image or a node_modules holds.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/policy.js';

const exec = promisify(execFile);
const cli = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT });

describe('mcp-authz', () => {
  it('--version (and -V) prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { stdout, stderr } = await cli(flag);
      expect(stdout).toBe(`${version}\n`);
      expect(stderr).toBe('');
    }
  });
});
