import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { register } from '../../../src/cli/config-check.js';
import { cliRun } from '../../helpers/cli.js';
import { defaultPolicyBundle, ROOT } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const TLS = join(ROOT, 'test', 'fixtures', 'tls');
const dir = tempDir('config-check');
let bundle = '';

beforeAll(async () => {
  bundle = await defaultPolicyBundle();
}, 300_000);

/** Runs `fn` with `vars` set in process.env, then puts back what each of them was (or removes it). */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, vars);
  try {
    await fn();
  } finally {
    for (const k of Object.keys(vars)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

/** A config file for the check: a loopback sidecar with API keys only, the default bundle, and `extra`. */
function configFile(extra: Record<string, unknown> = {}): string {
  const pepper = join(dir, 'pepper');
  writeFileSync(pepper, 'pepper-0123456789abcdef0123456789abcdef\n');
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  const base = {
    server: { host: '127.0.0.1', port: 8443 },
    admin: { host: '127.0.0.1' },
    upstream: { url: 'http://127.0.0.1:8081/mcp' },
    policy: { bundle },
    authn: { jwt: { enabled: false }, apiKeys: { pepperFile: pepper } },
  };
  writeFileSync(file, stringify({ ...base, ...extra }));
  return file;
}

async function check(...args: string[]) {
  const c = cliRun(register);
  await c.run('config', 'check', ...args);
  return { out: c.out.join(''), err: c.err.join(''), exits: c.exits };
}

describe('mcp-authz config check', () => {
  it('sums up a configuration the sidecar would start on, bundle loaded, without serving', async () => {
    const file = configFile({
      server: {
        host: '127.0.0.1',
        port: 8443,
        tls: { certFile: join(TLS, 'server.pem'), keyFile: join(TLS, 'server-key.pem') },
      },
      store: { redisUrl: 'redis://:s3cret-password@redis.internal:6379/2' },
    });
    const r = await check('-c', file);
    expect(r.exits).toEqual([]);
    expect(r.err).toBe('');
    expect(r.out).toContain('public    127.0.0.1:8443 TLS /mcp\n');
    expect(r.out).toContain('authn     API keys (strict)\n');
    expect(r.out).toMatch(/^policy {4}revision [0-9a-f]{12} from /m);
    expect(r.out).toContain('store     redis://:***@redis.internal:6379/2\n');
    expect(r.out).not.toContain('s3cret');
    expect(r.out.endsWith('configuration OK\n')).toBe(true);
  });

  it('lists every file the sidecar could not use, one a line, and exits 1', async () => {
    const file = configFile({
      server: {
        tls: { certFile: join(TLS, 'server.pem'), keyFile: join(TLS, 'server-renewed-key.pem') },
      },
      authn: { jwt: { enabled: false }, apiKeys: { pepperFile: join(dir, 'no-pepper') } },
    });
    const r = await check('-c', file);
    expect(r.exits).toEqual([1]);
    expect(r.err).toBe(
      'mcp-authz: invalid configuration:\n' +
        `  authn.apiKeys.pepperFile: ${join(dir, 'no-pepper')} cannot be read (ENOENT)\n` +
        '  server.tls: the key does not belong to the certificate\n',
    );
    expect(r.out).toBe('');
  });

  it('refuses a short pepper or report token, naming where it came from, without printing it', async () => {
    const shortPepper = join(dir, 'short-pepper');
    writeFileSync(shortPepper, 'hunter2\n');
    const file = configFile({ authn: { jwt: { enabled: false }, apiKeys: { pepperFile: shortPepper } } });
    await withEnv({ AUTHZ_ADMIN_REPORT_TOKEN: 'letmein' }, async () => {
      const r = await check('-c', file);
      expect(r.exits).toEqual([1]);
      expect(r.err).toBe(
        'mcp-authz: invalid configuration:\n' +
          '  authn.apiKeys.pepperFile: must be at least 16 bytes (has 7); e.g. openssl rand -hex 32\n' +
          '  AUTHZ_ADMIN_REPORT_TOKEN: must be at least 16 bytes (has 7); e.g. openssl rand -hex 32\n',
      );
    });
  });

  it('fails on a bundle the sidecar could not load, unless told to skip it', async () => {
    const missing = join(dir, 'no-bundle');
    const file = configFile({ policy: { bundle: missing } });
    const r = await check('-c', file);
    expect(r.exits).toEqual([1]);
    expect(r.err).toBe(`mcp-authz: policy.bundle: bundle not found at ${missing}\n`);
    // A bundle URL out of reach says how to check the rest.
    const url = await check('-c', configFile({ policy: { bundle: 'http://127.0.0.1:1/bundle.tar.gz' } }));
    expect(url.exits).toEqual([1]);
    expect(url.err).toMatch(/^mcp-authz: policy\.bundle: .*\(--skip-bundle checks the rest without it\)\n$/);
    const skipped = await check('-c', file, '--skip-bundle');
    expect(skipped.exits).toEqual([]);
    expect(skipped.out).toContain(`policy    not loaded (--skip-bundle): ${missing}\n`);
  });

  it('prints the warnings serve logs at start, and still passes', async () => {
    const r = await check(
      '-c',
      configFile({ server: { host: '0.0.0.0' }, policy: { bundle, dryRun: true } }),
    );
    expect(r.exits).toEqual([]);
    expect(r.err).toMatch(
      /^mcp-authz: warning: server\.trustProxyHops is 0: .*abuse rule auth-failures-ip blocks them all/m,
    );
    expect(r.err).toMatch(/^mcp-authz: warning: policy\.dryRun is on/m);
    expect(r.out).toContain('DRY RUN: nothing is enforced');
  });

  it('warns that no caller can authenticate when every method is off, and still passes', async () => {
    const r = await check(
      '-c',
      configFile({ authn: { jwt: { enabled: false }, apiKeys: { enabled: false } } }),
    );
    expect(r.exits).toEqual([]);
    expect(r.err).toBe(
      'mcp-authz: warning: authn.jwt and authn.apiKeys are disabled and authn.introspection is not set: no ' +
        'caller can authenticate, so every request is refused (401); enable authn.jwt or authn.apiKeys, or ' +
        'set authn.introspection\n',
    );
    expect(r.out).toContain('authn     none (strict)\n');
  });

  it('refuses what the authenticator refuses at start, and warns of credentials it has no key for', async () => {
    const short = join(dir, 'hs-short');
    writeFileSync(short, 'too-short');
    const hs = await check(
      '-c',
      configFile({
        authn: {
          resource: 'http://127.0.0.1:8443/mcp',
          jwt: { algorithms: ['HS256'], issuers: ['me'], hsSecretFile: short },
          apiKeys: { enabled: false },
        },
      }),
    );
    expect(hs.exits).toEqual([1]);
    expect(hs.err).toContain('authn.jwt.hsSecretFile: the HS secret must be at least 32 bytes (has 9)');
    expect(hs.err).not.toContain('too-short');
    // JWT on without a JWKS or an HS algorithm, API keys on without a pepper: serve starts, refusing them.
    const none = await check(
      '-c',
      configFile({ authn: { resource: 'http://127.0.0.1:8443/mcp', apiKeys: { enabled: true } } }),
    );
    expect(none.exits).toEqual([]);
    expect(none.err).toMatch(/^mcp-authz: warning: JWT authentication is enabled but neither/m);
    expect(none.err).toMatch(/^mcp-authz: warning: API keys are enabled but no pepper is set/m);
    expect(none.out).toContain('authn     JWT (no key: bearer tokens refused), API keys (strict)\n');
  });

  it('names a schema problem with its path', async () => {
    const r = await check('-c', configFile({ server: { port: 70000 } }));
    expect(r.exits).toEqual([1]);
    expect(r.err).toMatch(/^mcp-authz: invalid configuration:\n {2}server\.port: /);
  });
});

describe('mcp-authz config check refuses what serve refuses when it builds the sidecar', () => {
  it('a Redis URL the store cannot parse, without echoing its password', async () => {
    for (const [redisUrl, why] of [
      ['redis://:s3cret@h1:6379,h2:6379', 'several hosts need redis+sentinel:// or redis+cluster://'],
      ['redis+sentinel://:s3cret@h1:26379', 'redis+sentinel:// needs /<mastername>'],
      ['redis://:s3cr%zz@h1:6379', 'the password is not percent-encoded (write a % in it as %25)'],
      [
        'redis://:s3cret@h1/?foo=1',
        'the query parameter "foo" is not read (the only one read is tls, as tls=true or tls=false): give a password in the userinfo (redis://:password@host) or store.passwordFile, a database as the path (/2)',
      ],
    ] as const) {
      for (const only of [[], ['--schema-only']]) {
        const r = await check('-c', configFile({ store: { redisUrl } }), ...only);
        expect(r.exits).toEqual([1]);
        expect(r.err).toBe(`mcp-authz: invalid configuration:\n  store.redisUrl: ${why}\n`);
        expect(r.out).toBe('');
      }
    }
  });

  it('an HS secret shorter than the authenticator accepts', async () => {
    const hs = join(dir, 'hs-short');
    writeFileSync(hs, 'short\n');
    const r = await check(
      '-c',
      configFile({
        authn: {
          resource: 'https://mcp.example.com/mcp',
          jwt: { algorithms: ['HS256'], hsSecretFile: hs },
          apiKeys: { enabled: false },
        },
      }),
    );
    expect(r.exits).toEqual([1]);
    expect(r.err).toBe(
      'mcp-authz: invalid configuration:\n  authn.jwt.hsSecretFile: the HS secret must be at least 32 bytes (has 5)\n',
    );
  });

  it("prints the warnings the sidecar's components log as it builds them, and does not sum up JWT without any key as HS-signed tokens", async () => {
    // JWT enabled without a JWKS URI or an HS algorithm: the authenticator refuses every bearer token.
    const r = await check(
      '-c',
      configFile({ authn: { jwt: { enabled: true }, apiKeys: { enabled: false } } }),
    );
    expect(r.exits).toEqual([]);
    expect(r.err).toContain(
      'mcp-authz: warning: JWT authentication is enabled but neither authn.jwt.jwksUri nor an HS secret is set: bearer tokens are refused\n',
    );
    expect(r.out).toContain('authn     JWT (no key: bearer tokens refused) (strict)\n');
  });

  it('sums up token introspection, which takes the bearer tokens no JWT key verifies', async () => {
    const secret = join(dir, 'introspection-secret');
    writeFileSync(secret, 'client-secret\n');
    const introspection = {
      endpoint: 'https://idp.example.com/introspect',
      clientId: 'mcp-authz',
      issuer: 'https://idp.example.com',
      clientSecretFile: secret,
    };
    const resource = 'http://127.0.0.1:8443/mcp';
    const alone = await check(
      '-c',
      configFile({ authn: { resource, jwt: { enabled: true }, introspection, apiKeys: { enabled: false } } }),
    );
    expect(alone.exits).toEqual([]);
    expect(alone.err).toBe('');
    expect(alone.out).toContain(
      'authn     introspection at https://idp.example.com/introspect (all bearer tokens) (strict)\n',
    );
    const beside = await check(
      '-c',
      configFile({
        authn: {
          resource,
          jwt: { issuers: ['https://idp.example.com'], jwksUri: 'https://idp.example.com/jwks' },
          introspection,
          apiKeys: { enabled: false },
        },
      }),
    );
    expect(beside.out).toContain(
      'authn     JWT from https://idp.example.com, introspection at https://idp.example.com/introspect (opaque tokens) (strict)\n',
    );
    // A gateway key in the query (`?code=`, `?api_key=`) is not printed.
    const keyed = await check(
      '-c',
      configFile({
        authn: {
          resource,
          introspection: { ...introspection, endpoint: 'https://gw.example.com/introspect?code=GATEWAY-KEY' },
          apiKeys: { enabled: false },
        },
      }),
    );
    expect(keyed.out).toContain('introspection at https://gw.example.com/introspect?… (all bearer tokens)');
    expect(keyed.out + keyed.err).not.toContain('GATEWAY-KEY');
  });

  it('refuses an introspection endpoint holding a password, without printing it', async () => {
    const r = await check(
      '-c',
      configFile({
        authn: {
          resource: 'http://127.0.0.1:8443/mcp',
          introspection: { endpoint: 'https://client:hunter2@idp.example.com/introspect', clientId: 'c' },
        },
      }),
    );
    expect(r.exits).toEqual([1]);
    expect(r.err).toContain('authn.introspection.endpoint: must not hold a user or password');
    expect(r.out + r.err).not.toContain('hunter2');
  });

  it('refuses a password given in the Redis URL query (the store would not send it), without printing it', async () => {
    const r = await check(
      '-c',
      configFile({ store: { redisUrl: 'redis://redis.internal:6379/0?password=hunter2' } }),
    );
    expect(r.exits).toEqual([1]);
    expect(r.err).toContain('the query parameter "password" is not read');
    expect(r.out + r.err).not.toContain('hunter2');
  });

  it('prints the OTEL_* warnings serve logs at start, and still passes', async () => {
    await withEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_BSP_MAX_QUEUE_SIZE: '0',
        OTEL_LOGS_EXPORTER: 'zipkin',
      },
      async () => {
        const r = await check('-c', configFile());
        expect(r.exits).toEqual([]);
        expect(r.err).toContain(
          'mcp-authz: warning: OTEL_TRACES_SAMPLER=sometimes is not supported; using parentbased_always_on\n',
        );
        expect(r.err).toContain(
          'mcp-authz: warning: OTEL_BSP_MAX_QUEUE_SIZE=0 must be at least 1; ignored\n',
        );
        expect(r.err).toContain('OTEL_LOGS_EXPORTER=zipkin: only otlp is supported');
        expect(r.out).toContain('configuration OK');
      },
    );
  }, 30_000);

  it('exports no telemetry from the sidecar it builds, whatever OTEL_* says', async () => {
    await withEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_LOGS_EXPORTER: 'otlp',
      },
      async () => {
        const started = Date.now();
        const r = await check('-c', configFile());
        expect(r.exits).toEqual([]);
        expect(r.err).toBe('');
        expect(Date.now() - started).toBeLessThan(5_000);
      },
    );
  }, 30_000);
});
