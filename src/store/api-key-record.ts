/**
 * An API key record as Redis holds it: a hash of strings (`<prefix>{authz}:key:<id>`, null fields left
 * out). Reading one back is a trust boundary — a migration script, an operator's `HSET` or another writer
 * can leave any string in any field — so the hash is decoded with a schema: every field a decision or a
 * check reads must be what `createApiKey` writes. A date `Date.parse` cannot read would make an expiry
 * check compare with NaN, which is never true, so the key would never expire; an empty tenant or role is no
 * value, as it is in a token. A record that fails is refused as a whole ({@link MalformedApiKeyRecord}).
 *
 * @module
 */
import { z } from 'zod';
import { isWellFormedText, WellFormedText } from '../well-formed-text.js';
import type { ApiKeyRecord } from './store.js';

/** A record in the store that does not decode: its key is refused, and `keys list` names it. */
export class MalformedApiKeyRecord extends Error {
  override readonly name = 'MalformedApiKeyRecord';
  /** The key id the record is stored under. */
  readonly keyId: string;
  /** What is wrong, naming fields, never their values (the hash is one). */
  readonly problem: string;

  constructor(keyId: string, problem: string) {
    super(`API key record ${keyId} is malformed: ${problem}`);
    this.keyId = keyId;
    this.problem = problem;
  }
}

const IsoDateTime = z.iso.datetime({ offset: true });

/**
 * An ISO 8601 date-time `Date.parse` reads: as `Date.toISOString()` writes it (years past 9999 too, as
 * `+010000-01-01T00:00:00.000Z`, which `keys create --expires-at` can store), or with an offset.
 */
const Instant = z.string().refine((s) => {
  const ms = Date.parse(s);
  return Number.isFinite(ms) && (new Date(ms).toISOString() === s || IsoDateTime.safeParse(s).success);
}, 'is not an ISO 8601 date-time');

/** A JSON array of texts, as `encodeRecord` writes roles and scopes. */
const TextList = z.string().transform((json, ctx) => {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not JSON' });
    return z.NEVER;
  }
  const list = z.array(WellFormedText).safeParse(v);
  if (!list.success) {
    ctx.addIssue({ code: 'custom', message: 'is not a list of non-empty, well-formed texts' });
    return z.NEVER;
  }
  return list.data;
});

const StoredRecord = z.object({
  id: WellFormedText,
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'is not an HMAC-SHA256 in hex'),
  subject: WellFormedText,
  tenant: WellFormedText.optional(),
  roles: TextList.optional(),
  scopes: TextList.optional(),
  clearance: WellFormedText.optional(),
  description: z.string().refine(isWellFormedText, 'is not well-formed Unicode').optional(),
  createdAt: Instant,
  expiresAt: Instant.optional(),
  active: z.enum(['0', '1']).optional(),
  lastUsedAt: Instant.optional(),
  usageCount: z
    .string()
    .regex(/^\d{1,15}$/, 'is not a count')
    .optional(),
});

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

/**
 * Decodes HGETALL output of the key stored under `id`: null for a missing key; throws
 * {@link MalformedApiKeyRecord} for one that does not decode, or that names another id.
 */
export function decodeRecord(id: string, h: Record<string, string>): ApiKeyRecord | null {
  if (Object.keys(h).length === 0) return null;
  const parsed = StoredRecord.safeParse(h);
  if (!parsed.success) {
    const problem = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'record'} ${i.message}`)
      .join('; ');
    throw new MalformedApiKeyRecord(id, problem);
  }
  const r = parsed.data;
  if (r.id !== id) throw new MalformedApiKeyRecord(id, 'id names another key');
  return Object.freeze({
    id: r.id,
    hash: r.hash,
    subject: r.subject,
    tenant: r.tenant ?? null,
    roles: Object.freeze(r.roles ?? []),
    scopes: Object.freeze(r.scopes ?? []),
    clearance: r.clearance ?? null,
    description: r.description ?? null,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt ?? null,
    active: r.active === '1',
    lastUsedAt: r.lastUsedAt ?? null,
    usageCount: r.usageCount === undefined ? 0 : Number(r.usageCount),
  });
}
