/**
 * `mcp-authz policy check|eval` on the real default bundle: the bundle and entrypoints from the config
 * (or named), decisions printed as JSON, and a clear one-line error (exit 1) for a missing bundle, an input
 * that is not JSON or not a policy input.
 *
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../../src/cli/policy.js';
import { cliRun } from '../../helpers/cli.js';
import { buildBundle, defaultPolicyBundle } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const cli = () => cliRun(register);

const input = (roles: string[], tool: string) => ({
  subject: {
    id: 'u-1',
    tenant: 'acme',
    roles,
    scopes: ['mcp:tools'],
    clearance: null,
    auth_method: 'jwt',
    key_id: null,
    claims: {},
  },
  action: { method: 'tools/call', tool, arguments: { tenant: 'acme', id: 'c-1' } },
  resource: {
    kind: 'tool',
    name: tool,
    annotations: { readOnlyHint: true, destructiveHint: false, seen: true },
  },
  context: {
    time: '2026-11-23T10:00:00Z',
    hour: 10,
    minute: 0,
    weekday: 1,
    date: '2026-11-23',
    timezone: 'UTC',
    client_ip: '10.0.0.7',
    session_id: null,
    request_id: 'r-1',
    environment: 'prod',
    protocol_version: '2025-06-18',
    transport: 'streamable-http',
  },
});

let bundle: string;
let dir: string;
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

beforeAll(async () => {
  bundle = await defaultPolicyBundle();
  dir = tempDir('cli-policy');
});

describe('mcp-authz policy eval', () => {
  it('decides an input with the bundle named by --bundle', async () => {
    const c = cli();
    await c.run(
      'policy',
      'eval',
      '--bundle',
      bundle,
      file('deny.json', input(['analyst'], 'delete_customer')),
    );
    expect(c.exits).toEqual([]);
    const out = JSON.parse(c.out.join('')) as { allow: boolean; reasons: string[] };
    expect(out.allow).toBe(false);
    expect(out.reasons.join(' ')).toMatch(/delete_customer/);
    // The contract's names, and nothing about timing.
    expect(Object.keys(out).sort()).toEqual([
      'allow',
      'obligations',
      'reasons',
      'required_scopes',
      'revision',
      'sensitivity',
    ]);
  });

  it('warns where the input differs from every input the sidecar builds, and still decides it', async () => {
    const { subject, context, ...rest } = input(['analyst'], 'read_customer');
    const { tenant: _, ...withoutTenant } = subject;
    const unlike = {
      ...rest,
      subject: { ...withoutTenant, teant: 'acme' },
      context: { ...context, hour: '10' },
    };
    const c = cli();
    await c.run('policy', 'eval', '--bundle', bundle, file('unlike.json', unlike));
    expect(c.exits).toEqual([]);
    const out = JSON.parse(c.out.join('')) as { allow: boolean; input_warnings: string[] };
    expect(out.input_warnings).toEqual([
      'subject.tenant: missing (the sidecar always sends it)',
      'subject.teant: not a field the sidecar sends',
      'context.hour: Invalid input: expected number, received string',
    ]);
    // Decided as given: the tenant the policy reads is missing, so the call is denied.
    expect(out.allow).toBe(false);
    const v = cli();
    await v.run('policy', 'eval', '--bundle', bundle, '--visible', file('unlike.json', unlike));
    expect(JSON.parse(v.out.join(''))).toHaveProperty('input_warnings', out.input_warnings);
    // An input with nothing in it: ten lines, and how many more.
    const e = cli();
    await e.run(
      'policy',
      'eval',
      '--bundle',
      bundle,
      file('empty.json', { subject: {}, action: {}, resource: {}, context: {} }),
    );
    const warnings = (JSON.parse(e.out.join('')) as { input_warnings: string[] }).input_warnings;
    expect(warnings).toHaveLength(11);
    expect(warnings[10]).toMatch(/^\(and \d+ more\)$/);
  });

  it("holds the action to the shape the sidecar sends for its method, not the union's first", async () => {
    const warningsFor = async (action: Record<string, unknown>) => {
      const c = cli();
      await c.run(
        'policy',
        'eval',
        '--bundle',
        bundle,
        file('action.json', { ...input(['user'], 'echo'), action }),
      );
      expect(c.exits).toEqual([]);
      return (JSON.parse(c.out.join('')) as { input_warnings?: string[] }).input_warnings;
    };
    expect(await warningsFor({ method: 'tools/call', tool: 'echo' })).toEqual([
      'action.arguments: missing (the sidecar always sends it)',
    ]);
    expect(await warningsFor({ method: 'tools/call' })).toEqual([
      'action.tool: missing (the sidecar always sends it)',
      'action.arguments: missing (the sidecar always sends it)',
    ]);
    expect(await warningsFor({ method: 'resources/read', tool: 'echo' })).toEqual([
      'action.uri: missing (the sidecar always sends it)',
      'action.tool: not a field the sidecar sends',
    ]);
    expect(await warningsFor({ method: 'tools/list', tool: 'echo' })).toEqual([
      'action.tool: not a field the sidecar sends',
    ]);
    expect(await warningsFor({ tool: 'echo', arguments: {} })).toEqual([
      'action.method: missing (the sidecar always sends it)',
    ]);
    expect(await warningsFor({ method: 'tools/call', tool: 'echo', arguments: {} })).toBeUndefined();
  });

  it("names what is wrong with a policy's malformed result", async () => {
    const malformed = await buildBundle('test/fixtures/policies/malformed');
    const c = cli();
    await c.run(
      'policy',
      'eval',
      '--bundle',
      malformed,
      file('in.json', input(['analyst'], 'read_customer')),
    );
    // Printed, and exit 2: a failed evaluation is not the policy's deny.
    expect(c.exits).toEqual([2]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({
      allow: false,
      failure: 'invalid_result',
      failure_detail: 'allow: Invalid input: expected boolean, received string',
    });
  });

  it('prints a warning for an obligation it does not know', async () => {
    const misspelt = await buildBundle('test/fixtures/policies/unknown-obligation');
    const c = cli();
    await c.run('policy', 'eval', '--bundle', misspelt, file('o.json', input(['user'], 'echo')));
    expect(c.exits).toEqual([]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({
      allow: true,
      warnings: ['obligation "ratelimit" is unknown and ignored (known: rate_limit, mask_arguments, audit)'],
    });
  });

  it('exits 2 when --visible is no boolean, naming what it returned', async () => {
    const malformed = await buildBundle('test/fixtures/policies/malformed');
    const c = cli();
    await c.run('policy', 'eval', '--bundle', malformed, '--visible', file('v.json', input(['a'], 'x')));
    expect(c.exits).toEqual([2]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({
      visible: false,
      failure: 'invalid_result',
      failure_detail: 'mcp/authz/visible returned a string, not true or false',
    });
  });

  it('exits 2 with what failed when --visible throws (a rule conflict), as a failed decision does', async () => {
    const conflict = await buildBundle('test/fixtures/policies/conflict');
    const c = cli();
    await c.run(
      'policy',
      'eval',
      '--bundle',
      conflict,
      '--visible',
      file('two.json', input(['a', 'b'], 'x')),
    );
    expect(c.exits).toEqual([2]);
    const out = JSON.parse(c.out.join('')) as Record<string, unknown>;
    expect(out).toMatchObject({ visible: false, failure: 'evaluation_error' });
    expect(String(out.failure_detail)).toMatch(/conflict/);
    const one = cli();
    await one.run('policy', 'eval', '--bundle', conflict, '--visible', file('one.json', input(['a'], 'x')));
    expect(one.exits).toEqual([]);
    expect(JSON.parse(one.out.join(''))).toMatchObject({ visible: true });
  });

  it('takes the bundle and entrypoints from --config, and answers --visible', async () => {
    const config = file('config.yaml', `policy:\n  bundle: ${bundle}\n`);
    const c = cli();
    await c.run(
      'policy',
      'eval',
      '--config',
      config,
      file('allow.json', input(['analyst'], 'read_customer')),
    );
    expect(c.exits).toEqual([]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({ allow: true });

    const v = cli();
    await v.run(
      'policy',
      'eval',
      '-c',
      config,
      '--visible',
      file('v.json', input(['guest'], 'delete_customer')),
    );
    expect(v.exits).toEqual([]);
    expect(JSON.parse(v.out.join(''))).toEqual({
      visible: false,
      revision: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
  });

  it.each([
    ['not JSON', '{"subject":', /bad\.json is not JSON/],
    ['not a policy input', { subject: {}, action: {} }, /is not a policy input .*: resource: /],
  ])('refuses an input that is %s with one line and exit 1', async (_what, content, message) => {
    const c = cli();
    await c.run('policy', 'eval', '--bundle', bundle, file('bad.json', content));
    expect(c.exits).toEqual([1]);
    expect(c.out).toEqual([]);
    expect(c.err.join('')).toMatch(message);
    expect(c.err.join('').trim().split('\n')).toHaveLength(1);
  });

  it('says which input file it cannot read', async () => {
    const c = cli();
    await c.run('policy', 'eval', '--bundle', bundle, join(dir, 'missing.json'));
    expect(c.exits).toEqual([1]);
    expect(c.err.join('')).toMatch(/cannot read .*missing\.json: ENOENT/);
  });
});

describe('mcp-authz policy check', () => {
  it('prints the revision and entrypoints of the bundle', async () => {
    const c = cli();
    await c.run('policy', 'check', bundle);
    expect(c.exits).toEqual([]);
    const status = JSON.parse(c.out.join('')) as { loaded: boolean; revision: string };
    expect(status.revision).toMatch(/^[0-9a-f]{12}$/);
  });

  it('fails with the bundle error for a missing bundle', async () => {
    const c = cli();
    await c.run('policy', 'check', join(dir, 'no-such-bundle'));
    expect(c.exits).toEqual([1]);
    expect(c.err.join('')).toMatch(/^mcp-authz: .*no-such-bundle/);
  });

  it("says why a bundle URL cannot be reached, not just undici's 'fetch failed'", async () => {
    // A port where nothing listens: the first one a closed server had.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const c = cli();
    await c.run('policy', 'check', `http://127.0.0.1:${port}/bundle.tar.gz`);
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      `mcp-authz: bundle download from http://127.0.0.1:${port}/bundle.tar.gz failed: fetch failed (ECONNREFUSED)\n`,
    ]);
  });
});

describe('mcp-authz policy check of a bundle URL with policy.bundleTokenFile', () => {
  it('sends the bearer token the sidecar would send', async () => {
    const tarball = readFileSync(join(bundle, '..', 'bundle.tar.gz'));
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer cli-token') return void res.writeHead(401).end();
      res.end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.tar.gz`;
      const token = file('bundle-token', 'cli-token\n');
      const c = cli();
      await c.run(
        'policy',
        'check',
        '--config',
        file('token.yaml', `policy:\n  bundle: ${url}\n  bundleTokenFile: ${token}\n`),
      );
      expect(c.exits).toEqual([]);
      expect(JSON.parse(c.out.join(''))).toMatchObject({ state: 'ok' });
      expect(seen).toEqual(['Bearer cli-token']);
    } finally {
      server.close();
    }
  });

  it('sends it only to the origin of policy.bundle, never to another bundle URL named on the command line', async () => {
    const tarball = readFileSync(join(bundle, '..', 'bundle.tar.gz'));
    const seen: (string | undefined)[] = [];
    const other = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end(tarball);
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      // The configured bundle server is another origin (another port): the token is its credential only.
      const configured = `http://127.0.0.1:${(other.address() as AddressInfo).port + 1}/b.tar.gz`;
      const named = `http://127.0.0.1:${(other.address() as AddressInfo).port}/b.tar.gz`;
      const token = file('bundle-token-2', 'cli-token\n');
      const c = cli();
      await c.run(
        'policy',
        'check',
        named,
        '--config',
        file('token-2.yaml', `policy:\n  bundle: ${configured}\n  bundleTokenFile: ${token}\n`),
      );
      expect(c.exits).toEqual([]);
      expect(JSON.parse(c.out.join(''))).toMatchObject({ state: 'ok' });
      expect(seen).toEqual([undefined]);
    } finally {
      other.close();
    }
  });
});

describe('mcp-authz policy check|eval with policy.verification', () => {
  let signed: string;
  let pub: string;
  beforeAll(async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = file('signing.pem', pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    pub = file('public.pem', pair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    signed = await buildBundle('test/fixtures/policies/signed', { signing: { key: priv } });
  }, 300_000);
  const verifying = (bundleDir: string) =>
    file(
      `verify-${Math.random().toString(36).slice(2)}.yaml`,
      `policy:\n  bundle: ${bundleDir}\n  verification:\n    keyFile: ${pub}\n`,
    );

  it('loads a bundle that verifies', async () => {
    const c = cli();
    await c.run('policy', 'check', '--config', verifying(signed));
    expect(c.exits).toEqual([]);
    expect(JSON.parse(c.out.join(''))).toMatchObject({ state: 'ok' });
  });

  it('refuses, as the sidecar does, a tampered or an unsigned bundle (named or from the config)', async () => {
    const tampered = join(tempDir('cli-tampered'), 'bundle');
    cpSync(signed, tampered, { recursive: true });
    const data = join(tampered, 'data.json');
    writeFileSync(data, readFileSync(data, 'utf8').replace('"allow":true', '"allow":false'));
    const check = cli();
    await check.run('policy', 'check', '--config', verifying(tampered));
    expect(check.exits).toEqual([1]);
    expect(check.err.join('')).toMatch(/data\.json: digest mismatch/);

    const evaluated = cli();
    await evaluated.run(
      'policy',
      'eval',
      '--config',
      verifying(signed),
      '--bundle',
      await defaultPolicyBundle(),
      file('signed-in.json', input(['analyst'], 'read_customer')),
    );
    expect(evaluated.exits).toEqual([1]);
    expect(evaluated.err.join('')).toMatch(/signature check failed: no \.signatures\.json/);
  });

  it('refuses when the verification key cannot be read, instead of skipping the check', async () => {
    const config = file(
      'verify-nokey.yaml',
      `policy:\n  bundle: ${signed}\n  verification:\n    keyFile: ${join(dir, 'missing.pem')}\n`,
    );
    const c = cli();
    await c.run('policy', 'check', '--config', config);
    expect(c.exits).toEqual([1]);
    expect(c.err.join('')).toMatch(/policy\.verification\.keyFile: .*missing\.pem cannot be read/);
  });
});
