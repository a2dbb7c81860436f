/**
 * `keys create` with `authn.apiKeys.enabled: false`: a key is still created (for sidecars with another
 * configuration), but stderr says first that sidecars with this one refuse every key — whether or not the
 * store then answers. The key being created is tested against Redis in test/integration/cli-redis.test.ts.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register } from '../../../src/cli/keys.js';
import { cliRun } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/temp-dir.js';

const WARNING =
  'mcp-authz: warning: authn.apiKeys.enabled is false: sidecars with this configuration refuse every API key, this one too (it is created all the same, for sidecars that accept keys)\n';

describe('mcp-authz keys create', () => {
  const configFile = (apiKeys: string) => {
    const file = join(tempDir('cli-keys'), 'config.yaml');
    // Port 1: nothing listens, so the command stops at the store, after what it says about the config.
    writeFileSync(file, `store:\n  redisUrl: redis://127.0.0.1:1\nauthn:\n  apiKeys: ${apiKeys}\n`);
    return file;
  };

  it('warns that sidecars with authn.apiKeys.enabled: false refuse every key, before it opens the store', async () => {
    const c = cliRun(register);
    await c.run('keys', 'create', '--subject', 'bot', '-c', configFile('{ enabled: false }'));
    expect(c.err[0]).toBe(WARNING);
    expect(c.err[1]).toMatch(/^mcp-authz: store unavailable: /);
    expect(c.exits).toEqual([1]);
  });

  it('says nothing of the kind when keys are on, nor for the commands that create no key', async () => {
    const on = cliRun(register);
    await on.run('keys', 'create', '--subject', 'bot', '-c', configFile('{ enabled: true }'));
    expect(on.err).toEqual([expect.stringMatching(/^mcp-authz: store unavailable: /)]);
    const list = cliRun(register);
    await list.run('keys', 'list', '-c', configFile('{ enabled: false }'));
    expect(list.err).toEqual([expect.stringMatching(/^mcp-authz: store unavailable: /)]);
  });

  it('refuses a --scope that is no one scope token, before it opens the store', async () => {
    // `--scope "mcp:tools mcp:read"` made one scope of both, held by no key a required scope names: the key
    // was created, and every call it made refused (403 insufficient_scope).
    for (const scope of ['mcp:tools mcp:read', 'a"b', 'x'.repeat(129)]) {
      const c = cliRun(register);
      await c.run(
        'keys',
        'create',
        '--subject',
        'bot',
        '--scope',
        'ok',
        '--scope',
        scope,
        '-c',
        configFile('{}'),
      );
      expect(c.err).toEqual([
        `mcp-authz: --scope ${JSON.stringify(scope)} is not one OAuth scope (printable ASCII without space, " or \\, at most 128 characters): give --scope once for each scope\n`,
      ]);
      expect(c.exits).toEqual([1]);
    }
  });
});
