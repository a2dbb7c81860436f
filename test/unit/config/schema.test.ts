import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as D from '../../../src/config/defaults.js';
import { applyEnv, ENV_OVERRIDES, unknownEnvNames } from '../../../src/config/env.js';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { MAX_TIMER_MS } from '../../../src/config/schema-common.js';
import { ConfigError } from '../../../src/errors/errors.js';
import { MAX_BUNDLE_BYTES } from '../../../src/policy/bundle.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('config defaults', () => {
  it('parses {} into the named defaults', () => {
    const c = parseConfig({});
    expect(c.server).toEqual({
      host: D.PUBLIC_HOST,
      port: D.PUBLIC_PORT,
      mcpPath: D.MCP_PATH,
      legacySsePath: D.LEGACY_SSE_PATH,
      legacyMessagesPath: D.LEGACY_MESSAGES_PATH,
      maxBodyBytes: D.MAX_BODY_BYTES,
      maxBufferedBodyBytes: 64 * 1_048_576,
      maxRequestHeaders: D.MAX_REQUEST_HEADERS,
      maxBatchMessages: D.MAX_BATCH_MESSAGES,
      maxStreamsPerCaller: D.MAX_STREAMS_PER_CALLER,
      maxConnections: D.MAX_CONNECTIONS,
      maxSessionsPerCaller: D.MAX_SESSIONS_PER_CALLER,
      streamRecheckMs: D.STREAM_RECHECK_MS,
      headersTimeoutMs: D.HEADERS_TIMEOUT_MS,
      sendTimeoutMs: D.SEND_TIMEOUT_MS,
      shutdownDelayMs: D.SHUTDOWN_DELAY_MS,
      shutdownGraceMs: D.SHUTDOWN_GRACE_MS,
      allowedOrigins: [],
      protocolVersions: ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'],
      trustProxyHops: 0,
      unknownSessions: D.UNKNOWN_SESSIONS,
      maxTasksPerCaller: D.MAX_TASKS_PER_CALLER,
      maxTaskBindingMs: D.MAX_TASK_BINDING_MS,
      unknownTasks: D.UNKNOWN_TASKS,
    });
    expect(D.UNKNOWN_SESSIONS).toBe('reject');
    expect(D.UNKNOWN_TASKS).toBe('reject');
    expect(D.MAX_TRACKED_TASKS).toBe(100_000);
    expect(D.MAX_TASKS_PER_CALLER).toBe(1_000);
    expect(D.MAX_TASK_BINDING_MS).toBe(86_400_000);
    expect(D.MAX_BATCH_MESSAGES).toBe(100);
    expect(D.STREAM_RECHECK_MS).toBe(5_000);
    expect(D.SEND_TIMEOUT_MS).toBe(60_000);
    expect(D.UPSTREAM_READINESS_CHECK_MS).toBe(2_000);
    expect(D.MAX_STREAMS_PER_CALLER).toBe(32);
    expect(D.UPSTREAM_MAX_PENDING_REQUESTS).toBe(1024);
    expect(c.admin).toEqual({ host: D.ADMIN_HOST, port: D.ADMIN_PORT });
    expect(c.upstream).toEqual({
      url: D.UPSTREAM_URL,
      connectTimeoutMs: D.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: D.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: D.UPSTREAM_BODY_TIMEOUT_MS,
      connections: D.UPSTREAM_CONNECTIONS,
      maxPendingRequests: D.UPSTREAM_MAX_PENDING_REQUESTS,
      readinessCheckMs: D.UPSTREAM_READINESS_CHECK_MS,
    });
    expect(c.policy).toEqual({
      bundle: D.POLICY_BUNDLE,
      watch: true,
      pollIntervalMs: D.POLICY_POLL_INTERVAL_MS,
      decisionEntrypoint: 'mcp/authz/decision',
      visibleEntrypoint: 'mcp/authz/visible',
      timezone: 'UTC',
      environment: 'prod',
      decisionCache: { enabled: true, maxEntries: D.POLICY_DECISION_CACHE_ENTRIES },
      maxArgumentValues: 10_000,
      maxBundleBytes: MAX_BUNDLE_BYTES,
      dryRun: false,
    });
    expect(c.policy.verification).toBeUndefined(); // bundles are not checked unless asked to
    expect(parseConfig({ policy: { verification: { keyFile: '/k.pem' } } }).policy.verification).toEqual({
      keyFile: '/k.pem',
      algorithm: D.POLICY_VERIFICATION_ALGORITHM,
      keyId: D.POLICY_VERIFICATION_KEY_ID,
      scope: '',
      excludeFiles: [],
    });
    // An exclusion glob Go's filepath.Match refuses is named when the config is read, not at every bundle.
    expect(() =>
      parseConfig({ policy: { verification: { keyFile: '/k.pem', excludeFiles: ['ok/*', '[a'] } } }),
    ).toThrow(/policy\.verification\.excludeFiles\.1: is no glob Go's filepath\.Match reads/);
    expect(D.POLICY_VERIFICATION_ALGORITHM).toBe('RS256'); // OPA's default
    expect(D.POLICY_VERIFICATION_KEY_ID).toBe('default'); // the kid `opa build --signing-key` writes
    expect(c.authn.mode).toBe('strict');
    expect(c.authn.jwt.algorithms).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(c.authn.jwt.clockToleranceSec).toBe(30);
    expect(c.authn.jwt.types).toEqual(['at+jwt', 'application/at+jwt', 'JWT']);
    expect(c.authn.jwt.jwks).toEqual({ timeoutMs: 5_000, cooldownMs: 30_000, cacheMaxAgeMs: 600_000 });
    expect(c.authn.jwt.claims).toEqual({
      subject: 'sub',
      tenant: 'tenant',
      roles: 'roles',
      scopes: 'scope',
      clearance: 'clearance',
    });
    expect(c.authn.jwt.cacheMaxEntries).toBe(D.TOKEN_CACHE_MAX_ENTRIES);
    expect(c.authn.apiKeys).toEqual({ enabled: true, prefix: 'mcpk', header: 'x-api-key' });
    expect(c.authn.identityHeaders.strip).toContain('x-forwarded-user');
    expect(c.store).toEqual({
      keyPrefix: D.STORE_KEY_PREFIX,
      commandTimeoutMs: D.STORE_COMMAND_TIMEOUT_MS,
      revocationPollIntervalMs: D.REVOCATION_POLL_INTERVAL_MS,
    });
    expect(c.log.level).toBe('info');
    expect(c.telemetry).toEqual({ subject: 'hash', traceContext: 'parent', stageMetrics: false });
    expect(c.audit).toEqual({
      arguments: 'hash',
      maskArguments: [],
      maxBuffered: D.AUDIT_MAX_BUFFERED,
      maxBufferedBytes: D.AUDIT_MAX_BUFFERED_BYTES,
    });
    expect(c.ratelimit).toEqual({
      enabled: true,
      failureMode: 'local',
      scope: 'subject_tool',
      tiers: D.RATELIMIT_TIERS,
      default: D.RATELIMIT_DEFAULT,
      fastPath: true,
    });
    expect(c.ratelimit.tiers.guest).toEqual({ capacity: 50, refillPerSecond: 1 });
    expect(c.abuse).toEqual({ rules: D.ABUSE_RULES, pollIntervalMs: D.ABUSE_POLL_INTERVAL_MS });
  });

  it('freezes the result deeply', () => {
    const c = parseConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.authn.jwt.algorithms)).toBe(true);
  });
});

describe('config errors', () => {
  it('reports every issue with its dotted path', () => {
    const err = (() => {
      try {
        parseConfig({
          server: { port: 'eighty' },
          upstream: { url: 'ftp://x' },
          authn: { jwt: { algorithms: ['none'] } },
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    expect(issues).toMatch(/^server\.port: /m);
    expect(issues).toMatch(/^upstream\.url: /m);
    expect(issues).toMatch(/^authn\.jwt\.algorithms\.0: /m);
  });

  it('rejects unknown keys so typos are caught', () => {
    expect(() => parseConfig({ sever: {} })).toThrow(ConfigError);
  });

  it('refuses a JWKS URL with a user or password in it (fetch would refuse it, naming the password)', () => {
    const jwt = { jwksUri: 'https://user:s3cret@idp.example.com/jwks', issuers: ['https://idp.example.com'] };
    const attempt = () => parseConfig({ authn: { resource: 'https://mcp.example.com/mcp', jwt } });
    expect(attempt).toThrow(/authn\.jwt\.jwksUri: must not hold a user or password/);
  });

  it('refuses MCP paths a request path can never equal, and a subject claim path naming no claim', () => {
    // Both validated before, then every MCP request was answered 404, or every token refused.
    for (const mcpPath of ['/mcp?x=1', '/mcp#a', '/m cp', 'mcp', '/mcp-é', '/mcp\n']) {
      expect(() => parseConfig({ server: { mcpPath } }), mcpPath).toThrow(/server\.mcpPath: must be a path/);
    }
    expect(() => parseConfig({ server: { legacySsePath: '/sse?' } })).toThrow(/server\.legacySsePath/);
    for (const ok of ['/v1/mcp-rpc', '/mcp/', '/mcp-%C3%A9', "/a_b.c~d!$&'()*+,;=:@"]) {
      expect(parseConfig({ server: { mcpPath: ok } }).server.mcpPath).toBe(ok);
    }
    expect(() => parseConfig({ authn: { jwt: { claims: { subject: '' } } } })).toThrow(
      /authn\.jwt\.claims\.subject: must name a claim/,
    );
  });

  it('requires an HS secret when HS algorithms are allowed', () => {
    // Naming the variable too: `config check` in CI, where the secret comes by env, would send one to the file.
    expect(() => parseConfig({ authn: { jwt: { algorithms: ['HS256'] } } })).toThrow(
      /hsSecretFile: required .*\(or set AUTHZ_JWT_HS_SECRET\)/,
    );
  });

  it('requires the issuers with a JWKS URL (iss check; RFC 9728 metadata names an authorization server)', () => {
    const jwt = { jwksUri: 'https://idp.example.com/jwks' };
    const resource = 'https://mcp.example.com/mcp';
    expect(() => parseConfig({ authn: { resource, jwt } })).toThrow(/authn\.jwt\.issuers: required/);
    expect(
      parseConfig({ authn: { resource, jwt: { ...jwt, issuers: ['https://idp.example.com'] } } }),
    ).toBeTruthy();
    // JWT off: nothing to check the issuer of.
    expect(parseConfig({ authn: { resource, jwt: { ...jwt, enabled: false } } })).toBeTruthy();
  });

  it('requires an authorization server to name with token introspection (the metadata must list one)', () => {
    const resource = 'https://mcp.example.com/mcp';
    const introspection = { endpoint: 'https://idp.example.com/introspect', clientId: 'c' };
    const off = { enabled: false };
    expect(() => parseConfig({ authn: { resource, jwt: off, introspection } })).toThrow(
      /authn\.introspection\.issuer \(or authn\.resourceMetadata\.authorizationServers\): required/,
    );
    for (const named of [
      { jwt: off, introspection: { ...introspection, issuer: 'https://idp.example.com' } },
      { jwt: off, introspection, resourceMetadata: { authorizationServers: ['https://idp.example.com'] } },
      { jwt: { issuers: ['https://idp.example.com'] }, introspection },
    ]) {
      expect(parseConfig({ authn: { resource, ...named } })).toBeTruthy();
    }
  });

  it('refuses a store key prefix with { or } (Redis Cluster would split the scripts across slots)', () => {
    expect(() => parseConfig({ store: { keyPrefix: 'app{}:' } })).toThrow(
      /store\.keyPrefix: must not contain \{ or \}/,
    );
    expect(() => parseConfig({ store: { keyPrefix: 'app{x}:' } })).toThrow(/store\.keyPrefix/);
    expect(parseConfig({ store: { keyPrefix: 'app:' } }).store.keyPrefix).toBe('app:');
  });

  it('accepts only the bundle signing algorithms OPA signs with (no none, no EdDSA)', () => {
    for (const algorithm of ['none', 'EdDSA', 'rs256']) {
      expect(() => parseConfig({ policy: { verification: { algorithm } } })).toThrow(
        /policy\.verification\.algorithm/,
      );
    }
    expect(
      parseConfig({ policy: { verification: { algorithm: 'HS512' } } }).policy.verification?.algorithm,
    ).toBe('HS512');
  });

  it('takes required and supported scopes only as OAuth scope tokens (a space makes two scopes)', () => {
    for (const requiredScopes of [['mcp:read mcp:write'], ['tools:"x"'], ['']]) {
      expect(() => parseConfig({ authn: { jwt: { requiredScopes } } }), String(requiredScopes)).toThrow(
        'authn.jwt.requiredScopes.0: an OAuth scope token',
      );
    }
    expect(() => parseConfig({ authn: { resourceMetadata: { scopesSupported: ['a b'] } } })).toThrow(
      'authn.resourceMetadata.scopesSupported.0: an OAuth scope token',
    );
    expect(
      parseConfig({ authn: { jwt: { requiredScopes: ['mcp:read', 'mcp:write'] } } }).authn.jwt.requiredScopes,
    ).toEqual(['mcp:read', 'mcp:write']);
  });

  it('refuses an upstream.url with a query or fragment, which requests would not carry', () => {
    for (const url of ['http://127.0.0.1:8081/mcp?tenant=acme', 'http://127.0.0.1:8081/mcp#x']) {
      expect(() => parseConfig({ upstream: { url } })).toThrow(
        'upstream.url: must not hold a query or fragment: requests go to its path',
      );
    }
    expect(parseConfig({ upstream: { url: 'http://127.0.0.1:8081/mcp' } }).upstream.url).toBe(
      'http://127.0.0.1:8081/mcp',
    );
  });

  it("refuses an upstream.url on the sidecar's own port: every allowed call would loop back into it", () => {
    // Forwarded without its credentials, the call comes back as a 401 "no credentials" for a caller who sent
    // valid ones, while /readyz is happy: the upstream port accepts connections.
    for (const url of ['http://127.0.0.1:8080/mcp', 'http://localhost:8080/mcp', 'http://[::1]:8080/mcp']) {
      expect(() => parseConfig({ upstream: { url } })).toThrow(
        "upstream.url: points at the sidecar's own port 8080 (server.port): the MCP server must listen on another one",
      );
    }
    expect(() =>
      parseConfig({ admin: { port: 9191 }, upstream: { url: 'http://127.0.0.1:9191/mcp' } }),
    ).toThrow("upstream.url: points at the sidecar's own port 9191 (admin.port)");
    // Another host, another port, or a public listener on one address only: not this sidecar.
    expect(() => parseConfig({ upstream: { url: 'http://10.0.0.5:8080/mcp' } })).not.toThrow();
    expect(() => parseConfig({ upstream: { url: 'http://127.0.0.1:8081/mcp' } })).not.toThrow();
    expect(() =>
      parseConfig({ server: { host: '10.0.0.5' }, upstream: { url: 'http://127.0.0.1:8080/mcp' } }),
    ).not.toThrow();
    // Two loopback addresses are two listeners: the MCP server may share the port on the other one.
    for (const [host, url] of [
      ['127.0.0.1', 'http://[::1]:8080/mcp'],
      ['::1', 'http://127.0.0.1:8080/mcp'],
      ['127.0.0.1', 'http://127.0.0.2:8080/mcp'],
      ['0.0.0.0', 'http://[::1]:8080/mcp'],
    ] as const) {
      expect(() => parseConfig({ server: { host }, upstream: { url } }), `${host} ${url}`).not.toThrow();
    }
    // A name that merely starts with 127. is a host on the network.
    expect(() => parseConfig({ upstream: { url: 'http://127.mcp.example.com:8080/mcp' } })).not.toThrow();
    // The same address, or localhost on either side (either family), or the unspecified address (which
    // connects to loopback): a loop.
    for (const [host, url] of [
      ['::', 'http://0.0.0.0:8080/mcp'],
      ['127.0.0.1', 'http://0.0.0.0:8080/mcp'],
      ['127.0.0.1', 'http://127.0.0.1:8080/mcp'],
      ['::1', 'http://[::1]:8080/mcp'],
      ['localhost', 'http://127.0.0.1:8080/mcp'],
      ['127.0.0.1', 'http://localhost:8080/mcp'],
      ['0.0.0.0', 'http://127.0.0.1:8080/mcp'],
    ] as const) {
      expect(() => parseConfig({ server: { host }, upstream: { url } }), `${host} ${url}`).toThrow(
        /own port 8080/,
      );
    }
  });

  it('rejects an unknown time zone', () => {
    expect(() => parseConfig({ policy: { timezone: 'Mars/Olympus' } })).toThrow(/policy\.timezone/);
  });

  it('checks abuse rules as the detector does, so a rule it would refuse never passes the config check', () => {
    const rule = { kind: 'auth_failures_subject', threshold: 5, windowSec: 60 } as const;
    const issues = (() => {
      try {
        parseConfig({
          abuse: {
            rules: [
              { ...rule, name: 'r', action: 'block' },
              { ...rule, name: 'r', action: 'alert', blockSec: 60, tool: 'delete_*' },
            ],
          },
        });
      } catch (e) {
        return (e as ConfigError).issues;
      }
      return [];
    })();
    expect([...issues].sort()).toEqual([
      'abuse.rules.1.blockSec: blockSec applies to action block only',
      'abuse.rules.1.name: duplicate rule name "r"',
      'abuse.rules.1.tool: tool applies to kind tool_calls only',
    ]);
  });

  it('refuses the admin port on the public one when the hosts overlap (the same, or either a wildcard)', () => {
    for (const admin of [{ port: 9000 }, { port: 9000, host: '0.0.0.0' }, { port: 9000, host: '::' }]) {
      expect(() => parseConfig({ server: { port: 9000, host: '127.0.0.1' }, admin })).toThrow(
        /admin\.port: must differ from server\.port/,
      );
    }
    expect(() =>
      parseConfig({ server: { port: 9000, host: '127.0.0.1' }, admin: { port: 9000, host: '127.0.0.2' } }),
    ).not.toThrow();
  });

  it('takes a partial ratelimit.default, keeping the default of the field left out', () => {
    expect(parseConfig({ ratelimit: { default: { capacity: 50 } } }).ratelimit.default).toEqual({
      capacity: 50,
      refillPerSecond: 1,
    });
    expect(parseConfig({}).ratelimit.default).toEqual({ capacity: 10, refillPerSecond: 1 });
  });

  it('refuses a rule window or block longer than 10 years (an operator’s "forever" has no date to end on)', () => {
    const rule = { name: 'r', kind: 'auth_failures_ip', threshold: 1, action: 'block' } as const;
    expect(() => parseConfig({ abuse: { rules: [{ ...rule, windowSec: 60, blockSec: 1e13 }] } })).toThrow(
      /abuse\.rules\.0\.blockSec/,
    );
    expect(() => parseConfig({ abuse: { rules: [{ ...rule, windowSec: 1e13 }] } })).toThrow(
      /abuse\.rules\.0\.windowSec/,
    );
    expect(() =>
      parseConfig({ abuse: { rules: [{ ...rule, windowSec: 60, blockSec: 10 * 365 * 86_400 }] } }),
    ).not.toThrow();
  });
});

describe('config sources', () => {
  it('layers env over file over defaults', () => {
    const dir = tempDir('cfg');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'server:\n  port: 7000\n  mcpPath: /rpc\nupstream:\n  url: http://127.0.0.1:9000\n');
    const c = loadConfig({
      file,
      env: { AUTHZ_PORT: '7100', AUTHZ_JWT_AUDIENCES: 'a, b', AUTHZ_POLICY_DECISION_CACHE: 'false' },
    });
    expect(c.server.port).toBe(7100);
    expect(c.policy.decisionCache).toEqual({ enabled: false, maxEntries: D.POLICY_DECISION_CACHE_ENTRIES });
    expect(c.server.mcpPath).toBe('/rpc');
    expect(c.upstream.url).toBe('http://127.0.0.1:9000');
    expect(c.authn.jwt.audiences).toEqual(['a', 'b']);
  });

  it('ignores variables that are not on the explicit list, and lists them for a warning', () => {
    const env = {
      AUTHZ_SERVER_PORT: '1',
      AUTHZ_REDIS_ULR: 'redis://x',
      AUTHZ_PORT: '7100',
      AUTHZ_CONFIG: '',
    };
    const c = loadConfig({ env });
    expect(c.server.port).toBe(7100);
    expect(unknownEnvNames({ ...env, AUTHZ_API_KEY_PEPPER: 'p', PATH: '/bin' })).toEqual([
      'AUTHZ_REDIS_ULR',
      'AUTHZ_SERVER_PORT',
    ]);
  });

  it('names the environment variable behind a bad value', () => {
    expect(() => loadConfig({ env: { AUTHZ_PORT: '80a0' } })).toThrow(/server\.port: .* \(from AUTHZ_PORT\)/);
    expect(() => loadConfig({ env: { AUTHZ_AUTHN_MODE: 'sometimes' } })).toThrow(/\(from AUTHZ_AUTHN_MODE\)/);
  });

  it('reads a boolean variable in the usual spellings, and refuses others by name', () => {
    for (const [raw, want] of [
      ['0', false],
      ['False', false],
      [' no ', false],
      ['off', false],
      ['1', true],
      ['TRUE', true],
      ['yes', true],
      ['On', true],
    ] as const) {
      expect(loadConfig({ env: { AUTHZ_POLICY_WATCH: raw } }).policy.watch).toBe(want);
    }
    expect(() => loadConfig({ env: { AUTHZ_POLICY_WATCH: 'sometimes' } })).toThrow(
      /policy\.watch: .* \(from AUTHZ_POLICY_WATCH\)/,
    );
  });

  it('refuses durations a Node timer cannot hold (it would fire at once, not never)', () => {
    expect(parseConfig({ policy: { pollIntervalMs: MAX_TIMER_MS } }).policy.pollIntervalMs).toBe(
      MAX_TIMER_MS,
    );
    for (const config of [
      { policy: { pollIntervalMs: 3_000_000_000 } },
      { server: { streamRecheckMs: MAX_TIMER_MS + 1 } },
      { store: { revocationPollIntervalMs: 3_000_000_000 } },
    ]) {
      expect(() => parseConfig(config)).toThrow(/at most 2147483647 ms/);
    }
  });

  it('refuses header names that are not HTTP tokens, or that frame, route or carry credentials', () => {
    expect(
      parseConfig({ authn: { identityHeaders: { subject: 'X-Subject' } } }).authn.identityHeaders.subject,
    ).toBe('x-subject');
    for (const name of ['', 'x mcp subject', 'x-subject:', 'Host', 'content-length', 'authorization']) {
      expect(() => parseConfig({ authn: { identityHeaders: { subject: name } } })).toThrow(
        /authn\.identityHeaders\.subject: /,
      );
    }
    expect(() => parseConfig({ authn: { apiKeys: { header: 'transfer-encoding' } } })).toThrow(
      /authn\.apiKeys\.header: must not be one of /,
    );
  });

  it('refuses a header to strip that is no HTTP header name: it matched nothing, and the header went through', () => {
    // A spoofable identity header the operator meant to remove (`x-remote-user:` copied with its colon, a
    // stray space) reached the upstream as the caller sent it.
    for (const name of ['x-remote-user:', ' x-remote-user', 'x remote user', '']) {
      expect(() => parseConfig({ authn: { identityHeaders: { strip: [name] } } }, {}), name).toThrow(
        /authn\.identityHeaders\.strip\.0: not an HTTP header name/,
      );
    }
    // Any header name may be stripped, credential headers too (they always are), and it is lower-cased.
    expect(
      parseConfig({ authn: { identityHeaders: { strip: ['X-Remote-User', 'authorization'] } } }, {}).authn
        .identityHeaders.strip,
    ).toEqual(['x-remote-user', 'authorization']);
  });

  it('reports a malformed upstream.url with its path, next to the other problems', () => {
    const attempt = () => parseConfig({ server: { port: 99_999 }, upstream: { url: 'not a url' } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/server\.port: [\s\S]*upstream\.url: Invalid URL/);
  });

  it('refuses a user or password in upstream.url (none is sent, and it would be logged)', () => {
    expect(() => parseConfig({ upstream: { url: 'http://mcp:s3cret@127.0.0.1:8081/mcp' } })).toThrow(
      /upstream\.url: must not hold a user or password/,
    );
    expect(() => parseConfig({ upstream: { url: 'http://mcp:s3cret@127.0.0.1:8081/mcp' } })).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('s3cret') }),
    );
  });

  it("loads the README's local configuration (examples/local-config.yaml) as the walkthrough needs it", () => {
    const c = loadConfig({ file: 'examples/local-config.yaml', env: {} });
    expect(c.authn.resource).toBe('http://127.0.0.1:8080/mcp');
    expect(c.authn.jwt.claims.roles).toBe('roles');
    expect(c.upstream.url).toBe('http://127.0.0.1:8081/mcp');
    expect(c.store.redisUrl).toBeUndefined();
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadConfig({ file: '/nonexistent/config.yaml', env: {} })).toThrow(/nonexistent.*ENOENT/);
    // The image sets AUTHZ_CONFIG: a command run without the config mounted names the variable behind the path.
    expect(() => loadConfig({ env: { AUTHZ_CONFIG: '/nonexistent/config.yaml' } })).toThrow(
      '(file) /nonexistent/config.yaml (from AUTHZ_CONFIG): cannot be read (ENOENT)',
    );
    const dir = tempDir('cfg');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server: [unclosed');
    expect(() => loadConfig({ file, env: {} })).toThrow(/not valid YAML/);
  });

  it('every env override points at a real setting', () => {
    for (const o of ENV_OVERRIDES) {
      expect(o.name).toMatch(/^AUTHZ_[A-Z_]+$/);
      const raw: Record<string, unknown> = {};
      expect(applyEnv(raw, { [o.name]: 'true' }), o.name).toEqual([o.name]);
      // Every section is a strict object: a path naming no setting is refused as an unrecognized key (a value
      // the setting itself refuses is another issue, not this test's).
      const issues = (() => {
        try {
          parseConfig(raw, {});
          return [];
        } catch (e) {
          return (e as ConfigError).issues;
        }
      })();
      expect(
        issues.filter((i) => i.includes('Unrecognized key')),
        o.name,
      ).toEqual([]);
    }
  });
});

describe('bounds and sources no other test pins (mutation review)', () => {
  const resource = 'https://mcp.example.com/mcp';

  it('refuses 0 for a positive duration and a negative one where 0 turns a feature off', () => {
    for (const config of [
      { policy: { pollIntervalMs: 0 } },
      { upstream: { connectTimeoutMs: 0 } },
      { upstream: { bodyTimeoutMs: -1 } },
      { upstream: { readinessCheckMs: -1 } },
      { server: { headersTimeoutMs: 0 } },
    ]) {
      expect(() => parseConfig(config, {}), JSON.stringify(config)).toThrow(ConfigError);
    }
    expect(parseConfig({ upstream: { bodyTimeoutMs: 0 } }, {}).upstream.bodyTimeoutMs).toBe(0);
  });

  it('holds server.headersTimeoutMs to the 30 s the whole request has (Node answers 408 at that first)', () => {
    expect(D.HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(parseConfig({ server: { headersTimeoutMs: 30_000 } }, {}).server.headersTimeoutMs).toBe(30_000);
    expect(() => parseConfig({ server: { headersTimeoutMs: 30_001 } }, {})).toThrow(
      /server\.headersTimeoutMs: at most 30000/,
    );
  });

  it('holds server.headersTimeoutMs to at least 100 ms: the check timer runs as often as the timeout', () => {
    expect(parseConfig({ server: { headersTimeoutMs: 100 } }, {}).server.headersTimeoutMs).toBe(100);
    expect(() => parseConfig({ server: { headersTimeoutMs: 99 } }, {})).toThrow(
      /server\.headersTimeoutMs: at least 100/,
    );
  });

  it('refuses a JWKS URL with a password and no user', () => {
    const jwt = { jwksUri: 'https://:s3cret@idp.example.com/jwks', issuers: ['https://idp.example.com'] };
    expect(() => parseConfig({ authn: { resource, jwt } }, {})).toThrow(
      /authn\.jwt\.jwksUri: must not hold a user or password/,
    );
  });

  it('takes the HS secret from AUTHZ_JWT_HS_SECRET, and requires the resource with an HS secret alone', () => {
    const jwt = { algorithms: ['HS256'] };
    const env = { AUTHZ_JWT_HS_SECRET: 'x'.repeat(32) };
    expect(parseConfig({ authn: { resource, jwt } }, env).authn.jwt.algorithms).toEqual(['HS256']);
    // No JWKS: tokens signed with the secret must still be bound to this server (RFC 8707).
    expect(() => parseConfig({ authn: { jwt } }, env)).toThrow(/authn\.resource: required/);
    expect(() => parseConfig({ authn: { jwt: { ...jwt, hsSecretFile: '/run/hs' } } }, {})).toThrow(
      /authn\.resource: required/,
    );
    expect(parseConfig({ authn: { jwt: { ...jwt, audiences: ['mcp'] } } }, env)).toBeTruthy();
  });

  it('refuses an empty list of JWT algorithms and a clock tolerance over its bound', () => {
    expect(() => parseConfig({ authn: { jwt: { algorithms: [] } } }, {})).toThrow(/authn\.jwt\.algorithms/);
    expect(() =>
      parseConfig({ authn: { jwt: { clockToleranceSec: D.MAX_CLOCK_TOLERANCE_SEC + 1 } } }, {}),
    ).toThrow(/authn\.jwt\.clockToleranceSec/);
  });

  it('leaves authn.jwt.maxLifetimeSec off unless set, and takes only a positive whole number of seconds', () => {
    expect(parseConfig({}, {}).authn.jwt.maxLifetimeSec).toBeUndefined();
    expect(parseConfig({ authn: { jwt: { maxLifetimeSec: 86_400 } } }, {}).authn.jwt.maxLifetimeSec).toBe(
      86_400,
    );
    for (const bad of [0, -1, 1.5, '86400']) {
      expect(() => parseConfig({ authn: { jwt: { maxLifetimeSec: bad } } }, {})).toThrow(
        /authn\.jwt\.maxLifetimeSec/,
      );
    }
  });

  it('refuses an empty secret file path, which was read as no file: the secret silently unset', () => {
    // `pepperFile: "{{ .Values.pepperPath }}"` with the value unset: API keys refused, /report off, no
    // Redis password, all without a word.
    const paths: [string, Record<string, unknown>][] = [
      ['authn.apiKeys.pepperFile', { authn: { apiKeys: { pepperFile: '' } } }],
      ['authn.jwt.hsSecretFile', { authn: { jwt: { hsSecretFile: '' } } }],
      ['store.passwordFile', { store: { passwordFile: '' } }],
      ['admin.reportTokenFile', { admin: { reportTokenFile: '' } }],
    ];
    for (const [path, raw] of paths) {
      expect(() => parseConfig(raw, {}), path).toThrow(new RegExp(`^[^]*${path.replace(/\./g, '\\.')}: `));
    }
    const introspection = {
      endpoint: 'https://idp.example.com/introspect',
      clientId: 'c',
      issuer: 'https://idp.example.com',
    };
    expect(() =>
      parseConfig(
        {
          authn: {
            resource: 'https://mcp.example.com/mcp',
            introspection: { ...introspection, clientSecretFile: '' },
          },
        },
        {},
      ),
    ).toThrow(/authn\.introspection\.clientSecretFile: /);
  });

  it('refuses an empty server.protocolVersions: every request after initialize carries the header, and got 400', () => {
    expect(() => parseConfig({ server: { protocolVersions: [] } }, {})).toThrow(
      /server\.protocolVersions: at least one version/,
    );
    expect(parseConfig({ server: { protocolVersions: ['2025-06-18'] } }, {}).server.protocolVersions).toEqual(
      ['2025-06-18'],
    );
  });

  it('refuses policy.maxBundleBytes under 1024 (every bundle would be refused) and an empty verification keyId', () => {
    for (const maxBundleBytes of [0, 1023]) {
      expect(() => parseConfig({ policy: { maxBundleBytes } }, {})).toThrow(/policy\.maxBundleBytes/);
    }
    expect(parseConfig({ policy: { maxBundleBytes: 1024 } }, {}).policy.maxBundleBytes).toBe(1024);
    expect(() => parseConfig({ policy: { verification: { keyId: '' } } }, {})).toThrow(
      /policy\.verification\.keyId/,
    );
  });

  it('takes both listeners on port 0 (each gets a port of its own)', () => {
    const c = parseConfig({ server: { port: 0 }, admin: { port: 0 } }, {});
    expect([c.server.port, c.admin.port]).toEqual([0, 0]);
  });

  it('maps every AUTHZ_* override to its setting, and ignores one set to the empty string', () => {
    const env: Record<string, [string, string, unknown]> = {
      AUTHZ_HOST: ['127.0.0.1', 'server.host', '127.0.0.1'],
      AUTHZ_PORT: ['7100', 'server.port', 7100],
      AUTHZ_MCP_PATH: ['/rpc', 'server.mcpPath', '/rpc'],
      AUTHZ_ALLOWED_ORIGINS: [
        'https://a.example, https://b.example',
        'server.allowedOrigins',
        ['https://a.example', 'https://b.example'],
      ],
      AUTHZ_MAX_BODY_BYTES: ['2097152', 'server.maxBodyBytes', 2_097_152],
      AUTHZ_ADMIN_HOST: ['127.0.0.2', 'admin.host', '127.0.0.2'],
      AUTHZ_ADMIN_PORT: ['9191', 'admin.port', 9191],
      AUTHZ_UPSTREAM_URL: ['http://127.0.0.1:9000/mcp', 'upstream.url', 'http://127.0.0.1:9000/mcp'],
      AUTHZ_POLICY_BUNDLE: ['/srv/bundle', 'policy.bundle', '/srv/bundle'],
      AUTHZ_POLICY_WATCH: ['false', 'policy.watch', false],
      AUTHZ_POLICY_TIMEZONE: ['Europe/Paris', 'policy.timezone', 'Europe/Paris'],
      AUTHZ_ENVIRONMENT: ['staging', 'policy.environment', 'staging'],
      AUTHZ_POLICY_DECISION_CACHE: ['off', 'policy.decisionCache.enabled', false],
      AUTHZ_POLICY_PERSIST_DIR: ['/var/kept', 'policy.persistDir', '/var/kept'],
      AUTHZ_AUTHN_MODE: ['optional', 'authn.mode', 'optional'],
      AUTHZ_RESOURCE: [resource, 'authn.resource', resource],
      AUTHZ_JWT_ISSUERS: ['https://idp.example.com', 'authn.jwt.issuers', ['https://idp.example.com']],
      AUTHZ_JWT_JWKS_URI: [
        'https://idp.example.com/jwks',
        'authn.jwt.jwksUri',
        'https://idp.example.com/jwks',
      ],
      AUTHZ_JWT_AUDIENCES: ['a,b', 'authn.jwt.audiences', ['a', 'b']],
      AUTHZ_JWT_HS_SECRET_FILE: ['/run/hs', 'authn.jwt.hsSecretFile', '/run/hs'],
      AUTHZ_AUTHORIZATION_SERVERS: [
        'https://as.example.com',
        'authn.resourceMetadata.authorizationServers',
        ['https://as.example.com'],
      ],
      AUTHZ_API_KEY_PEPPER_FILE: ['/run/pepper', 'authn.apiKeys.pepperFile', '/run/pepper'],
      AUTHZ_REDIS_URL: ['redis://r:6379', 'store.redisUrl', 'redis://r:6379'],
      AUTHZ_REDIS_PASSWORD_FILE: ['/run/redis', 'store.passwordFile', '/run/redis'],
      AUTHZ_LOG_LEVEL: ['debug', 'log.level', 'debug'],
    };
    expect(ENV_OVERRIDES.map((o) => o.name).sort()).toEqual(Object.keys(env).sort());
    const c = loadConfig({ env: Object.fromEntries(Object.entries(env).map(([k, [raw]]) => [k, raw])) });
    const at = (path: string) =>
      path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], c);
    for (const [name, [, path, want]] of Object.entries(env)) expect(at(path), name).toEqual(want);
    // An empty variable (`AUTHZ_PORT=` in a manifest) leaves the setting at its default, not refused.
    const empty = loadConfig({ env: Object.fromEntries(Object.keys(env).map((k) => [k, ''])) });
    expect(empty).toEqual(parseConfig({}, {}));
  });
});
