/**
 * The Redis side of API keys and revocations, as functions of a connected client (`redis-store.ts` wraps
 * each in its fail-fast, error-wrapping `#run`). A key record is a hash (`redis-keys.ts`); writes that
 * must agree are one MULTI or one Lua script, and every revocation bumps the version replicas poll.
 * Token revocations whose expiry passed more than `REVOCATION_GRACE_SEC` ago are pruned on each revoke and
 * each read.
 *
 * @module
 */
import { decodeRecord, encodeRecord, MalformedApiKeyRecord } from './api-key-record.js';
import { type KeyLayout, REVOKE_KEY_SCRIPT, USAGE_SCRIPT, versionBase, versionStep } from './redis-keys.js';
import { exec, type RedisClient } from './redis-security.js';
import {
  type ApiKeyRecord,
  PRUNE_MARGIN_MS,
  REVOCATION_GRACE_SEC,
  type RevocationSnapshot,
} from './store.js';

export async function putApiKey(c: RedisClient, k: KeyLayout, record: ApiKeyRecord): Promise<void> {
  await exec(
    c.multi().del(k.key(record.id)).hset(k.key(record.id), encodeRecord(record)).sadd(k.keyIds, record.id),
  );
}

export async function getApiKey(c: RedisClient, k: KeyLayout, id: string): Promise<ApiKeyRecord | null> {
  return decodeRecord(id, await c.hgetall(k.key(id)));
}

/** Every key's record, oldest first; a record that does not decode is left out and given to `malformed`. */
export async function listApiKeys(
  c: RedisClient,
  k: KeyLayout,
  malformed?: (err: MalformedApiKeyRecord) => void,
): Promise<ApiKeyRecord[]> {
  const ids = await c.smembers(k.keyIds);
  if (ids.length === 0) return [];
  const pipeline = c.pipeline();
  for (const id of ids) pipeline.hgetall(k.key(id));
  const rows = await exec(pipeline);
  const records: ApiKeyRecord[] = [];
  rows.forEach((h, i) => {
    try {
      const r = decodeRecord(ids[i] as string, h as Record<string, string>);
      if (r) records.push(r);
    } catch (err) {
      if (!(err instanceof MalformedApiKeyRecord)) throw err;
      malformed?.(err);
    }
  });
  return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function recordApiKeyUsage(
  c: RedisClient,
  k: KeyLayout,
  id: string,
  count: number,
  lastUsedAt: string,
): Promise<void> {
  await c.eval(USAGE_SCRIPT, 1, k.key(id), count, lastUsedAt);
}

export async function revokeApiKey(c: RedisClient, k: KeyLayout, id: string): Promise<boolean> {
  const n = await c.eval(REVOKE_KEY_SCRIPT, 3, k.key(id), k.revokedKeys, k.version, id, versionBase());
  return n === 1;
}

export async function revokeToken(
  c: RedisClient,
  k: KeyLayout,
  jti: string,
  expiresAt: number,
  nowMs: number,
): Promise<void> {
  const base = versionBase();
  await exec(
    c
      .multi()
      .zadd(k.revokedTokens, 'GT', expiresAt, jti)
      .zremrangebyscore(k.revokedTokens, '-inf', lapsedBefore(nowMs))
      .set(k.version, base, 'NX')
      .incrby(k.version, versionStep(base)),
  );
}

/**
 * The expiry (epoch seconds) at or before which a token revocation is pruned: lapsed, grace included, for
 * longer than {@link PRUNE_MARGIN_MS}.
 */
function lapsedBefore(nowMs: number): number {
  return Math.floor((nowMs - PRUNE_MARGIN_MS) / 1000) - REVOCATION_GRACE_SEC;
}

export async function revocationVersion(c: RedisClient, k: KeyLayout): Promise<number> {
  return Number((await c.get(k.version)) ?? 0);
}

export async function revocations(c: RedisClient, k: KeyLayout, nowMs: number): Promise<RevocationSnapshot> {
  const [, version, flat, keys] = await exec(
    c
      .multi()
      .zremrangebyscore(k.revokedTokens, '-inf', lapsedBefore(nowMs))
      .get(k.version)
      .zrange(k.revokedTokens, 0, -1, 'WITHSCORES')
      .smembers(k.revokedKeys),
  );
  const tokens = new Map<string, number>();
  const pairs = flat as string[];
  for (let i = 0; i + 1 < pairs.length; i += 2) tokens.set(pairs[i] as string, Number(pairs[i + 1]));
  return Object.freeze({ version: Number(version ?? 0), tokens, keys: new Set(keys as string[]) });
}
