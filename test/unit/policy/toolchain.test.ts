/**
 * Tests of the policy toolchain (scripts/policy-toolchain.mjs) through its CLI, as npm scripts and CI run it:
 * failing Rego tests fail `test` and say where they failed, builtins the wasm runtime lacks fail `build`, a valid policy builds an
 * `opa build -t wasm` bundle that the Node runtime evaluates, and `fmt --check` flags unformatted Rego.
 * The first run may build the toolchain from Debian sid (~30–60 s); later runs take about a second.
 *
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const SCRIPT = join(ROOT, 'scripts', 'policy-toolchain.mjs');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'policies', 'toolchain');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env = { ...process.env, ...opts.env };
  return new Promise((done) => {
    execFile(
      process.execPath,
      [SCRIPT, ...args],
      { cwd: ROOT, env, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

interface TarEntry {
  name: string;
  mode: number;
  data: Buffer;
}

/** Minimal ustar reader: enough to check the bundle's layout without trusting the script's own reader. */
function readTarGz(gz: Buffer): TarEntry[] {
  const tar = gunzipSync(gz);
  const entries: TarEntry[] = [];
  const text = (b: Buffer, start: number, len: number) =>
    b
      .subarray(start, start + len)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = Number.parseInt(text(header, 124, 12).trim(), 8);
    entries.push({
      name: text(header, 0, 100),
      mode: Number.parseInt(text(header, 100, 8).trim(), 8),
      data: Buffer.from(tar.subarray(off + 512, off + 512 + size)),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

let tmp: string;
/** The executable the toolchain runs (opa, or the built policyc). */
let toolBin: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'policy-toolchain-test-'));
  // The first call may fetch and compile the toolchain: give it far more than the default hook timeout.
  const ensured = await cli(['ensure'], { timeoutMs: 600_000 });
  expect(ensured.code, ensured.stderr).toBe(0);
  expect(ensured.stdout).toMatch(/policy toolchain: (opa|policyc)/);
  const bin = /\bat (\S+)$/m.exec(ensured.stdout)?.[1] ?? /\((\/[^)]+)\)$/m.exec(ensured.stdout)?.[1];
  toolBin = resolve(ROOT, bin ?? '');
}, 600_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('policy-toolchain test', () => {
  it('exits non-zero and names the failing test when a Rego test fails', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'failing-test')]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('test_bob_allowed_on_purpose_failing');
    expect(r.stdout).not.toMatch(/FAIL.*test_alice_allowed/);
    expect(r.stdout).toMatch(/^policy test: 1 passed, 1 failed$/m);
  });

  it('passes a policy whose tests pass', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'ok'), '-v']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^policy test: 3 passed, 0 failed$/m);
  });

  it('shows where a failing test failed: file:line, the expression, its values, then its print output', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'failing-expression')]);
    expect(r.code).toBe(1);
    // The test starts at line 8; its first three lines hold and the fourth, line 12, fails.
    expect(r.stdout).toBe(
      [
        'FAIL  data.fixture.explained_test.test_bob_allowed_on_purpose_failing (policy_test.rego:8)',
        '      policy_test.rego:12:',
        '        d.allow == true',
        '        |',
        '        d.allow: false',
        '        d: {"allow": false, "reasons": {"not alice"}}',
        '      reasons: {"not alice"}',
        'policy test: 1 passed, 1 failed',
        '',
      ].join('\n'),
    );
  });

  it('runs per-case test rules (test_x[note]) and names the case that failed', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'test-cases')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}data\.fixture\.cases_test\.test_allow \(policy_test\.rego:6\)$/m);
    expect(r.stdout).toMatch(/^ {6}bob on purpose failing: FAIL$/m);
    expect(r.stdout).toMatch(/policy_test\.rego:13:\n {12}got == tc\.want$/m);
    expect(r.stdout).not.toMatch(/alice is allowed: FAIL|carol is denied: FAIL/);
  });

  it('with --coverage, reports the share of policy lines the tests reach and the lines never reached', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'ok'), '--coverage']);
    expect(r.code, r.stderr).toBe(0);
    // The fixture's tests never make a tenant-less denial's reason, nor ask whether a listed item is visible.
    expect(r.stdout).toBe(
      [
        'policy test: 3 passed, 0 failed',
        'policy coverage: 68.7% of 16 lines in 1 file(s), tests left out',
        '  authz.rego   68.7%  never reached: 16, 25, 27-28, 30',
        '',
      ].join('\n'),
    );
    const strict = await cli(['test', '--src', join(FIXTURES, 'ok'), '--threshold', '70']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('policy coverage: 68.7% is below the threshold of 70%');
    expect((await cli(['test', '--src', join(FIXTURES, 'ok'), '--threshold', '68'])).code).toBe(0);
    // Failing tests: no coverage run, the failure is what is reported.
    const failing = await cli(['test', '--src', join(FIXTURES, 'failing-expression'), '--coverage']);
    expect(failing.code).toBe(1);
    expect(failing.stdout).not.toContain('policy coverage');
  });

  it('prints nothing but the summary for passing tests, as before', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'ok')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('policy test: 3 passed, 0 failed\n');
  });

  it('asks a real opa the same way: the failing test alone again, with --var-values', async () => {
    // A stand-in opa: answers `version` as opa does and runs the toolchain's own tool for the rest.
    const fakeOpa = join(tmp, 'opa');
    const argsFile = join(tmp, 'opa-args');
    await writeFile(
      fakeOpa,
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argsFile}'\n` +
        `[ "$1" = version ] && { echo 'Version: 1.4.2'; exit 0; }\nexec '${toolBin}' "$@"\n`,
    );
    await chmod(fakeOpa, 0o755);
    const r = await cli(['test', '--src', join(FIXTURES, 'failing-expression')], {
      env: { OPA_BIN: fakeOpa },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {6}policy_test\.rego:12:\n {8}d\.allow == true$/m);
    const runs = (await readFile(argsFile, 'utf8')).split('\n').filter((l) => l.startsWith('test '));
    expect(runs).toHaveLength(2);
    expect(runs[0]).not.toContain('--var-values'); // the full run is not traced
    expect(runs[1]).toContain('--var-values');
    expect(runs[1]).toContain(
      '--run ^(?:data\\.fixture\\.explained_test(?:\\.|\\[")test_bob_allowed_on_purpose_failing\\b)',
    );
  });

  it("cuts opa's failure report into one explanation per test, test cases and repeated names too", async () => {
    const explain = pathToFileURL(join(ROOT, 'scripts', 'toolchain', 'explain.mjs')).href;
    const { parseFailures } = (await import(explain)) as {
      parseFailures: (out: string) => Map<string, string>;
    };
    // `opa test --var-values` output (OPA 1.4.2) for a test-case rule and two rules named test_dup.
    const out = [
      'FAILURES',
      '-'.repeat(80),
      'data.c_test.test_cases: FAIL (1.6ms)',
      '',
      '  three: FAIL',
      '    ',
      '      c_test.rego:7:',
      '        \tn < 3',
      '        \t|',
      '        \t3    ',
      '',
      'data.c_test.test_dup: FAIL (485µs)',
      '',
      '  c_test.rego:10:',
      '                1 == 2',
      '',
      'data.c_test.test_dup#01: FAIL (383µs)',
      '',
      '  c_test.rego:14:',
      '    \tx == 2',
      '    \t|',
      '    \t1',
      '',
      'SUMMARY',
      '-'.repeat(80),
      'c_test.rego:',
      'data.c_test.test_cases: FAIL (1.6ms)',
      '  three: FAIL',
      '-'.repeat(80),
      'FAIL: 3/5',
      '',
    ].join('\n');
    expect(Object.fromEntries(parseFailures(out))).toEqual({
      'data.c_test.test_cases': 'three: FAIL\n\n    c_test.rego:7:\n      n < 3\n      |\n      3',
      'data.c_test.test_dup': 'c_test.rego:10:\n  1 == 2',
      'data.c_test.test_dup#01': 'c_test.rego:14:\n  x == 2\n  |\n  1',
    });
    expect(parseFailures('PASS: 3/3\n').size).toBe(0);
  });

  it('compiles tests against the wasm runtime builtins, so a missing builtin fails the tests too', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'bad-builtin')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('time.now_ns');
  });
});

describe('policy-toolchain build', () => {
  it('fails on a builtin outside the runtime capabilities, naming the builtin', async () => {
    const out = join(tmp, 'bad-builtin');
    const r = await cli(['build', '--src', join(FIXTURES, 'bad-builtin'), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/undefined function time\.now_ns/);
  });

  it('fails on a builtin the runtime lists but cannot run (time.diff)', async () => {
    const out = join(tmp, 'listed-builtin');
    const r = await cli(['build', '--src', join(FIXTURES, 'listed-builtin'), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/undefined function time\.diff/);
  });

  it('type-checks the Rego against the policy input schema: a misspelt field fails the build, named', async () => {
    const out = join(tmp, 'input-typo');
    const r = await cli(['build', '--src', join(FIXTURES, 'input-typo'), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('undefined ref: input.resource.annotations.readOnlyHnt');
    expect(r.stderr).toContain('undefined ref: input.subject.teant');
    expect(r.stderr).toMatch(/want \(one of\): \[.*"tenant"/);
    expect(r.stderr).toContain('policy build failed for');
    expect(r.stderr).toContain('a field the sidecar never sends (schema/policy-input.json lists them)');
    expect(existsSync(join(out, 'bundle.tar.gz'))).toBe(false);
    // The way out for a policy that means it: the same folder builds without the check.
    const unchecked = await cli([
      'build',
      '--src',
      join(FIXTURES, 'input-typo'),
      '--out',
      out,
      '--no-input-schema',
    ]);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(existsSync(join(out, 'bundle.tar.gz'))).toBe(true);
  });

  it('passes what a policy may rightly write against the input (null hints, object equality, print, walk)', async () => {
    const out = join(tmp, 'input-idioms');
    const r = await cli(['build', '--src', join(FIXTURES, 'input-idioms'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('type-checks before running the tests too, which pass on the same misspelling', async () => {
    const r = await cli(['test', '--src', join(FIXTURES, 'input-typo')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('undefined ref: input.subject.teant');
    expect(r.stderr).toContain('policy tests did not run for');
    const unchecked = await cli(['test', '--src', join(FIXTURES, 'input-typo'), '--no-input-schema']);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(unchecked.stdout).toContain('policy test: 1 passed, 0 failed');
  });

  it('builds an opa build -t wasm bundle that the Node wasm runtime evaluates', async () => {
    const out = join(tmp, 'ok');
    const r = await cli(['build', '--src', join(FIXTURES, 'ok'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);

    const entries = readTarGz(await readFile(join(out, 'bundle.tar.gz')));
    const names = entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['/.manifest', '/data.json', '/policy.wasm']));
    expect(names.every((n) => n.startsWith('/') && !n.includes(ROOT))).toBe(true);
    expect(names.some((n) => n.endsWith('_test.rego'))).toBe(false);
    expect(entries.every((e) => e.mode === 0o600)).toBe(true);

    const byName = (n: string) => entries.find((e) => e.name === n)!.data;
    const manifest = JSON.parse(byName('/.manifest').toString('utf8'));
    expect(manifest.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(manifest.rego_version).toBe(1);
    expect(manifest.wasm.map((w: { entrypoint: string }) => w.entrypoint)).toEqual([
      'mcp/authz/decision',
      'mcp/authz/visible',
    ]);
    // data.json files map by path: ok/data.json → data, ok/tenants/data.json → data.tenants.
    const data = JSON.parse(byName('/data.json').toString('utf8'));
    expect(data.tenants).toEqual({ active: ['acme'] });

    // The unpacked copy is the same bundle.
    expect(await readFile(join(out, 'bundle', 'policy.wasm'))).toEqual(byName('/policy.wasm'));
    expect(JSON.parse(await readFile(join(out, 'bundle', '.manifest'), 'utf8'))).toEqual(manifest);

    const policy = await loadPolicy(byName('/policy.wasm'));
    policy.setData(data);
    const admin = { subject: { roles: ['admin'], tenant: 'acme' }, action: { method: 'tools/call' } };
    expect(policy.evaluate(admin, 'mcp/authz/decision')).toEqual([{ result: { allow: true, reasons: [] } }]);
    const reader = { subject: { roles: ['reader'], tenant: 'acme' }, action: { method: 'tools/call' } };
    expect(policy.evaluate(reader, 'mcp/authz/decision')).toEqual([
      { result: { allow: false, reasons: ['no role permits the method'] } },
    ]);
    const listed = (name: string) => ({ ...reader, resource: { kind: 'tool', name, annotations: {} } });
    expect(policy.evaluate(listed('search'), 'mcp/authz/visible')).toEqual([{ result: true }]);
    expect(policy.evaluate(listed('rm'), 'mcp/authz/visible')).toEqual([{ result: false }]);
  });

  it('gives a content-addressed revision, overridable by --revision and POLICY_REVISION', async () => {
    const src = join(FIXTURES, 'ok');
    const revisionOf = async (out: string) =>
      JSON.parse(await readFile(join(out, 'bundle', '.manifest'), 'utf8')).revision as string;
    const a = join(tmp, 'rev-a');
    const b = join(tmp, 'rev-b');
    expect((await cli(['build', '--src', src, '--out', a])).code).toBe(0);
    expect((await cli(['build', '--src', src, '--out', b, '--revision', 'v1.2.3'])).code).toBe(0);
    const first = await revisionOf(a);
    expect(await revisionOf(b)).toBe('v1.2.3');
    expect(
      (await cli(['build', '--src', src, '--out', b], { env: { POLICY_REVISION: 'from-env' } })).code,
    ).toBe(0);
    expect(await revisionOf(b)).toBe('from-env');
    expect((await cli(['build', '--src', src, '--out', b], { env: { POLICY_REVISION: '' } })).code).toBe(0);
    expect(await revisionOf(b)).toBe(first);
    // Same sources, same bundle bytes.
    expect(await readFile(join(a, 'bundle.tar.gz'))).toEqual(await readFile(join(b, 'bundle.tar.gz')));
  });

  it('refuses a revision the sidecar would refuse in the manifest, before building', async () => {
    const src = join(FIXTURES, 'ok');
    const out = join(tmp, 'rev-bad');
    const lines = await cli(['build', '--src', src, '--out', out, '--revision', 'v1\nx']);
    expect(lines.code).not.toBe(0);
    expect(lines.stderr).toContain('--revision / POLICY_REVISION: no control characters or line breaks');
    const long = await cli(['build', '--src', src, '--out', out], {
      env: { POLICY_REVISION: 'r'.repeat(257) },
    });
    expect(long.code).not.toBe(0);
    expect(long.stderr).toContain('--revision / POLICY_REVISION: at most 256 characters');
    expect(existsSync(join(out, 'bundle.tar.gz'))).toBe(false);
  });

  it('builds into one output folder one at a time: a build waits while another holds the folder', async () => {
    const out = join(tmp, 'locked');
    await mkdir(join(out, '.lock'), { recursive: true });
    // Held by this (live) process, as another build would hold it.
    await writeFile(join(out, '.lock', 'pid'), String(process.pid));
    const child = spawn(process.execPath, [SCRIPT, 'build', '--src', join(FIXTURES, 'ok'), '--out', out], {
      cwd: ROOT,
    });
    try {
      let stderr = '';
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const waiting = new Promise<void>((resolveWaiting) => {
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          if (stderr.includes('waiting for another build')) resolveWaiting();
        });
      });
      // Fails at once (not at the test timeout) if the build does not wait.
      await Promise.race([
        waiting,
        exited.then((code) => {
          throw new Error(`the build exited (${code}) without waiting for the lock: ${stderr}`);
        }),
      ]);
      expect(existsSync(join(out, 'bundle.tar.gz'))).toBe(false);
      await rm(join(out, '.lock'), { recursive: true, force: true });
      expect(await exited, stderr).toBe(0);
      expect(existsSync(join(out, 'bundle', 'policy.wasm'))).toBe(true);
      expect(existsSync(join(out, '.lock'))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });

  it('leaves the last good bundle in place when a rebuild into the same folder fails', async () => {
    const out = join(tmp, 'rebuild');
    expect((await cli(['build', '--src', join(FIXTURES, 'ok'), '--out', out])).code).toBe(0);
    const before = await readFile(join(out, 'bundle.tar.gz'));
    const failed = await cli(['build', '--src', join(FIXTURES, 'bad-builtin'), '--out', out]);
    expect(failed.code).not.toBe(0);
    // A sidecar reading bundle.tar.gz (or restarting on it) still finds the last good build.
    expect((await readFile(join(out, 'bundle.tar.gz'))).equals(before)).toBe(true);
    expect(existsSync(join(out, 'bundle', 'policy.wasm'))).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['bundle', 'bundle.tar.gz']);
  });

  it('takes over a lock whose holder is gone, or that never got a holder', async () => {
    const out = join(tmp, 'orphaned');
    const lock = join(out, '.lock');
    // No pid written (a crash between mkdir and write), a minute old.
    await mkdir(lock, { recursive: true });
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, minuteAgo, minuteAgo);
    const orphan = await cli(['build', '--src', join(FIXTURES, 'ok'), '--out', out], { timeoutMs: 30_000 });
    expect(orphan.code, orphan.stderr).toBe(0);
    // A holder that no longer runs (pid 2^22 + 1 is above Linux's pid_max).
    await mkdir(lock);
    await writeFile(join(lock, 'pid'), String(4_194_305));
    const dead = await cli(['build', '--src', join(FIXTURES, 'ok'), '--out', out], { timeoutMs: 30_000 });
    expect(dead.code, dead.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it('counts files in hidden folders in the revision, as opa build reads them', async () => {
    const src = join(tmp, 'hidden-src');
    await cp(join(FIXTURES, 'ok'), src, { recursive: true });
    const out = join(tmp, 'hidden-out');
    const revision = async () => {
      expect((await cli(['build', '--src', src, '--out', out])).code).toBe(0);
      return JSON.parse(await readFile(join(out, 'bundle', '.manifest'), 'utf8')).revision as string;
    };
    const before = await revision();
    await mkdir(join(src, '.extra'));
    await writeFile(join(src, '.extra', 'x.json'), '{"flag": true}');
    expect(await revision()).not.toBe(before);
  });
});

describe('policy-toolchain fmt', () => {
  it('--check lists the unformatted file only and exits non-zero', async () => {
    const r = await cli(['fmt', '--check', '--src', join(FIXTURES, 'unformatted')]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('unformatted.rego');
    expect(r.stdout).not.toContain('/formatted.rego');
  });

  it('--write formats in place, after which --check passes', async () => {
    const copy = join(tmp, 'fmt');
    await cp(join(FIXTURES, 'unformatted'), copy, { recursive: true });
    expect((await cli(['fmt', '--write', '--src', copy])).code).toBe(0);
    expect(await readFile(join(copy, 'unformatted.rego'), 'utf8')).toContain(
      'deny if input.subject.id == "mallory"',
    );
    const r = await cli(['fmt', '--check', '--src', copy]);
    expect(r.code, r.stdout).toBe(0);
  });
});

describe('policy-toolchain messages for an author of their own policy folder', () => {
  it('fmt --check names the folder in the command it suggests', async () => {
    const r = await cli(['fmt', '--check', '--src', join(FIXTURES, 'unformatted')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`--write --src ${join(FIXTURES, 'unformatted')}`);
  });

  it("a failing test's print output ends its own line, before the summary", async () => {
    const dir = join(tmp, 'printing-test');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'p.rego'), 'package p\n\nallow if input.subject.id == "alice"\n');
    await writeFile(
      join(dir, 'p_test.rego'),
      'package p_test\n\nimport data.p\n\ntest_bob if {\n\tprint("user:", "bob")\n\tp.allow with input as {"subject": {"id": "bob"}}\n}\n',
    );
    const r = await cli(['test', '--src', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/^ {6}user: bob\n/m);
    expect(r.stdout).toMatch(/^policy test: 0 passed, 1 failed$/m);
  });

  it('says that an undefined function may be a builtin the wasm runtime lacks', async () => {
    const r = await cli(['build', '--src', join(FIXTURES, 'bad-builtin'), '--out', join(tmp, 'hint')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/undefined function time\.now_ns/);
    expect(r.stderr).toMatch(/wasm runtime .*does not implement/);
    const t = await cli(['test', '--src', join(FIXTURES, 'bad-builtin')]);
    expect(t.stderr).toMatch(/wasm runtime .*does not implement/);
  });

  it('names the line and column of a data.json that is not JSON', async () => {
    const dir = join(tmp, 'bad-data');
    await mkdir(join(dir, 'nested'), { recursive: true });
    await writeFile(join(dir, 'p.rego'), 'package p\n\nallow if data.p.users[input.subject.id]\n');
    await writeFile(join(dir, 'p_test.rego'), 'package p_test\n\ntest_x if true\n');
    await writeFile(join(dir, 'data.json'), '{"p": {}}\n');
    await writeFile(join(dir, 'nested', 'data.json'), '{\n  "users": {"alice": true,,}\n}\n');
    for (const args of [
      ['build', '--src', dir, '--out', join(tmp, 'bad-data-out')],
      ['test', '--src', dir],
    ]) {
      const r = await cli(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/nested\/data\.json:2:27: .*not valid JSON/);
    }
  });

  it('signs the bundle with --signing-key as opa build does, and refuses signing flags without a key', async () => {
    const key = join(tmp, 'hs.key');
    await writeFile(key, 'a shared secret of at least thirty-two bytes');
    const out = join(tmp, 'signed-out');
    const r = await cli([
      'build',
      '--src',
      join(ROOT, 'policies'),
      '--out',
      out,
      '--signing-key',
      key,
      '--signing-alg',
      'HS256',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const entries = readTarGz(await readFile(join(out, 'bundle.tar.gz')));
    const sigs = entries.find((e) => e.name === '/.signatures.json');
    const token = JSON.parse(sigs?.data.toString('utf8') ?? '{}').signatures[0] as string;
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
    expect(header).toEqual({ alg: 'HS256', kid: 'default' });
    expect(payload.files.map((f: { name: string }) => f.name)).toContain('policy.wasm');
    const bad = await cli([
      'build',
      '--src',
      join(ROOT, 'policies'),
      '--out',
      join(tmp, 'x'),
      '--claims-file',
      key,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/need --signing-key/);
  });
});
