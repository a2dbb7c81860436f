/**
 * The Dockerfile's shape, checked statically since no Docker engine runs here: the stages the packaging issue
 * asks for, Node 24 and the verified OPA release, a non-root runtime with the documented entrypoint, OCI
 * labels, every step a script in scripts/docker/ that exists and is executable, and a .dockerignore that keeps
 * the context small without dropping anything the Dockerfile copies.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** Instructions with line continuations joined and comments dropped, each tagged with its stage name. */
function parseDockerfile(text: string): { instructions: Instruction[]; args: Record<string, string> } {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const instructions: Instruction[] = [];
  const args: Record<string, string> = {};
  let stage = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') stage = /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? '';
    if (upper === 'ARG' && stage === '') {
      const [name = '', value = ''] = rest.split('=');
      args[name] = value;
    }
    instructions.push({ op: upper, args: rest.replace(/\s+/g, ' '), stage });
  }
  return { instructions, args };
}

/** A .dockerignore pattern as a RegExp over context-relative paths (Go filepath.Match plus `**`). */
function ignoreRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern also excludes everything below a matching folder.
  return new RegExp(`^${re}(/.*)?$`);
}

let dockerfile: ReturnType<typeof parseDockerfile>;
let ignore: string[];

beforeAll(async () => {
  dockerfile = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
  ignore = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
});

const inStage = (stage: string) => dockerfile.instructions.filter((i) => i.stage === stage);
const resolveArgs = (s: string) =>
  s.replace(/\$\{(\w+)\}/g, (_, name: string) => dockerfile.args[name] ?? `<${name}>`);

describe('Dockerfile', () => {
  it('has the deps, policy, build and runtime stages, on Node 24 and the official OPA image', async () => {
    const froms = dockerfile.instructions.filter((i) => i.op === 'FROM').map((i) => resolveArgs(i.args));
    expect(froms).toEqual([
      'node:24.22.3-bookworm AS deps',
      'openpolicyagent/opa:1.4.2-debug AS policy',
      'deps AS build',
      'node:24.22.3-bookworm-slim AS runtime',
    ]);
    // The OPA release is the one the project's own compiler is verified against.
    const toolchain = await readFile(join(ROOT, 'scripts', 'policy-toolchain.mjs'), 'utf8');
    expect(toolchain).toContain(`EXPECTED_OPA_VERSION = '${dockerfile.args.OPA_VERSION}'`);
    // `npm run test:node-image` tests on the very release the image runs.
    const nodeImage = await readFile(join(ROOT, 'scripts', 'node-image.mjs'), 'utf8');
    expect(nodeImage).toContain(`NODE_IMAGE_VERSION = '${dockerfile.args.NODE_VERSION}'`);
  });

  it('runs every step through a script in scripts/docker/ that exists and is executable', async () => {
    const runs = dockerfile.instructions.filter((i) => i.op === 'RUN');
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const run of runs) {
      const scripts = [...run.args.matchAll(/scripts\/docker\/[\w.-]+/g)].map((m) => m[0]);
      expect(scripts.length, run.args).toBeGreaterThan(0);
      for (const script of scripts) {
        const mode = (await stat(join(ROOT, script))).mode;
        expect(mode & 0o111, `${script} is executable`).not.toBe(0);
        const text = await readFile(join(ROOT, script), 'utf8');
        if (script.endsWith('.sh')) {
          expect(text.startsWith('#!/bin/sh\n'), script).toBe(true);
          expect(text).toMatch(/^set -eu$/m);
        }
      }
    }
    expect(inStage('deps').some((i) => i.op === 'RUN' && i.args.includes('build.sh deps'))).toBe(true);
    expect(inStage('build').some((i) => i.op === 'RUN' && i.args.includes('build.sh compile prune'))).toBe(
      true,
    );
  });

  it('compiles the policy in the OPA image with both entrypoints, the runtime capabilities and no tests', async () => {
    const policy = inStage('policy');
    expect(policy.find((i) => i.op === 'ENV')?.args).toBe('OPA_BIN=/opa');
    expect(
      policy.some(
        (i) => i.op === 'COPY' && i.args.startsWith('--from=deps') && i.args.includes('capabilities.json'),
      ),
    ).toBe(true);
    // Type-checked against the policy input's schema, which the stage copies in and names.
    expect(
      policy.some((i) => i.op === 'COPY' && i.args === 'schema/policy-input.json schema/policy-input.json'),
    ).toBe(true);
    expect(policy.find((i) => i.op === 'RUN')?.args).toContain(
      '"schema/policy-input.json", "build/docker/capabilities.test.json"]',
    );
    const script = await readFile(join(ROOT, 'scripts', 'docker', 'policy.sh'), 'utf8');
    expect(script).toContain('"$opa" check --schema "$schema" --capabilities "$check_caps"');
    const build = script.slice(script.indexOf('"$opa" build'));
    for (const flag of [
      '-t wasm',
      '-e mcp/authz/decision',
      '-e mcp/authz/visible',
      '--capabilities "$caps"',
      "--ignore '*_test.rego'",
    ]) {
      expect(build).toContain(flag);
    }
  });

  it('runtime: non-root uid 10001, the documented entrypoint, command and health check, the baked-in policy, OCI labels', () => {
    const runtime = inStage('runtime');
    const only = (op: string) => runtime.filter((i) => i.op === op).map((i) => i.args);
    expect(only('USER')).toEqual(['10001:10001']);
    expect(only('ENTRYPOINT')).toEqual(['["node", "/app/dist/src/main.js"]']);
    expect(only('CMD')).toEqual(['["serve"]']);
    // serve and the health check find the config the same way, so the check follows admin.port.
    expect(only('ENV').join(' ')).toContain('AUTHZ_CONFIG=/etc/mcp-authz/config.yaml');
    expect(only('HEALTHCHECK')[0]).toMatch(/CMD \["node", "\/app\/dist\/src\/main.js", "health"\]$/);
    const copies = only('COPY');
    expect(copies).toContain(
      '--from=policy --chown=0:0 --chmod=0444 /out/bundle.tar.gz ./policy/bundle.tar.gz',
    );
    expect(copies.some((c) => c.includes('/src/dist/src ./dist/src'))).toBe(true);
    expect(copies.some((c) => c.includes('/src/node_modules ./node_modules'))).toBe(true);
    // package.json carries "type": "module", which dist/src needs.
    expect(copies.some((c) => c.includes('/src/package.json ./package.json'))).toBe(true);
    expect(only('WORKDIR')).toEqual(['/app']);
    const labels = only('LABEL').join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'licenses', 'base.name']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    // Everything the runtime user could write is outside the image: files are root-owned.
    for (const c of copies) expect(c).toContain('--chown=0:0');
    // No step after USER runs as root.
    const afterUser = runtime.slice(runtime.findIndex((i) => i.op === 'USER'));
    expect(afterUser.filter((i) => i.op === 'RUN')).toEqual([]);
  });
});

describe('.dockerignore', () => {
  const ignored = (path: string) => {
    let out = false;
    for (const p of ignore) {
      const negate = p.startsWith('!');
      if (ignoreRegExp(negate ? p.slice(1) : p).test(path)) out = !negate;
    }
    return out;
  };

  it('keeps out what the image does not need', () => {
    for (const p of [
      'node_modules',
      '.git',
      '.cache/opa-toolchain/bin/policyc',
      'dist/src/main.js',
      'build/policy',
      'test/unit/x.test.ts',
      'charts/mcp-authz/values.yaml',
      'coverage',
      'README.md',
      'examples/mcp-server/main.ts',
      'schema/config.json',
    ]) {
      expect(ignored(p), p).toBe(true);
    }
  });

  it('keeps everything the Dockerfile copies from the context', () => {
    const sources = dockerfile.instructions
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(' ')
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toContain('policies/');
    for (const s of sources) expect(ignored(s.replace(/\/$/, '')), s).toBe(false);
    for (const file of [
      'policies/authz.rego',
      'policies/data.json',
      'src/main.ts',
      'scripts/docker/build.sh',
    ]) {
      expect(ignored(file), file).toBe(false);
    }
    // RUN --mount=type=bind sources come from the context too.
    for (const run of dockerfile.instructions.filter((i) => i.op === 'RUN')) {
      const bind = /source=([^,\s]+)/.exec(run.args)?.[1];
      if (bind) expect(ignored(bind), bind).toBe(false);
    }
  });
});
