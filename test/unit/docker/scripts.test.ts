/**
 * The Dockerfile's scripts, run outside Docker. build.sh compiles a copy of the project and prunes its dev
 * dependencies, after which the CLI still starts from the pruned tree; policy.sh builds the default bundle with
 * the project's Rego compiler standing in for the OPA image's `opa` (OPA_BIN), with the same revision as
 * `npm run policy:build`, and the Node wasm runtime evaluates it; runtime.sh strips the package managers from
 * a stand-in root. `build.sh deps` (npm ci) is left out: it needs the registry and does nothing else.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Exec> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, timeout: 600_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Entries of a .tar.gz (regular files), names as stored. */
function tarEntries(gz: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(gz);
  const out = new Map<string, Buffer>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(
      h.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0',
      8,
    );
    if ((h[156] === 0 || h[156] === 48) && name)
      out.set(name, Buffer.from(tar.subarray(off + 512, off + 512 + size)));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'docker-scripts-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('scripts/docker/build.sh', () => {
  it('compile + prune: dist/src/main.js built, dev dependencies gone, the CLI runs from the pruned tree', async () => {
    // What the deps stage leaves: the project's build inputs and an installed node_modules.
    const project = join(tmp, 'project');
    for (const p of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src',
      'scripts',
    ]) {
      await cp(join(ROOT, p), join(project, p), { recursive: true });
    }
    await cp(join(ROOT, 'node_modules'), join(project, 'node_modules'), {
      recursive: true,
      verbatimSymlinks: true,
    });

    const res = await exec('sh', [
      join(project, 'scripts', 'docker', 'build.sh'),
      'caps',
      'compile',
      'prune',
    ]);
    expect(res.stderr).toContain('build.sh: prune');
    expect(res.code, res.stderr).toBe(0);

    await stat(join(project, 'dist', 'src', 'main.js'));
    const caps = JSON.parse(await readFile(join(project, 'build', 'docker', 'capabilities.json'), 'utf8'));
    expect(caps.features).toContain('rego_v1');
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    for (const dev of ['typescript', 'vitest', '@biomejs/biome', 'kubernetes-models']) {
      expect(Object.keys(pkg.devDependencies)).toContain(dev);
      await expect(stat(join(project, 'node_modules', dev)), dev).rejects.toThrow();
    }
    for (const dep of Object.keys(pkg.dependencies)) await stat(join(project, 'node_modules', dep));

    // The image's entrypoint, from the pruned tree only.
    const help = await exec(process.execPath, [join(project, 'dist', 'src', 'main.js'), '--help'], {
      cwd: project,
    });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('serve');
  }, 300_000);

  it('refuses an unknown step', async () => {
    const res = await exec('sh', [join(ROOT, 'scripts', 'docker', 'build.sh'), 'publish']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('unknown step publish');
  });
});

describe('scripts/docker/policy.sh', () => {
  it('builds the default bundle like the image does, with the project compiler as opa', async () => {
    // The project's toolchain: opa on PATH or OPA_BIN, else tools/policyc (built on first use).
    const ensure = await exec(process.execPath, [join(ROOT, 'scripts', 'policy-toolchain.mjs'), 'ensure']);
    expect(ensure.code, ensure.stderr).toBe(0);
    const bin = /\bat (\S+)$/m.exec(ensure.stdout)?.[1] ?? /\((\/[^)]+)\)$/m.exec(ensure.stdout)?.[1];
    expect(bin, ensure.stdout).toBeTruthy();

    const caps = join(tmp, 'caps');
    const written = await exec(process.execPath, [join(ROOT, 'scripts', 'docker', 'capabilities.mjs'), caps]);
    expect(written.code, written.stderr).toBe(0);
    const out = join(tmp, 'out', 'bundle.tar.gz');
    const policySh = (dir: string, to: string) =>
      exec(
        'sh',
        [
          join(ROOT, 'scripts', 'docker', 'policy.sh'),
          dir,
          join(caps, 'capabilities.json'),
          to,
          'schema/policy-input.json',
          join(caps, 'capabilities.test.json'),
        ],
        { env: { OPA_BIN: resolve(ROOT, bin as string), POLICY_REVISION: '' } },
      );
    const res = await policySh('policies', out);
    expect(res.code, res.stderr).toBe(0);
    // A misspelt input field fails the image's policy stage, as it fails npm run policy:build.
    const typo = await policySh(
      'test/fixtures/policies/toolchain/input-typo',
      join(tmp, 'typo', 'bundle.tar.gz'),
    );
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('undefined ref: input.subject.teant');
    expect(typo.stderr).toContain('policy.sh: the policy reads an input field the sidecar never sends');
    // print() passes the check (its capabilities have it), as it passes the build, which drops it.
    const idioms = await policySh(
      'test/fixtures/policies/toolchain/input-idioms',
      join(tmp, 'idioms', 'bundle.tar.gz'),
    );
    expect(idioms.code, idioms.stderr).toBe(0);
    // A check failure that is no input field is not blamed on one.
    const bad = join(tmp, 'unparsable');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'p.rego'), 'package mcp.authz\n\ndecision := {"allow": true\n');
    const parse = await policySh(bad, join(tmp, 'unparsable-out', 'bundle.tar.gz'));
    expect(parse.code).toBe(1);
    expect(parse.stderr).toContain('rego_parse_error');
    expect(parse.stderr).not.toContain('input field');
    expect((await stat(out)).mode & 0o444).toBe(0o444);

    const entries = tarEntries(await readFile(out));
    expect([...entries.keys()]).toEqual(expect.arrayContaining(['/policy.wasm', '/data.json', '/.manifest']));
    expect([...entries.keys()].filter((n) => n.endsWith('_test.rego'))).toEqual([]);
    const manifest = JSON.parse((entries.get('/.manifest') as Buffer).toString('utf8'));
    expect(manifest.wasm.map((w: { entrypoint: string }) => w.entrypoint).sort()).toEqual([
      'mcp/authz/decision',
      'mcp/authz/visible',
    ]);
    // Same content-hash revision as npm run policy:build.
    const rev = await exec(process.execPath, [
      '--input-type=module',
      '-e',
      "import { computeRevision } from './scripts/policy-toolchain.mjs'; process.stdout.write(await computeRevision('policies'));",
    ]);
    expect(manifest.revision).toBe(rev.stdout);

    // The Node wasm runtime loads it; an anonymous call to a tool is denied.
    const policy = await loadPolicy(entries.get('/policy.wasm') as Buffer);
    policy.setData(JSON.parse((entries.get('/data.json') as Buffer).toString('utf8')));
    const [result] = policy.evaluate(
      {
        subject: { id: null, tenant: null, roles: [], scopes: [], claims: {} },
        action: { method: 'tools/call', tool: 'delete_customer', arguments: {} },
        resource: {
          kind: 'tool',
          name: 'delete_customer',
          annotations: { destructiveHint: true, seen: true },
        },
        context: { time: '2026-11-23T10:00:00.000Z', hour: 10, minute: 0, weekday: 1, environment: 'prod' },
      },
      'mcp/authz/decision',
    ) as { result: { allow: boolean } }[];
    expect(result?.result.allow).toBe(false);
  }, 300_000);

  it('POLICY_REVISION overrides the revision; a missing folder fails with a message', async () => {
    const fakeOpa = join(tmp, 'fake-opa');
    await writeFile(
      fakeOpa,
      '#!/bin/sh\necho "$@" > "$FAKE_OPA_ARGS"\n: > "$(echo "$@" | sed "s/.* -o \\([^ ]*\\) .*/\\1/")"\n',
    );
    await chmod(fakeOpa, 0o755);
    const argsFile = join(tmp, 'fake-opa-args');
    const caps = join(tmp, 'caps.json');
    await writeFile(caps, '{}');
    const out = join(tmp, 'fake', 'bundle.tar.gz');
    const ok = await exec('sh', [join(ROOT, 'scripts', 'docker', 'policy.sh'), 'policies', caps, out], {
      env: { OPA_BIN: fakeOpa, POLICY_REVISION: 'v42', FAKE_OPA_ARGS: argsFile },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(argsFile, 'utf8')).toContain('--revision v42');

    const missing = await exec(
      'sh',
      [join(ROOT, 'scripts', 'docker', 'policy.sh'), 'no-such-dir', caps, out],
      {
        env: { OPA_BIN: fakeOpa },
      },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('policy folder no-such-dir does not exist');
  });
});

describe('scripts/docker/runtime.sh', () => {
  it('removes npm, npx, corepack and yarn and keeps node', async () => {
    const root = join(tmp, 'rootfs');
    const files = [
      'usr/local/bin/node',
      'usr/local/bin/npm',
      'usr/local/bin/npx',
      'usr/local/bin/corepack',
      'usr/local/bin/yarn',
      'usr/local/lib/node_modules/npm/package.json',
      'usr/local/lib/node_modules/corepack/package.json',
      'opt/yarn-v1.22.22/bin/yarn',
    ];
    for (const f of files) {
      await mkdir(join(root, f, '..'), { recursive: true });
      await writeFile(join(root, f), '#!/bin/sh\n');
      await chmod(join(root, f), 0o755);
    }
    const res = await exec('sh', [join(ROOT, 'scripts', 'docker', 'runtime.sh')], {
      env: { RUNTIME_ROOT: root },
    });
    expect(res.code, res.stderr).toBe(0);
    await stat(join(root, 'usr/local/bin/node'));
    for (const f of files.slice(1)) await expect(stat(join(root, f)), f).rejects.toThrow();
  });
});
