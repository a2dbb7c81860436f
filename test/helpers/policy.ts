/**
 * Test helper: compiles Rego from `policies/` or a fixture folder into a real wasm bundle with the
 * project's own toolchain (`scripts/policy-toolchain.mjs`), so tests run the same policy the sidecar does.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RequestFacts } from '../../src/policy/input.js';
import { tempDir } from './temp-dir.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'scripts', 'policy-toolchain.mjs');

/** A fresh RSA key pair for signing bundles, as PEM files in a temp folder: `privateKey` signs, `publicKey` verifies. */
export function bundleSigningKeys(prefix: string): {
  readonly privateKey: string;
  readonly publicKey: string;
} {
  const dir = tempDir(prefix);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = { privateKey: join(dir, 'private.pem'), publicKey: join(dir, 'public.pem') };
  writeFileSync(keys.privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(keys.publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return keys;
}

/** Signing flags of `policy:build` (as `opa build` names them). */
export interface BundleSigning {
  readonly key: string;
  readonly alg?: string;
  readonly claimsFile?: string;
  readonly keyId?: string;
}

/**
 * Builds `src` (relative to the repo root) into a fresh temp folder; returns the unpacked bundle folder
 * (its tarball is `bundle.tar.gz` beside it). With `signing`, the bundle is signed as `opa build` signs.
 */
export async function buildBundle(
  src: string,
  opts: { revision?: string; entrypoints?: string[]; signing?: BundleSigning } = {},
): Promise<string> {
  const out = tempDir('bundle');
  const args = [SCRIPT, 'build', '--src', src, '--out', out];
  if (opts.revision) args.push('--revision', opts.revision);
  for (const e of opts.entrypoints ?? []) args.push('-e', e);
  const s = opts.signing;
  if (s) args.push('--signing-key', s.key);
  if (s?.alg) args.push('--signing-alg', s.alg);
  if (s?.claimsFile) args.push('--claims-file', s.claimsFile);
  if (s?.keyId) args.push('--verification-key-id', s.keyId);
  await new Promise<void>((done, fail) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err) fail(new Error(`policy build of ${src} failed: ${stderr}`));
      else done();
    });
  });
  return join(out, 'bundle');
}

/**
 * Builds `src` (relative to the repo root) as plain `opa build -t wasm` would, with the toolchain's OPA but
 * none of `policy:build`'s checks (no runtime capabilities: any builtin compiles); returns the `.tar.gz`.
 */
export async function buildPlainBundle(src: string): Promise<string> {
  const toolchain = (await import(pathToFileURL(join(ROOT, 'scripts', 'toolchain', 'opa.mjs')).href)) as {
    ensureToolchain(): Promise<{ bin: string }>;
  };
  const { bin } = await toolchain.ensureToolchain();
  const out = join(tempDir('plain-bundle'), 'bundle.tar.gz');
  const args = ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/visible', '-o', out, '.'];
  await new Promise<void>((done, fail) => {
    execFile(bin, args, { cwd: join(ROOT, src), timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err) fail(new Error(`opa build of ${src} failed: ${stderr}`));
      else done();
    });
  });
  return out;
}

let defaultBundle: Promise<string> | undefined;

/** The bundle of `policies/`: the one `npm run policy:build` wrote, or a fresh build when it is missing. */
export function defaultPolicyBundle(): Promise<string> {
  const built = join(ROOT, 'build', 'policy', 'bundle');
  if (existsSync(join(built, 'policy.wasm'))) return Promise.resolve(built);
  defaultBundle ??= buildBundle('policies');
  return defaultBundle;
}

/** Monday 10:00 UTC, from a trusted network, in prod: the default policy's hours/network rule holds. */
export const TRUSTED_FACTS: RequestFacts = {
  now: new Date('2026-11-23T10:00:00Z'),
  clientIp: '10.0.0.7',
  sessionId: 's-1',
  requestId: 'r-1',
  environment: 'prod',
  timezone: 'UTC',
};
