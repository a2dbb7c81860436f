/**
 * `mcp-authz keys` and `mcp-authz tokens` against a REAL `redis-server` (started by
 * `test/helpers/redis-server.ts`): keys created, listed (never their secret) and revoked, tokens revoked,
 * all in the configured store; and one clear line with exit 1 (no password) when Redis is unreachable.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { register as registerKeys } from '../../src/cli/keys.js';
import { register as registerTokens } from '../../src/cli/tokens.js';
import { parseConfig } from '../../src/config/load.js';
import { createStore } from '../../src/store/create-store.js';
import type { Store } from '../../src/store/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const PEPPER = 'integration-pepper';

let redis: RedisServer;
let prefixN = 0;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => {
  await redis?.stop();
});

async function openStore(prefix: string): Promise<Store> {
  const store = createStore(parseConfig({ store: { redisUrl: redis.url, keyPrefix: prefix } }, {}), {
    logger: silentLogger(),
  });
  await store.start();
  cleanup.push(() => store.stop());
  return store;
}

describe('CLI keys/tokens against Redis', () => {
  function cli() {
    const out: string[] = [];
    const err: string[] = [];
    const exits: number[] = [];
    const io = {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
      exit: (c: number) => void exits.push(c),
    };
    const program = new Command().exitOverride();
    registerKeys(program, io);
    registerTokens(program, io);
    const run = (...args: string[]) => program.parseAsync(['node', 'mcp-authz', ...args]);
    return { out, err, exits, run };
  }

  it('creates, lists and revokes keys and revokes tokens in the configured store', async () => {
    const dir = tempDir('cli');
    writeFileSync(join(dir, 'pepper'), `${PEPPER}\n`);
    const file = join(dir, 'config.yaml');
    const prefix = `cli${++prefixN}:`;
    writeFileSync(
      file,
      `store:\n  redisUrl: ${redis.url}\n  keyPrefix: "${prefix}"\nauthn:\n  apiKeys:\n    pepperFile: ${join(dir, 'pepper')}\n`,
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
    const created = JSON.parse(c1.out.join('')) as { key: string; record: { id: string; hash?: string } };
    expect(created.key).toMatch(/^mcpk_/);
    expect(created.record.hash).toBeUndefined();

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
    await c4.run('keys', 'revoke', 'nosuchkey123', '--config', file);
    expect(c4.exits).toEqual([1]);
    expect(c4.err.join('')).toMatch(/^mcp-authz: no API key with id nosuchkey123\n$/);

    const c5 = cli();
    await c5.run('tokens', 'revoke', 'jti-9', '--expires-in', '1h', '--config', file, '--json');
    expect(JSON.parse(c5.out.join(''))).toMatchObject({ revoked: 'jti-9' });

    const store = await openStore(prefix);
    const snap = await store.revocations();
    expect(snap.keys.has(created.record.id)).toBe(true);
    expect(snap.tokens.has('jti-9')).toBe(true);
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
});
