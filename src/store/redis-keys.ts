/**
 * The Redis key layout and the encoding of an API key record as a hash. Every key carries the `{authz}`
 * hash tag after `store.keyPrefix`, so all of them live in one Cluster slot and MULTI/Lua work on
 * Redis Cluster as on a single node.
 *
 * ```
 * <prefix>{authz}:key:<id>              hash   one API key record (fields below; null fields absent)
 * <prefix>{authz}:keys                  set    every key id (for listing)
 * <prefix>{authz}:revocation:tokens     zset   revoked jti, score = epoch seconds to keep it (token exp)
 * <prefix>{authz}:revocation:keys       set    revoked API key ids
 * <prefix>{authz}:revocation:version    string bumped by a random step on every revocation (from a random base);
 *                                              replicas poll it
 * <prefix>{authz}:rl:<bucket>           hash   token bucket: t = tokens (float), ts = last refill (epoch ms);
 *                                              PEXPIRE = ms until full again (a missing bucket is full)
 * <prefix>{authz}:abuse:win:<window>    zset   sliding window: member = a count's unique id, score = epoch ms;
 *                                              PEXPIRE = window length
 * <prefix>{authz}:abuse:wc:<window>     hash   that window's counts: id → count, `:sum` → their sum; PEXPIRE
 *                                              = window length (new names: the earlier `abuse:w:` zsets of
 *                                              `<count>:<id>` are not read, and expire)
 * <prefix>{authz}:abuse:trip:<window>   string epoch ms until which the window does not trip again (PX window)
 * <prefix>{authz}:blocks                hash   `<target>:<value>` → BlockEntry JSON
 * <prefix>{authz}:blocks:until          zset   `<target>:<value>`, score = epoch ms when the block ends
 * <prefix>{authz}:blocks:version        string bumped likewise on every block change; replicas poll it
 * <prefix>{authz}:report:<hour>         hash   `<category>|<value>` → count for the hour starting at
 *                                              <hour> × 3 600 000 ms; PEXPIREAT hour start + 8 days
 * <prefix>{authz}:report:anomalies      zset   `<unique id>|<AbuseEvent JSON>`, score = epoch ms; 8 days,
 *                                              at most 10 000
 * <prefix>{authz}:session:<sha256>      string the owner key of a Streamable HTTP session (SHA-256 of its id,
 *                                              base64url: ids are the client's to send); PX the binding's TTL
 * ```
 * `<bucket>` and `<window>` are built by the rate limiter and the abuse detector from `encodePart`-encoded
 * parts (`key-parts.ts`), so tenants, subjects and tools cannot forge each other's keys.
 *
 * @module
 */
import { createHash, randomInt } from 'node:crypto';

/** Version counters are bumped by 1 to this (see `versionStep`). */
const VERSION_STEP_RANGE = 2 ** 20;

export interface KeyLayout {
  key(id: string): string;
  readonly keyIds: string;
  readonly revokedTokens: string;
  readonly revokedKeys: string;
  readonly version: string;
  bucket(key: string): string;
  window(key: string): string;
  windowCounts(key: string): string;
  windowTrip(key: string): string;
  readonly blocks: string;
  readonly blocksUntil: string;
  readonly blocksVersion: string;
  reportHour(hourStartMs: number): string;
  readonly anomalies: string;
  session(sessionId: string): string;
}

export function keyLayout(prefix: string): KeyLayout {
  const base = `${prefix}{authz}:`;
  return {
    key: (id) => `${base}key:${id}`,
    keyIds: `${base}keys`,
    revokedTokens: `${base}revocation:tokens`,
    revokedKeys: `${base}revocation:keys`,
    version: `${base}revocation:version`,
    bucket: (key) => `${base}rl:${key}`,
    window: (key) => `${base}abuse:win:${key}`,
    windowCounts: (key) => `${base}abuse:wc:${key}`,
    windowTrip: (key) => `${base}abuse:trip:${key}`,
    blocks: `${base}blocks`,
    blocksUntil: `${base}blocks:until`,
    blocksVersion: `${base}blocks:version`,
    reportHour: (hourStartMs) => `${base}report:${Math.floor(hourStartMs / 3_600_000)}`,
    anomalies: `${base}report:anomalies`,
    session: (sessionId) => `${base}session:${createHash('sha256').update(sessionId).digest('base64url')}`,
  };
}

/** Adds uses and moves lastUsedAt forward (never back), only if the key still exists. */
export const USAGE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'usageCount', ARGV[1])
local last = redis.call('HGET', KEYS[1], 'lastUsedAt')
if (not last) or last < ARGV[2] then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[2]) end
return 1`;

/** Marks the key inactive, adds it to the revoked set and bumps the version; 0 if the key is unknown. */
export const REVOKE_KEY_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'active', '0')
redis.call('SADD', KEYS[2], ARGV[1])
${bumpVersionLua('KEYS[3]', 'ARGV[2]')}
return 1`;

/**
 * A random number below 2^48 (exact in JavaScript, far from Redis's int64 limit) for a version counter
 * (revocations, blocks): where it starts when it does not exist, and (below 2^20, plus one) the step of each
 * bump. Replicas reload when the version they poll differs from theirs; were every counter to start at 0 and
 * count by one, a Redis that lost its data (restart without persistence, FLUSHALL) or its last writes (a
 * failover, a restore from an older snapshot) would hand out numbers again that a replica already holds,
 * and one that did not poll in between would miss the new revocations or blocks.
 */
export function versionBase(): number {
  return randomInt(1, 2 ** 48);
}

/** The step of a bump made with `base` (a {@link versionBase}): 1 to 2^20. */
export function versionStep(base: number): number {
  return (base % VERSION_STEP_RANGE) + 1;
}

/**
 * Lua that bumps the version counter at `key` by a random step, starting it at `base` (a
 * {@link versionBase}) when it is new: see {@link versionStep}.
 */
export function bumpVersionLua(key: string, base: string): string {
  return `redis.call('SET', ${key}, ${base}, 'NX')\nredis.call('INCRBY', ${key}, (tonumber(${base}) % ${VERSION_STEP_RANGE}) + 1)`;
}
