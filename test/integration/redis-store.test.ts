/**
 * The Redis store and API-key / revocation authentication against a REAL `redis-server` (started by
 * `test/helpers/redis-server.ts`). A second store instance plays the CLI on another machine; revocations
 * it makes must reach the first authenticator within a second. Killing Redis must deny uncached keys
 * with ERR_AUTHN_UNAVAILABLE without crashing, log the outage once, and recover after a restart.
 *
 * @module
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../../src/authn/api-keys.js';
import { type Authenticator, createAuthenticator } from '../../src/authn/authenticator.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createStore } from '../../src/store/create-store.js';
import { CONNECT_TIMEOUT_MS } from '../../src/store/redis-client.js';
import { HOUR_MS, PRUNE_MARGIN_MS, REVOCATION_GRACE_SEC, type Store } from '../../src/store/store.js';
import { createLogger, type Logger, silentLogger } from '../../src/telemetry/logger.js';
import { deadPort } from '../helpers/dead-port.js';
import { lineCollector } from '../helpers/log-lines.js';
import { startRedis, startSentinel } from '../helpers/redis-server.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { tempDir } from '../helpers/temp-dir.js';

const PEPPER = 'integration-pepper';
const HS_SECRET = 'integration-hs-secret-32-bytes!!';
const RESOURCE = 'https://mcp.example.com/mcp';
const ENV = { AUTHZ_API_KEY_PEPPER: PEPPER, AUTHZ_JWT_HS_SECRET: HS_SECRET };
const code = (c: string) => expect.objectContaining({ code: c });

const suite = redisSuite();

function configFor(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      store: { redisUrl: suite.redis.url, keyPrefix: suite.prefix('t'), commandTimeoutMs: 300, ...extra },
      authn: { resource: RESOURCE, jwt: { algorithms: ['HS256'] } },
    },
    ENV,
  );
}

function openStore(config: Config, logger: Logger = silentLogger()): Promise<Store> {
  return suite.openStore(config, { logger, env: ENV });
}

async function openAuthn(
  config: Config,
  store: Store,
  logger: Logger = silentLogger(),
): Promise<Authenticator> {
  const authn = createAuthenticator(config, { store, logger, env: ENV });
  await authn.start();
  suite.cleanup(() => authn.stop());
  return authn;
}

const withKey = (key: string) => ({ headers: { 'x-api-key': key } });

/** Polls `check` until it passes or `ms` elapse; returns the time it took. */
async function within(ms: number, check: () => Promise<void>): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > ms) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Counts the connections to 127.0.0.1:`port` refused from now on (each a reconnect attempt to a Redis that is
 * down), seen through Node's `net.client.socket` channel, until `stop()`.
 */
function refusedConnections(port: number): { count: () => number; stop: () => void } {
  let n = 0;
  const onSocket = (message: unknown) => {
    (message as { socket: Socket }).socket.once('error', (err: NodeJS.ErrnoException & { port?: number }) => {
      if (err.code === 'ECONNREFUSED' && err.port === port) n++;
    });
  };
  subscribe('net.client.socket', onSocket);
  return { count: () => n, stop: () => unsubscribe('net.client.socket', onSocket) };
}

describe('RedisStore', () => {
  it('keeps session bindings under a hash of the id, for their TTL, until deleted', async () => {
    const config = configFor();
    const store = await openStore(config);
    const id = `s-${'x'.repeat(2_000)}`;
    expect(await store.claimSessionOwner(id, 'owner-a', 60_000)).toBe(true);
    expect(await store.sessionOwner(id)).toBe('owner-a');
    expect(await store.sessionOwner('s-other')).toBeNull();
    // Another owner cannot take it (an upstream issuing an id twice); the same one renews it.
    expect(await store.claimSessionOwner(id, 'owner-b', 60_000)).toBe(false);
    expect(await store.claimSessionOwner(id, 'owner-a', 60_000, true)).toBe(true);
    expect(await store.sessionOwner(id)).toBe('owner-a');
    // A refresh writes back a binding that lapsed, never one marked ended; a new claim may take an ended id.
    expect(await store.claimSessionOwner('s-lapsed', 'owner-a', 60_000, true)).toBe(true);
    expect(await store.sessionOwner('s-lapsed')).toBe('owner-a');
    await store.endSession('s-lapsed', 60_000);
    expect(await store.sessionOwner('s-lapsed')).toBeNull();
    expect(await store.claimSessionOwner('s-lapsed', 'owner-a', 60_000, true)).toBe(false);
    expect(await store.claimSessionOwner('s-lapsed', 'owner-b', 60_000)).toBe(true);
    // The client's id is not in the key: a fixed-length hash is, with the TTL asked for.
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    try {
      const keys = await admin.keys(`${config.store.keyPrefix}*session:*`);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        expect(key.length).toBeLessThan(100);
        expect(await admin.pttl(key)).toBeGreaterThan(59_000);
      }
      await store.claimSessionOwner('s-short', 'owner-b', 1);
      await within(2_000, async () => expect(await store.sessionOwner('s-short')).toBeNull());
    } finally {
      admin.disconnect();
    }
    await store.endSession(id, 60_000);
    expect(await store.sessionOwner(id)).toBeNull();
  });

  it('stores, lists and revokes API keys and tokens', async () => {
    const store = await openStore(configFor());
    expect(store.kind).toBe('redis');
    expect(store.status().state).toBe('ok');
    const { record } = await createApiKey(store, Buffer.from(PEPPER), {
      subject: 'svc',
      roles: ['a', 'b'],
      tenant: 't',
    });
    expect(await store.getApiKey(record.id)).toEqual(record);
    expect(await store.getApiKey('unknown12345')).toBeNull();
    expect((await store.listApiKeys()).map((r) => r.id)).toEqual([record.id]);

    await store.recordApiKeyUsage(record.id, 3, '2026-01-02T00:00:00.000Z');
    await store.recordApiKeyUsage(record.id, 1, '2026-01-01T00:00:00.000Z');
    await store.recordApiKeyUsage('unknown12345', 1, '2026-01-01T00:00:00.000Z');
    expect(await store.getApiKey(record.id)).toMatchObject({
      usageCount: 4,
      lastUsedAt: '2026-01-02T00:00:00.000Z',
    });
    expect(await store.getApiKey('unknown12345')).toBeNull();

    expect(await store.revocationVersion()).toBe(0);
    expect(await store.revokeApiKey('unknown12345')).toBe(false);
    expect(await store.revokeApiKey(record.id)).toBe(true);
    // The first revocation starts the version at a random base; each later one moves it up by a random step.
    const versions = [await store.revocationVersion()];
    expect(versions[0]).toBeGreaterThan(0);
    const now = Math.floor(Date.now() / 1000);
    await store.revokeToken('live', now + 600);
    versions.push(await store.revocationVersion());
    // Applied for REVOCATION_GRACE_SEC past its expiry (the clock tolerance a verifier may allow), and pruned
    // an hour after that (PRUNE_MARGIN_MS: a replica whose clock runs fast must not prune what others apply).
    await store.revokeToken('in-grace', now - REVOCATION_GRACE_SEC + 5);
    await store.revokeToken('lapsed', now - REVOCATION_GRACE_SEC - 1);
    await store.revokeToken('long-lapsed', now - REVOCATION_GRACE_SEC - PRUNE_MARGIN_MS / 1000 - 2);
    const snap = await store.revocations();
    versions.push(snap.version);
    expect(versions[1]).toBeGreaterThan(versions[0] as number);
    expect(versions[2]).toBeGreaterThan(versions[1] as number);
    expect([...snap.keys]).toEqual([record.id]);
    expect(new Map(snap.tokens)).toEqual(
      new Map([
        ['live', now + 600],
        ['in-grace', now - REVOCATION_GRACE_SEC + 5],
        ['lapsed', now - REVOCATION_GRACE_SEC - 1],
      ]),
    );
    expect((await store.getApiKey(record.id))?.active).toBe(false);
  });

  it('keeps the later expiry when a token is revoked twice, as the memory store does', async () => {
    const store = await openStore(configFor());
    const now = Math.floor(Date.now() / 1000);
    await store.revokeToken('twice', now + 3_600);
    // A second revocation naming an earlier expiry (another replica's copy of the token) must not cut
    // the first one's: the token stays valid until its own expiry.
    await store.revokeToken('twice', now + 60);
    expect((await store.revocations()).tokens.get('twice')).toBe(now + 3_600);
  });

  it('reads the password from store.passwordFile (and never logs it)', async () => {
    const secured = await startRedis();
    suite.cleanup(() => secured.stop());
    const admin = new Redis(secured.port, '127.0.0.1');
    await admin.config('SET', 'requirepass', 's3cret-pw');
    admin.disconnect();
    const dir = tempDir('redis-pw');
    writeFileSync(join(dir, 'password'), 's3cret-pw\n');
    const lines: string[] = [];
    const logger = createLogger('debug', lineCollector(lines));

    const noPassword = await openStore(parseConfig({ store: { redisUrl: secured.url } }, {}), logger);
    expect(noPassword.status().state).toBe('error');
    await expect(noPassword.revocationVersion()).rejects.toThrow(/^store revocationVersion failed/);
    const withPassword = await openStore(
      parseConfig({ store: { redisUrl: secured.url, passwordFile: join(dir, 'password') } }, {}),
      logger,
    );
    expect(withPassword.status().state).toBe('ok');
    expect(await withPassword.revocationVersion()).toBe(0);
    expect(lines.join('')).not.toContain('s3cret-pw');
  });
});

describe('abuse windows', () => {
  it('counts a batch of 25,000 hits, over several script calls, in order', async () => {
    const store = await openStore(configFor({ commandTimeoutMs: 2_000 }));
    const now = Date.now();
    const hits = Array.from({ length: 25_000 }, (_, i) => ({
      key: `rule:ip/${i}`,
      count: i % 3 === 0 ? 5 : 1,
      windowMs: 60_000,
      threshold: 3,
      atMs: now,
    }));
    // One call of all of them overflowed the stack spreading its ~175,000 arguments.
    const counts = await store.countInWindows(hits, now);
    expect(counts).toHaveLength(hits.length);
    expect(counts.filter((c) => c.tripped)).toHaveLength(Math.ceil(hits.length / 3));
    expect(counts[24_998]).toEqual({ count: 1, tripped: false });
    expect(counts[24_999]).toEqual({ count: 5, tripped: true });
  });
});

describe('a long abuse window', () => {
  it("costs a flush about the same at 50,000 members as at 100 (Redis's own timing of the script)", async () => {
    const store = await openStore(configFor({ commandTimeoutMs: 2_000 }));
    const now = Date.now();
    const day = { windowMs: 86_400_000, threshold: 1e9 };
    const fill = async (key: string, members: number) => {
      for (let from = 0; from < members; from += 1_000) {
        const n = Math.min(1_000, members - from);
        await store.countInWindows(
          Array.from({ length: n }, (_, i) => ({ key, count: 1, atMs: now - members + from + i, ...day })),
          now,
        );
      }
    };
    // A 1-day window holds one member per flush per replica: 86,400 a day for one busy target.
    await fill('rule:small', 100);
    await fill('rule:big', 50_000);
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    suite.cleanup(async () => {
      await admin.config('SET', 'slowlog-log-slower-than', '10000');
      admin.disconnect();
    });
    await admin.config('SET', 'slowlog-max-len', '1024');
    await admin.config('SET', 'slowlog-log-slower-than', '0');
    await admin.slowlog('RESET');
    for (let i = 1; i <= 20; i++) {
      for (const [key, size] of [['rule:small', 100] as const, ['rule:big', 50_000] as const]) {
        const [r] = await store.countInWindows([{ key, count: 1, atMs: now + i, ...day }], now + i);
        expect(r?.count).toBe(size + i);
      }
    }
    const log = (await admin.slowlog('GET', 1024)) as [number, number, number, string[]][];
    const fastest = (key: string) =>
      Math.min(
        ...log
          .filter(([, , , args]) => args[0] === 'evalsha' && args.some((a) => a.endsWith(key)))
          .map((e) => e[2]),
      );
    const [small, big] = [fastest('rule:small'), fastest('rule:big')];
    // Summing the whole window on every flush took ~1,000 times as long at 50,000 members.
    expect(big, `${big} µs at 50,000 members, ${small} µs at 100`).toBeLessThan(10 * small);
  });
});

describe("Redis's clock", () => {
  it('says once that Redis refused the clock check (an ACL user without TIME), and counts on', async () => {
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    suite.cleanup(async () => {
      await admin.acl('DELUSER', 'notime');
      admin.disconnect();
    });
    await admin.acl('SETUSER', 'notime', 'on', '>notime-pw', '~*', '&*', '+@all', '-time');
    const lines: string[] = [];
    const url = suite.redis.url.replace('redis://', 'redis://notime:notime-pw@');
    const store = await openStore(configFor({ redisUrl: url }), createLogger('warn', lineCollector(lines)));
    const bucket = await store.takeToken('t', { capacity: 2, refillPerSecond: 1 }, 1, Date.now());
    expect(bucket.allowed).toBe(true);
    const said = lines.filter((l) => l.includes('clock offset to Redis not measured'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("can't run this command"); // Redis 7.0; NOPERM on later versions
    expect(said[0]).not.toContain('notime-pw');
  });
});

describe('versions after Redis lost its data', () => {
  it('never repeat: a replica holding the old version still sees the new revocations and blocks', async () => {
    const config = configFor();
    const store = await openStore(config);
    await store.revokeToken('before', Math.floor(Date.now() / 1000) + 600);
    const until = new Date(Date.now() + 60_000).toISOString();
    await store.putBlock({ target: 'ip', value: '203.0.113.1', reason: 'r', until, createdAt: until });
    const held = { revocations: await store.revocationVersion(), blocks: await store.blockVersion() };

    const admin = new Redis(suite.redis.port, '127.0.0.1');
    await admin.flushall();
    admin.disconnect();
    await store.revokeToken('after', Math.floor(Date.now() / 1000) + 600);
    await store.putBlock({ target: 'ip', value: '203.0.113.2', reason: 'r', until, createdAt: until });
    // A replica compares what it holds with what it polls: the same number again would mean "nothing new".
    expect(await store.revocationVersion()).not.toBe(held.revocations);
    expect(await store.blockVersion()).not.toBe(held.blocks);
  });
});

describe('Redis Cluster', () => {
  it('runs every multi-key script in one slot (the {authz} tag after the prefix)', async () => {
    const server = await startRedis({ cluster: true });
    suite.cleanup(() => server.stop());
    const store = await openStore(
      parseConfig({ store: { redisUrl: server.url, commandTimeoutMs: 500 } }, {}),
    );
    const now = Date.now();
    await store.revokeToken('jti-1', Math.floor(now / 1000) + 600);
    expect([...(await store.revocations()).tokens.keys()]).toEqual(['jti-1']);
    const take = await store.takeToken('bucket', { capacity: 2, refillPerSecond: 1 }, 1, now);
    expect(take.allowed).toBe(true);
    const [count] = await store.countInWindows(
      [{ key: 'rule:ip', count: 3, windowMs: 60_000, threshold: 2, atMs: now }],
      now,
    );
    expect(count).toMatchObject({ tripped: true });
    const until = new Date(now + 60_000).toISOString();
    await store.putBlock({ target: 'ip', value: '203.0.113.9', reason: 'test', until, createdAt: until });
    expect((await store.blocks(now)).entries.map((b) => b.value)).toEqual(['203.0.113.9']);
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    await store.recordSecurityCounters(
      { hours: new Map([[hour, new Map([['denied|x', 1]])]]), anomalies: [] },
      now,
    );
    expect(await store.securityCounters([hour])).toEqual(new Map([['denied|x', 1]]));
  });
});

describe('a rotated Redis password (Secret file changed, connections cut)', () => {
  it.each([
    ['standalone', false],
    ['Cluster', true],
  ])(
    '%s: reconnects with the new password from store.passwordFile',
    async (_kind, cluster) => {
      const server = await startRedis({ cluster, password: 'old-pw' });
      suite.cleanup(() => server.stop());
      const file = join(tempDir('redis-rotate'), 'password');
      writeFileSync(file, 'old-pw\n');
      const store = await openStore(
        parseConfig({ store: { redisUrl: server.url, passwordFile: file, commandTimeoutMs: 500 } }, {}),
      );
      expect(await store.revocationVersion()).toBe(0);

      writeFileSync(file, 'new-pw\n');
      const admin = new Redis(server.port, '127.0.0.1', { password: 'old-pw' });
      await admin.config('SET', 'requirepass', 'new-pw');
      // Every client reconnects, as after a Redis restart or a failover.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      admin.disconnect();
      await within(10_000, async () => {
        expect(await store.revocationVersion()).toBe(0);
      });
      expect(store.status().state).toBe('ok');
    },
    20_000,
  );
});

describe('API keys and revocation across instances', () => {
  it('authenticates a key created by another instance; a revocation there is seen within 1 s', async () => {
    const config = configFor();
    const sidecarStore = await openStore(config);
    const authn = await openAuthn(config, sidecarStore);
    const cliStore = await openStore(config);

    const { key, record } = await createApiKey(cliStore, Buffer.from(PEPPER), {
      subject: 'svc-ci',
      scopes: ['mcp:tools'],
    });
    await expect(authn.authenticate(withKey(key))).resolves.toMatchObject({
      id: 'svc-ci',
      keyId: record.id,
      authMethod: 'api_key',
    });

    expect(await cliStore.revokeApiKey(record.id)).toBe(true);
    const took = await within(1_000, async () => {
      await expect(authn.authenticate(withKey(key))).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
    });
    expect(took).toBeLessThanOrEqual(1_000);
  });

  it('refuses an expired key', async () => {
    const config = configFor();
    const store = await openStore(config);
    const authn = await openAuthn(config, store);
    // Created ten seconds ago, expired a second ago.
    const { key } = await createApiKey(
      store,
      Buffer.from(PEPPER),
      { subject: 's', expiresAt: new Date(Date.now() - 1_000) },
      () => Date.now() - 10_000,
    );
    await expect(authn.authenticate(withKey(key))).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
  });

  it('refuses a key whose stored record does not decode (an expiry Date.parse cannot read, an empty tenant), and says which', async () => {
    const config = configFor();
    const store = await openStore(config);
    const lines: string[] = [];
    const logger = createLogger('warn', lineCollector(lines));
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    suite.cleanup(async () => admin.disconnect());
    // Written by another tool: epoch seconds of 2023, a word, and a tenant and role of nothing.
    const edits: [string, string][] = [
      ['expiresAt', '1700000000'],
      ['expiresAt', 'never'],
      ['tenant', ''],
      ['roles', '[""]'],
    ];
    for (const [field, value] of edits) {
      const { key, record } = await createApiKey(store, Buffer.from(PEPPER), {
        subject: 'svc',
        tenant: 'acme',
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      const before = await openAuthn(config, store, logger);
      await expect(before.authenticate(withKey(key))).resolves.toMatchObject({ id: 'svc' });
      await admin.hset(`${config.store.keyPrefix}{authz}:key:${record.id}`, field, value);
      const other = await createApiKey(store, Buffer.from(PEPPER), { subject: 'svc' });
      // A new verifier reads the edited record (a running one does so once its 5 s cache lifetime passed).
      const fresh = await openAuthn(config, store, logger);
      await expect(fresh.authenticate(withKey(key))).rejects.toThrow(code('ERR_AUTHN_INVALID_API_KEY'));
      await expect(fresh.authenticate(withKey(other.key))).resolves.toMatchObject({ id: 'svc' });
      const warning = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.key_id === record.id);
      expect(warning?.msg, `${field} = ${value}`).toMatch(/API key record in the store is malformed/);
      expect(String(warning?.problem)).toContain(field);
      expect(JSON.stringify(warning)).not.toContain(record.hash);
    }
  });

  it('sees a token (jti) revocation made by another instance within 1 s', async () => {
    const config = configFor();
    const authn = await openAuthn(config, await openStore(config));
    const cliStore = await openStore(config);
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = await new SignJWT({ sub: 'u', aud: RESOURCE, jti: 'tok-1', exp })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(HS_SECRET));
    const headers = { authorization: `Bearer ${token}` };
    await expect(authn.authenticate({ headers })).resolves.toMatchObject({ tokenId: 'tok-1' });

    await cliStore.revokeToken('tok-1', exp);
    await within(1_000, async () => {
      await expect(authn.authenticate({ headers })).rejects.toThrow(code('ERR_AUTHN_REVOKED'));
    });
  });

  it('flushes API key usage to Redis on stop', async () => {
    const config = configFor();
    const store = await openStore(config);
    const authn = createAuthenticator(config, { store, logger: silentLogger(), env: ENV });
    await authn.start();
    const { key, record } = await createApiKey(store, Buffer.from(PEPPER), { subject: 's' });
    await authn.authenticate(withKey(key));
    await authn.authenticate(withKey(key));
    await authn.stop();
    expect(await store.getApiKey(record.id)).toMatchObject({ usageCount: 2 });
  });
});

describe('Redis outage', () => {
  it('denies uncached keys with ERR_AUTHN_UNAVAILABLE, logs once, and recovers after a restart', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', lineCollector(lines));
    const config = configFor();
    const store = await openStore(config, logger);
    const authn = await openAuthn(config, store, logger);
    const cached = await createApiKey(store, Buffer.from(PEPPER), { subject: 'cached' });
    const uncached = await createApiKey(store, Buffer.from(PEPPER), { subject: 'uncached' });
    await authn.authenticate(withKey(cached.key));

    const refused = refusedConnections(suite.redis.port);
    suite.cleanup(async () => refused.stop());
    await suite.redis.kill();
    // Lost after it was reachable: degraded, not unready (every replica shares the store; failing readiness
    // everywhere would empty the Service while JWT callers and local buckets still work).
    await within(2_000, async () => expect(store.status().state).toBe('warn'));
    expect(store.status().detail).toMatch(/redis unreachable/);
    await expect(authn.authenticate(withKey(uncached.key))).rejects.toThrow(code('ERR_AUTHN_UNAVAILABLE'));
    // The record looked up a moment ago is still served from the local cache.
    await expect(authn.authenticate(withKey(cached.key))).resolves.toMatchObject({ id: 'cached' });
    // Several reconnect attempts refused (the last one's error handled before the next attempt is made):
    // the outage is still logged once.
    await within(5_000, async () => expect(refused.count()).toBeGreaterThanOrEqual(4));
    expect(lines.filter((l) => l.includes('store connection lost'))).toHaveLength(1);

    await suite.redis.restart();
    await within(5_000, async () => expect(store.status().state).toBe('ok'));
    await within(2_000, async () => expect(authn.status().state).toBe('ok'));
    expect(lines.filter((l) => l.includes('store connection restored'))).toHaveLength(1);
    // The restarted Redis is empty (no persistence): store the key again, as an operator would.
    await store.putApiKey(uncached.record);
    await expect(authn.authenticate(withKey(uncached.key))).resolves.toMatchObject({ id: 'uncached' });
    for (const l of lines) expect(l).not.toContain(PEPPER);
  });
  it('logs why an outage goes on when the reason changes: a password rotated on Redis before its Secret', async () => {
    const secured = await startRedis({ password: 'old-pw-0123' });
    suite.cleanup(() => secured.stop());
    const dir = tempDir('redis-rotate');
    const file = join(dir, 'password');
    writeFileSync(file, 'old-pw-0123\n');
    const lines: string[] = [];
    const logger = createLogger('info', lineCollector(lines));
    const store = await openStore(
      parseConfig({ store: { redisUrl: secured.url, passwordFile: file, commandTimeoutMs: 300 } }, {}),
      logger,
    );
    expect(store.status().state).toBe('ok');
    const admin = new Redis(secured.port, '127.0.0.1', { password: 'old-pw-0123' });
    const attempts = async () =>
      Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))?.[1]);
    // Redis gets the new password first; the mounted Secret follows later (the kubelet syncs it lazily).
    await admin.config('SET', 'requirepass', 'new-pw-4567');
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await within(5_000, async () => expect(store.status().detail).toMatch(/WRONGPASS/));
    // Several reconnect attempts refused for the same reason: it is logged once, not per attempt.
    const seen = await attempts();
    await within(5_000, async () => expect(await attempts()).toBeGreaterThanOrEqual(seen + 3));
    const warned = lines.map((l) => JSON.parse(l) as { level: string; msg: string; reason?: string });
    expect(warned.filter((l) => l.level === 'warn' && /WRONGPASS/.test(l.reason ?? ''))).toHaveLength(1);

    writeFileSync(file, 'new-pw-4567\n');
    await within(5_000, async () => expect(store.status().state).toBe('ok'));
    expect(lines.filter((l) => l.includes('store connection restored'))).toHaveLength(1);
    expect(lines.join('')).not.toMatch(/old-pw-0123|new-pw-4567/);
    admin.disconnect();
  }, 20_000);

  it.each([
    ['sentinels that require the password too', true, false],
    ['sentinels that require none', false, false],
    ['sentinels that require none, as an ACL user of the master', false, true],
  ])(
    'reaches a password-protected master through %s',
    async (_what, sentinelAuth, aclUser) => {
      const master = await startRedis({ password: 'sentinel-pw-0123' });
      suite.cleanup(() => master.stop());
      if (aclUser) {
        const admin = new Redis(master.port, '127.0.0.1', { password: 'sentinel-pw-0123' });
        await admin.call('ACL', 'SETUSER', 'app', 'on', '>sentinel-pw-0123', '~*', '&*', '+@all');
        admin.disconnect();
      }
      const sentinel = await startSentinel(master, sentinelAuth ? 'sentinel-pw-0123' : undefined);
      suite.cleanup(() => sentinel.stop());
      const pwFile = join(tempDir('sentinel-pw'), 'pw');
      writeFileSync(pwFile, 'sentinel-pw-0123\n');
      const url = aclUser ? sentinel.url.replace('://', '://app@') : sentinel.url;
      const store = await openStore(configFor({ redisUrl: url, passwordFile: pwFile }));
      expect(store.status()).toMatchObject({ state: 'ok' });
      const taken = await store.takeToken('k', { capacity: 2, refillPerSecond: 1 }, 1, Date.now());
      expect(taken).toMatchObject({ allowed: true, remaining: 1 });
    },
    20_000,
  );

  it('never hands out again a version a replica may hold, when a failover rolled the counter back', async () => {
    const prefix = suite.prefix('rollback');
    const store = await openStore(configFor({ keyPrefix: prefix }));
    const exp = Math.floor(Date.now() / 1000) + 3_600;
    await store.revokeToken('jti-a', exp);
    await store.putBlock({
      target: 'ip',
      value: '192.0.2.1',
      reason: 'r',
      until: new Date(Date.now() + 60_000).toISOString(),
      createdAt: '',
    });
    const before = { revocations: await store.revocationVersion(), blocks: await store.blockVersion() };
    // A write a replica already loaded, then lost with the old master (async replication).
    await store.revokeToken('jti-lost', exp);
    await store.putBlock({
      target: 'ip',
      value: '192.0.2.2',
      reason: 'r',
      until: new Date(Date.now() + 60_000).toISOString(),
      createdAt: '',
    });
    const held = { revocations: await store.revocationVersion(), blocks: await store.blockVersion() };
    const raw = new Redis(suite.redis.port, '127.0.0.1');
    try {
      await raw.set(`${prefix}{authz}:revocation:version`, before.revocations);
      await raw.set(`${prefix}{authz}:blocks:version`, before.blocks);
    } finally {
      raw.disconnect();
    }
    await store.revokeToken('jti-new', exp);
    await store.putBlock({
      target: 'ip',
      value: '192.0.2.3',
      reason: 'r',
      until: new Date(Date.now() + 60_000).toISOString(),
      createdAt: '',
    });
    // Counting by one gave `held` again, and the replica holding it never reloaded.
    expect(await store.revocationVersion()).not.toBe(held.revocations);
    expect(await store.blockVersion()).not.toBe(held.blocks);
    expect(await store.revocationVersion()).toBeGreaterThan(before.revocations);
  });

  it('keeps what the other replicas still enforce when one whose clock runs 30 min fast prunes', async () => {
    const prefix = suite.prefix('skew');
    const config = configFor({ keyPrefix: prefix });
    const store = await openStore(config);
    const fast = await suite.openStore(config, {
      logger: silentLogger(),
      env: ENV,
      now: () => Date.now() + 1_800_000,
    });
    const now = Date.now();
    await store.revokeToken('jti-soon', Math.floor(now / 1000) + 600);
    const until = new Date(now + 600_000).toISOString();
    await store.putBlock({ target: 'ip', value: '192.0.2.7', reason: 'r', until, createdAt: '' });
    // The fast replica prunes as it writes and reads; to it both have lapsed already.
    await fast.revokeToken('jti-other', Math.floor(now / 1000) + 7_200);
    expect((await fast.revocations()).tokens.has('jti-soon')).toBe(true);
    expect((await fast.blocks(now + 1_800_000)).entries).toEqual([]);
    expect((await store.revocations()).tokens.get('jti-soon')).toBe(Math.floor(now / 1000) + 600);
    expect((await store.blocks(Date.now())).entries.map((b) => b.value)).toEqual(['192.0.2.7']);
  });

  it('does not hang start() when no sentinel answers: not ready after the connect timeout', async () => {
    const dead = await deadPort();
    const config = configFor({ redisUrl: `redis+sentinel://127.0.0.1:${dead}/mymaster` });
    const started = Date.now();
    const store = await openStore(config);
    expect(Date.now() - started).toBeLessThan(CONNECT_TIMEOUT_MS + 2_000);
    expect(store.status().state).toBe('error');
    await expect(store.getApiKey('abcdefghijkl')).rejects.toThrow(/store getApiKey failed/);
  }, 15_000);

  it('leaves no clock check running when stopped while it was still connecting (a SIGTERM at start-up)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const store = createStore(configFor(), { logger: silentLogger(), env: ENV });
      const starting = store.start();
      await store.stop();
      await starting;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts while Redis is down (not ready, calls fail fast) and connects once it is up', async () => {
    await suite.redis.kill();
    const store = await openStore(configFor());
    expect(store.status().state).toBe('error');
    const started = Date.now();
    await expect(store.getApiKey('abcdefghijkl')).rejects.toThrow(/^store getApiKey failed: not connected/);
    expect(Date.now() - started).toBeLessThan(100);
    await suite.redis.restart();
    await within(5_000, async () => expect(store.status().state).toBe('ok'));
    expect(await store.getApiKey('abcdefghijkl')).toBeNull();
  });
});
