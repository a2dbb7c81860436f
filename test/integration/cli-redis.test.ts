/**
 * `mcp-authz keys` and `mcp-authz tokens` against a REAL `redis-server` (started by
 * `test/helpers/redis-server.ts`): keys created, listed (never their secret) and revoked, tokens revoked,
 * all in the configured store; and one clear line with exit 1 (no password) when Redis is unreachable.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/authn/api-keys.js';
import { register as registerKeys } from '../../src/cli/keys.js';
import { register as registerTokens } from '../../src/cli/tokens.js';
import { HOUR_MS } from '../../src/store/store.js';
import { cliRun } from '../helpers/cli.js';
import { redisSuite } from '../helpers/redis-suite.js';
import { tempDir } from '../helpers/temp-dir.js';

const PEPPER = 'integration-pepper';
/** A compact JWE (five parts): an encrypted access token, which only introspection reads. */
const JWE = 'eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.S2V5.SVY.Q2lwaGVydGV4dA.VGFn';

const suite = redisSuite();
const { openStore } = suite;

describe('CLI keys/tokens against Redis', () => {
  const cli = () => cliRun(registerKeys, registerTokens);

  /** `keys create` with a config of this suite's Redis (keys under `name`) and the pepper file `pepper`. */
  async function keysCreateWithPepper(name: string, pepper: string) {
    const file = join(tempDir('cli'), 'config.yaml');
    writeFileSync(
      file,
      `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${suite.prefix(name)}"\nauthn:\n  apiKeys:\n    pepperFile: ${pepper}\n`,
    );
    const c = cli();
    await c.run('keys', 'create', '--subject', 'bot', '--config', file);
    return c;
  }

  it('revokes an opaque token by the jti its introspection answer names, never showing or storing the token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3_600;
    const answers: Record<string, Record<string, unknown>> = {
      'opaque-LIVE-token-5f3a9c': { active: true, jti: 'jti-opaque', exp },
      'opaque-NOJTI-token-77b1': { active: true, exp },
      [JWE]: { active: true, jti: 'jti-jwe', exp },
    };
    const asked: string[] = [];
    const idp = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const basic = `Basic ${Buffer.from('mcp-authz:client-secret-for-the-test').toString('base64')}`;
        if (req.headers.authorization !== basic) {
          res.writeHead(401).end();
          return;
        }
        const token = new URLSearchParams(body).get('token') ?? '';
        asked.push(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answers[token] ?? { active: false }));
      });
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const dir = tempDir('cli-introspection');
    writeFileSync(join(dir, 'client-secret'), 'client-secret-for-the-test\n');
    const file = join(dir, 'config.yaml');
    const prefix = suite.prefix('introspected');
    writeFileSync(
      file,
      [
        `store: { redisUrl: "${suite.redis.url}", keyPrefix: "${prefix}" }`,
        'authn:',
        '  resource: http://127.0.0.1:8080/mcp',
        '  apiKeys: { enabled: false }',
        `  introspection: { endpoint: "http://127.0.0.1:${(idp.address() as AddressInfo).port}/introspect", clientId: mcp-authz, issuer: https://idp.example.com, clientSecretFile: "${join(dir, 'client-secret')}" }`,
        '',
      ].join('\n'),
    );
    const revoke = async (...args: string[]) => {
      const c = cli();
      await c.run('tokens', 'revoke', ...args, '--config', file);
      return { out: c.out.join(''), err: c.err.join(''), exits: c.exits };
    };
    try {
      const live = await revoke('Bearer opaque-LIVE-token-5f3a9c');
      expect(live.exits, live.err).toEqual([]);
      expect(live.out).toBe(
        `revoked token jti-opaque (the jti the introspection endpoint named) until ${new Date(exp * 1000).toISOString()}\n`,
      );
      const noJti = await revoke('opaque-NOJTI-token-77b1');
      expect(noJti.exits).toEqual([1]);
      expect(noJti.err).toContain('names no jti: the sidecar cannot revoke it by id');
      // An API key or a JWT cut short is refused without asking: the endpoint never sees it.
      asked.length = 0;
      for (const credential of [
        'mcpk_abcdef012345_SECRETPART0123456789',
        'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0',
      ]) {
        expect((await revoke(credential)).exits).toEqual([1]);
      }
      expect(asked).toEqual([]);
      // An encrypted access token (a compact JWE, five parts) is read by the endpoint alone: it is asked.
      const jwe = await revoke(JWE);
      expect(jwe.out).toMatch(/^revoked token jti-jwe \(the jti the introspection endpoint named\)/);
      // A value the endpoint does not call active is a token id.
      const plain = await revoke('jti-plain');
      expect(plain.out).toMatch(/^revoked token jti-plain until /);
      // The endpoint down: no guess, unless told it is an id.
      await new Promise((r) => idp.close(r));
      const down = await revoke('opaque-DOWN-token-0c4e');
      expect(down.exits).toEqual([1]);
      expect(down.err).toMatch(
        /could not ask the introspection endpoint whether the argument is a token: .*--jti/,
      );
      const forced = await revoke('jti-forced', '--jti');
      expect(forced.out).toMatch(/^revoked token jti-forced until /);
      const shown = [live, noJti, down].map((r) => r.out + r.err).join('');
      for (const secret of ['LIVE', 'NOJTI', 'DOWN']) expect(shown).not.toContain(secret);
      const snap = await (await openStore(prefix)).revocations();
      expect([...snap.tokens.keys()].sort()).toEqual(['jti-forced', 'jti-jwe', 'jti-opaque', 'jti-plain']);
    } finally {
      idp.close();
    }
  });

  it('creates, lists and revokes keys and revokes tokens in the configured store', async () => {
    const dir = tempDir('cli');
    writeFileSync(join(dir, 'pepper'), `${PEPPER}\n`);
    const file = join(dir, 'config.yaml');
    const prefix = suite.prefix('cli');
    writeFileSync(
      file,
      `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\nauthn:\n  apiKeys:\n    pepperFile: ${join(dir, 'pepper')}\n`,
    );

    const c1 = cli();
    await c1.run(
      'keys',
      'create',
      '--config',
      file,
      '--subject',
      'bot',
      '--role',
      'a',
      '--role',
      'b',
      '--expires-in',
      '30d',
      '--json',
    );
    expect(c1.exits).toEqual([]);
    const created = JSON.parse(c1.out.join('')) as {
      key: string;
      record: { id: string; hash?: string; createdAt: string; expiresAt: string };
    };
    expect(created.key).toMatch(/^mcpk_/);
    expect(created.record.hash).toBeUndefined();
    // --expires-in counts from the key's creation: exactly 30 days, not from a clock read a moment before.
    expect(Date.parse(created.record.expiresAt) - Date.parse(created.record.createdAt)).toBe(30 * 86_400_000);

    const c2 = cli();
    await c2.run('keys', 'list', '--config', file);
    const table = c2.out.join('');
    expect(table).toMatch(/^ID\s+SUBJECT\s+TENANT\s+ROLES\s+ACTIVE\s+EXPIRES\s+LAST USED\s+USES/);
    expect(table).toContain(created.record.id);
    expect(table).toContain('a,b');
    expect(table).not.toContain(created.key.split('_').slice(2).join('_'));

    const c3 = cli();
    await c3.run('keys', 'revoke', created.record.id, '--config', file);
    expect(c3.out.join('')).toContain(`revoked API key ${created.record.id}`);

    const c4 = cli();
    await c4.run('keys', 'revoke', 'nosuchkey234', '--config', file);
    expect(c4.exits).toEqual([1]);
    expect(c4.err.join('')).toMatch(/^mcp-authz: no API key with id nosuchkey234\n$/);

    // The whole key, pasted from where it leaked, revokes it by its id; no error shows a secret.
    const c6 = cli();
    await c6.run('keys', 'create', '--config', file, '--subject', 'leaky', '--json');
    const leaked = JSON.parse(c6.out.join('')) as { key: string; record: { id: string } };
    // A clearance the policy does not know is created, with a warning naming the policy's levels.
    const typo = cli();
    await typo.run('keys', 'create', '--config', file, '--subject', 'c', '--clearance', 'secret', '--json');
    expect(typo.exits).toEqual([]);
    expect(JSON.parse(typo.out.join(''))).toMatchObject({ record: { clearance: 'secret' } });
    expect(typo.err.join('')).toMatch(
      /^mcp-authz: warning: clearance "secret" is not a sensitivity level of the policy at .* \(public, internal, confidential, restricted\)/,
    );
    const c7 = cli();
    await c7.run('keys', 'revoke', leaked.key, '--config', file);
    expect(c7.exits).toEqual([]);
    expect(c7.out.join('')).toBe(`revoked API key ${leaked.record.id}\n`);
    const c8 = cli();
    await c8.run('keys', 'revoke', 'other_abcdefghijklmnop_TOPSECRETVALUE', '--config', file);
    expect(c8.exits).toEqual([1]);
    expect(c8.err.join('')).toMatch(
      /^mcp-authz: not a key id .* nor a whole key; what was given is not shown/,
    );
    expect(c8.err.join('')).not.toContain('TOPSECRET');
    // A key pasted without its prefix: its secret follows the id's underscore, and is not shown either.
    const bare = cli();
    await bare.run('keys', 'revoke', 'abcdefghijklmnop_TOPSECRETVALUE', '--config', file);
    expect(bare.exits).toEqual([1]);
    expect(bare.err.join('')).toMatch(/^mcp-authz: not a key id /);
    expect(bare.err.join('')).not.toContain('TOPSECRET');
    // A secret pasted alone (no underscore in it) is no id either, and not echoed as one.
    const secretOnly = cli();
    await secretOnly.run('keys', 'revoke', 'TOPSECRETVALUEWITHOUTANYUNDERSCORE', '--config', file);
    expect(secretOnly.exits).toEqual([1]);
    expect(secretOnly.err.join('')).not.toContain('TOPSECRET');

    const c5 = cli();
    await c5.run('tokens', 'revoke', 'jti-9', '--expires-in', '1h', '--config', file, '--json');
    expect(JSON.parse(c5.out.join(''))).toMatchObject({ revoked: 'jti-9' });
    // A token just past its exp is still accepted within the clock tolerance: revoking it still counts.
    const now = Math.floor(Date.now() / 1000);
    const c9 = cli();
    await c9.run('tokens', 'revoke', 'jti-late', '--expires-at', String(now - 10), '--config', file);
    expect(c9.exits).toEqual([]);
    const c10 = cli();
    await c10.run('tokens', 'revoke', 'jti-gone', '--expires-at', String(now - 400), '--config', file);
    expect(c10.exits).toEqual([1]);
    expect(c10.err.join('')).toContain('the revocation would already have lapsed');
    // A token whose exp is past any date (jose accepts it): named, with what to give instead.
    for (const far of [1e13, Number.MAX_SAFE_INTEGER]) {
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const c = cli();
      await c.run(
        'tokens',
        'revoke',
        `${b64({ alg: 'HS256' })}.${b64({ jti: 'far', exp: far })}.c2ln`,
        '--config',
        file,
      );
      expect(c.exits).toEqual([1]);
      expect(c.err).toEqual([
        `mcp-authz: the token's exp (${far}) is beyond any date a revocation can be kept until: give --expires-in or --expires-at\n`,
      ]);
    }

    // A leaked token pasted whole: its jti is revoked until its exp, and the token is never echoed.
    const exp = now + 7_200;
    const leakedJwt = await new SignJWT({ sub: 'u', jti: 'jti-leaked' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode('any-signing-secret-of-32-bytes!!'));
    const c11 = cli();
    await c11.run('tokens', 'revoke', leakedJwt, '--config', file, '--json');
    expect(c11.exits).toEqual([]);
    expect(JSON.parse(c11.out.join(''))).toEqual({
      revoked: 'jti-leaked',
      until: new Date(exp * 1000).toISOString(),
    });
    const noJti = await new SignJWT({ sub: 'u' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('any-signing-secret-of-32-bytes!!'));
    const c12 = cli();
    await c12.run('tokens', 'revoke', noJti, '--config', file);
    expect(c12.exits).toEqual([1]);
    expect(c12.err.join('')).toContain('the token has no jti claim');
    expect([...c11.out, ...c11.err, ...c12.out, ...c12.err].join('')).not.toContain(noJti.split('.')[2]);
    expect(c11.out.join('')).not.toContain(leakedJwt.split('.')[2]);
    // Pasted from a header, it is still read; an API key given here is refused, neither shown nor stored.
    const c13 = cli();
    await c13.run('tokens', 'revoke', `Bearer ${leakedJwt}`, '--config', file, '--json');
    expect(JSON.parse(c13.out.join(''))).toMatchObject({ revoked: 'jti-leaked' });
    const c14 = cli();
    await c14.run('tokens', 'revoke', leaked.key, '--config', file);
    expect(c14.exits).toEqual([1]);
    expect(c14.err.join('')).toContain('API keys are revoked with `keys revoke`');
    expect([...c13.out, ...c14.out, ...c14.err].join('')).not.toContain(leaked.key.slice(-20));

    const store = await openStore(prefix);
    const snap = await store.revocations();
    expect(snap.keys.has(created.record.id)).toBe(true);
    expect(snap.keys.has(leaked.record.id)).toBe(true);
    expect(snap.tokens.has('jti-9')).toBe(true);
    expect(snap.tokens.has('jti-late')).toBe(true);
    expect([...snap.tokens.keys()].some((t) => t.includes(leaked.key.slice(-20)))).toBe(false);
    expect(snap.tokens.get('jti-leaked')).toBe(exp);
    expect([...snap.tokens.keys()].some((k) => k.includes('.'))).toBe(false);
  });

  it("prints a pasted token's jti with its control characters escaped, and revokes the jti as it is", async () => {
    // A token found in a log is the attacker's text: an escape sequence in its jti would act on the
    // operator's terminal (clear it, overwrite the line saying what was revoked).
    const file = join(tempDir('cli'), 'config.yaml');
    const prefix = suite.prefix('cli-jti-escape');
    writeFileSync(file, `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\n`);
    const jti = 'j\u001b[2K\rrevoked token harmless\u0007\u202e';
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 3_600;
    const c = cli();
    await c.run('tokens', 'revoke', `${b64({ alg: 'HS256' })}.${b64({ jti, exp })}.c2ln`, '--config', file);
    expect(c.exits).toEqual([]);
    expect(c.out.join('')).toBe(
      `revoked token j\\x1b[2K\\x0drevoked token harmless\\x07\\u202e until ${new Date(exp * 1000).toISOString()}\n`,
    );
    const store = await openStore(prefix);
    expect((await store.revocations()).tokens.has(jti)).toBe(true);
  });

  it('names a secret file it cannot read, instead of failing as if the secret were not set', async () => {
    const dir = tempDir('cli');
    const file = join(dir, 'config.yaml');
    const missing = join(dir, 'missing');
    writeFileSync(file, `store:\n  redisUrl: redis://127.0.0.1:1\n  passwordFile: ${missing}\n`);
    const c1 = cli();
    await c1.run('keys', 'list', '--config', file);
    expect(c1.exits).toEqual([1]);
    expect(c1.err).toEqual([`mcp-authz: store.passwordFile: ${missing} cannot be read (ENOENT)\n`]);
    const c2 = await keysCreateWithPepper('cli-secret', missing);
    expect(c2.exits).toEqual([1]);
    expect(c2.err).toEqual([`mcp-authz: authn.apiKeys.pepperFile: ${missing} cannot be read (ENOENT)\n`]);
  });

  it('lists an expired key as expired, not as active', async () => {
    const dir = tempDir('cli');
    const file = join(dir, 'config.yaml');
    const prefix = suite.prefix('cli-expired');
    writeFileSync(file, `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\n`);
    const store = await openStore(prefix);
    // Created an hour ago to expire a minute ago (createApiKey refuses an expiry already past on its clock).
    const expired = await createApiKey(
      store,
      Buffer.from(PEPPER),
      { subject: 'old', expiresAt: new Date(Date.now() - 60_000) },
      () => Date.now() - HOUR_MS,
    );
    const live = await createApiKey(store, Buffer.from(PEPPER), {
      subject: 'new',
      expiresAt: new Date(Date.now() + HOUR_MS),
    });
    const c = cli();
    await c.run('keys', 'list', '--config', file);
    const rows = c.out.join('').trim().split('\n');
    const active = (id: string) => rows.find((r) => r.startsWith(id))?.split(/\s+/)[4];
    expect(active(expired.record.id)).toBe('expired');
    expect(active(live.record.id)).toBe('yes');
  });

  it('lists the other keys and names a record that does not decode, instead of failing the whole list', async () => {
    const file = join(tempDir('cli'), 'config.yaml');
    const prefix = suite.prefix('cli-malformed');
    writeFileSync(file, `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\n`);
    const store = await openStore(prefix);
    const broken = await createApiKey(store, Buffer.from(PEPPER), { subject: 'old' });
    const good = await createApiKey(store, Buffer.from(PEPPER), { subject: 'new' });
    const admin = new Redis(suite.redis.port, '127.0.0.1');
    await admin.hset(`${prefix}{authz}:key:${broken.record.id}`, 'roles', '[admin');
    admin.disconnect();
    for (const json of [false, true]) {
      const c = cli();
      await c.run('keys', 'list', '--config', file, ...(json ? ['--json'] : []));
      expect(c.exits).toEqual([]);
      expect(c.out.join('')).toContain(good.record.id);
      expect(c.out.join('')).not.toContain(broken.record.id);
      expect(c.err).toEqual([
        `mcp-authz: warning: API key record ${broken.record.id} is malformed: roles is not JSON; every sidecar refuses this key (create a new one)\n`,
      ]);
    }
  });

  it('creates a key with authn.apiKeys.enabled: false, warning that sidecars with this config refuse it', async () => {
    const dir = tempDir('cli');
    const pepper = join(dir, 'pepper');
    writeFileSync(pepper, `${PEPPER}\n`);
    const file = join(dir, 'config.yaml');
    const prefix = suite.prefix('cli-keys-off');
    writeFileSync(
      file,
      `store:\n  redisUrl: ${suite.redis.url}\n  keyPrefix: "${prefix}"\nauthn:\n  apiKeys:\n    enabled: false\n    pepperFile: ${pepper}\n`,
    );
    const c = cli();
    await c.run('keys', 'create', '--subject', 'bot', '--json', '--config', file);
    expect(c.exits).toEqual([]);
    expect(c.err).toEqual([
      'mcp-authz: warning: authn.apiKeys.enabled is false: sidecars with this configuration refuse every API key, this one too (it is created all the same, for sidecars that accept keys)\n',
    ]);
    const { record } = JSON.parse(c.out.join('')) as { record: { id: string } };
    const store = await openStore(prefix);
    expect((await store.listApiKeys()).map((r) => r.id)).toEqual([record.id]);
  });

  it('says the pepper file is empty, rather than that no pepper file is set', async () => {
    // An empty Secret key (`kubectl create secret … --from-literal=pepper=`) mounts an empty file.
    const dir = tempDir('cli');
    const pepper = join(dir, 'pepper');
    writeFileSync(pepper, '\n');
    const c = await keysCreateWithPepper('cli-empty', pepper);
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      `mcp-authz: authn.apiKeys.pepperFile: ${pepper} is empty (and AUTHZ_API_KEY_PEPPER is not set)\n`,
    ]);
  });

  it('fails with one line and exit 1 when Redis is unreachable', async () => {
    const dir = tempDir('cli');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'store:\n  redisUrl: redis://:topsecret@127.0.0.1:1\n');
    const c = cli();
    await c.run('keys', 'list', '--config', file);
    expect(c.exits).toEqual([1]);
    expect(c.err).toHaveLength(1);
    expect(c.err[0]).toMatch(/^mcp-authz: store unavailable: /);
    expect(c.err[0]).not.toContain('topsecret');
  });

  it('says a port does not speak Redis (another service, or TLS) instead of a follow-on error', async () => {
    // A mistaken port: an HTTP server answers the ready check with "HTTP/1.1 400 …". ioredis reports the
    // protocol error, then the commands it can no longer send; the first is the one to act on.
    const http = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    suite.cleanup(() => new Promise((resolve) => http.close(() => resolve())));
    const file = join(tempDir('cli'), 'config.yaml');
    writeFileSync(file, `store:\n  redisUrl: redis://127.0.0.1:${(http.address() as AddressInfo).port}\n`);
    for (let i = 0; i < 5; i++) {
      const c = cli();
      await c.run('keys', 'list', '--config', file);
      expect(c.exits).toEqual([1]);
      expect(c.err).toHaveLength(1);
      expect(c.err[0]).toMatch(/^mcp-authz: store unavailable: .*no Redis protocol on this port/);
      expect(c.err[0]).not.toMatch(/Stream isn't writeable|Please report this/);
    }
  });

  it('says a redis+cluster:// URL names a Redis that is no cluster, not just "Failed to refresh slots cache"', async () => {
    const file = join(tempDir('cli'), 'config.yaml');
    writeFileSync(file, `store:\n  redisUrl: redis+cluster://127.0.0.1:${suite.redis.port}\n`);
    const c = cli();
    await c.run('keys', 'list', '--config', file);
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      'mcp-authz: store unavailable: redis unreachable: Failed to refresh slots cache. (ERR This instance has cluster support disabled: a standalone Redis needs redis://)\n',
    ]);
  });

  it('refuses a database the server does not have, instead of working in database 0', async () => {
    const file = join(tempDir('cli'), 'config.yaml');
    const prefix = suite.prefix('cli-db');
    writeFileSync(file, `store:\n  redisUrl: ${suite.redis.url}/99\n  keyPrefix: "${prefix}"\n`);
    const c = cli();
    await c.run('tokens', 'revoke', 'jti-db', '--config', file);
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      'mcp-authz: store unavailable: store.redisUrl names database 99, which the server refuses (ERR DB index is out of range)\n',
    ]);
    // Nothing was written to database 0 under the name of database 99.
    const store = await openStore(prefix);
    expect((await store.revocations()).tokens.has('jti-db')).toBe(false);
  });
});
