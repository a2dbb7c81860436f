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
 * <prefix>{authz}:revocation:version    string INCR'd on every revocation; replicas poll it
 * ```
 *
 * @module
 */
import type { ApiKeyRecord } from './store.js';

export interface KeyLayout {
  key(id: string): string;
  readonly keyIds: string;
  readonly revokedTokens: string;
  readonly revokedKeys: string;
  readonly version: string;
}

export function keyLayout(prefix: string): KeyLayout {
  const base = `${prefix}{authz}:`;
  return {
    key: (id) => `${base}key:${id}`,
    keyIds: `${base}keys`,
    revokedTokens: `${base}revocation:tokens`,
    revokedKeys: `${base}revocation:keys`,
    version: `${base}revocation:version`,
  };
}

/** Hash fields for HSET; null values are left out. */
export function encodeRecord(r: ApiKeyRecord): Record<string, string> {
  const fields: Record<string, string | null> = {
    id: r.id,
    hash: r.hash,
    subject: r.subject,
    tenant: r.tenant,
    roles: JSON.stringify(r.roles),
    scopes: JSON.stringify(r.scopes),
    clearance: r.clearance,
    description: r.description,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    active: r.active ? '1' : '0',
    lastUsedAt: r.lastUsedAt,
    usageCount: String(r.usageCount),
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== null));
}

/** Decodes HGETALL output; null for a missing key; throws on a malformed record. */
export function decodeRecord(h: Record<string, string>): ApiKeyRecord | null {
  if (Object.keys(h).length === 0) return null;
  const { id, hash, subject, createdAt } = h;
  if (!id || !hash || !subject || !createdAt) throw new Error('malformed API key record');
  return Object.freeze({
    id,
    hash,
    subject,
    tenant: h.tenant ?? null,
    roles: Object.freeze(stringArray(h.roles)),
    scopes: Object.freeze(stringArray(h.scopes)),
    clearance: h.clearance ?? null,
    description: h.description ?? null,
    createdAt,
    expiresAt: h.expiresAt ?? null,
    active: h.active === '1',
    lastUsedAt: h.lastUsedAt ?? null,
    usageCount: Number(h.usageCount ?? 0) || 0,
  });
}

function stringArray(json: string | undefined): string[] {
  if (json === undefined) return [];
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new Error('malformed API key record');
  return v;
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
redis.call('INCR', KEYS[3])
return 1`;
