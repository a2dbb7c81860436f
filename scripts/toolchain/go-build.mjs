/**
 * Builds a Go program from its sources in GOPATH mode (CGO off, -trimpath, no module proxy) with the Go
 * release and the library sources that debian.mjs unpacked, and names the Debian package to add when an
 * import is missing.
 *
 * @module
 */
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { GO_VERSION, POLICYC_SET, ROOT } from './config.mjs';
import { ToolchainError } from './errors.mjs';
import { run } from './process.mjs';

/**
 * Compiles the Go program in `srcDir` to `out` in GOPATH mode (CGO off, -trimpath) against the Debian Go
 * sources that fetchDebianPackages unpacked for `set`. Errors name the Debian package a missing import
 * probably comes from.
 * @param {string} srcDir @param {string} out @param {import('./debian.mjs').DebianSet} [set]
 */
export async function goBuild(srcDir, out, set = POLICYC_SET) {
  const { cache, owner } = set;
  const root = join(cache, 'root');
  const goroot = join(root, 'usr', 'lib', `go-${GO_VERSION}`);
  await mkdir(dirname(out), { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? cache,
    GOROOT: goroot,
    GOPATH: join(root, 'usr', 'share', 'gocode'),
    GO111MODULE: 'off',
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOFLAGS: '',
    GOCACHE: set.gocache ?? join(cache, 'gocache'),
    CGO_ENABLED: '0',
  };
  const res = await run(join(goroot, 'bin', 'go'), ['build', '-trimpath', '-o', `${out}.tmp`, '.'], {
    cwd: srcDir,
    env,
  });
  if (res.code !== 0) {
    const pkg = /cannot find package "([^"]+)"/.exec(res.stderr)?.[1];
    throw new ToolchainError(
      pkg
        ? `compiling ${relative(ROOT, srcDir)} failed: Go package ${pkg} is missing from the Debian set; add the ` +
            `Debian package that provides it (probably ${debianNameOf(pkg)}) to ${owner}`
        : `compiling ${relative(ROOT, srcDir)} failed against the Debian sid Go sources (see the compiler output)`,
      { output: res.stderr },
    );
  }
  await rename(`${out}.tmp`, out);
}

/** Debian's usual name for a Go import path: github.com/gobwas/glob → golang-github-gobwas-glob-dev. */
function debianNameOf(/** @type {string} */ importPath) {
  const [host = '', ...rest] = importPath.toLowerCase().split('/');
  return `golang-${[host.split('.')[0], ...rest].join('-')}-dev`;
}
