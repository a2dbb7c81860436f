/**
 * How every command but `serve` reads its configuration: a config with several problems is printed one
 * problem a line, as `serve` prints it (not run together on one line), and an `AUTHZ_*` variable no
 * setting reads (a typo) is named on stderr instead of silently leaving its setting at the default.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { register as health } from '../../../src/cli/health.js';
import { register as keys } from '../../../src/cli/keys.js';
import { register as policy } from '../../../src/cli/policy.js';
import { cliRun } from '../../helpers/cli.js';
import { defaultPolicyBundle } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const dir = tempDir('cli-config');
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('a configuration with several problems', () => {
  const bad = file('bad.yaml', 'server:\n  port: eighty\nupstream:\n  url: ftp://x\n');

  it.each([[['policy', 'check']], [['keys', 'list']], [['health']]])(
    '%j prints each problem on a line of its own, as serve does, and exits 1',
    async (args) => {
      const c = cliRun(policy, keys, health);
      await c.run(...args, '-c', bad);
      expect(c.exits).toEqual([1]);
      const text = c.err.join('');
      expect(text).toMatch(
        /^mcp-authz: invalid configuration:\n {2}server\.port: [^\n]+\n {2}upstream\.url: [^\n]+\n$/,
      );
    },
  );

  it('names the file that cannot be read, and says so', async () => {
    const c = cliRun(policy);
    await c.run('policy', 'check', '-c', join(dir, 'missing.yaml'));
    expect(c.exits).toEqual([1]);
    expect(c.err.join('')).toBe(
      `mcp-authz: invalid configuration:\n  (file) ${join(dir, 'missing.yaml')}: cannot be read (ENOENT)\n`,
    );
  });
});

describe('an AUTHZ_* variable no setting reads', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await defaultPolicyBundle();
  });

  it('is named on stderr, so a misspelt override is not taken for the one that was meant', async () => {
    // Meant: AUTHZ_POLICY_BUNDLE. Without the warning, `policy check` silently checks the default bundle.
    vi.stubEnv('AUTHZ_POLICY_BUNLDE', '/elsewhere/bundle');
    const config = file('ok.yaml', `policy:\n  bundle: ${bundle}\n`);
    const c = cliRun(policy);
    await c.run('policy', 'check', '-c', config);
    expect(c.exits).toEqual([]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({ state: 'ok' });
    expect(c.err.join('')).toBe(
      'mcp-authz: warning: AUTHZ_POLICY_BUNLDE is no variable mcp-authz reads (a typo?); ignored\n',
    );
  });

  it('is named before a configuration error it may explain', async () => {
    vi.stubEnv('AUTHZ_REDIS_ULR', 'redis://127.0.0.1:6379');
    const c = cliRun(keys);
    await c.run('keys', 'list', '-c', file('empty.yaml', ''));
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      'mcp-authz: warning: AUTHZ_REDIS_ULR is no variable mcp-authz reads (a typo?); ignored\n',
      expect.stringMatching(/^mcp-authz: store\.redisUrl is not set \(AUTHZ_REDIS_URL\)/),
    ]);
  });
});
