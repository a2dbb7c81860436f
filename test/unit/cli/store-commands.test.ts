/**
 * The commands that work on the shared Redis store refuse to run without one, naming themselves.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { register as blocks } from '../../../src/cli/blocks.js';
import { register as keys } from '../../../src/cli/keys.js';
import { register as report } from '../../../src/cli/report.js';
import { register as tokens } from '../../../src/cli/tokens.js';
import { cliRun } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('store commands without store.redisUrl', () => {
  const config = join(tempDir('cli-no-redis'), 'config.yaml');
  writeFileSync(config, 'log: { level: warn }\n');

  it.each([
    [['keys', 'list'], 'keys'],
    [['tokens', 'revoke', 'jti-1'], 'tokens'],
    [['blocks', 'list'], 'blocks'],
    [['report'], 'report'],
  ])('%j: exits 1 naming the command and the setting', async (args, name) => {
    const c = cliRun(keys, tokens, blocks, report);
    await c.run(...args, '-c', config);
    expect(c.exits).toEqual([1]);
    expect(c.err.join('')).toContain(
      `store.redisUrl is not set (AUTHZ_REDIS_URL): \`${name}\` works on the shared Redis store`,
    );
  });
});
