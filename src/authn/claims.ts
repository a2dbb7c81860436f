/**
 * Maps a verified JWT payload to a `Principal`. Claim locations come from `authn.jwt.claims` as dotted
 * paths (`realm_access.roles`); a path that exists as one key is taken whole first, so `cognito:groups`
 * and namespaced claims like `https://example.com/roles` work. Roles may be an array or a space/comma
 * separated string; scopes come from `scope` (space-separated) or `scp` (array), trying the configured
 * path first and then the other. The mapped values are checked with zod: a claim of the wrong type is an
 * invalid token, not a silently empty field; so are claims nested deeper than {@link MAX_CLAIM_DEPTH}.
 *
 * @module
 */
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { AuthnError } from '../errors/errors.js';
import { WellFormedText } from '../well-formed-text.js';
import type { Principal } from './principal.js';

export type ClaimPaths = Config['authn']['jwt']['claims'];

const SCOPE_PATHS = ['scope', 'scp'] as const;

/**
 * The deepest nesting of arrays and objects a token's claims may have. They reach the policy as
 * `subject.claims`, and building its input walks them recursively: a signed token nesting a claim a few
 * thousand levels deep (it fits in a header) overflowed the stack there, every call an error-level "policy
 * evaluation failed" instead of the token's 401.
 */
export const MAX_CLAIM_DEPTH = 64;

const Text = WellFormedText;

const MappedSchema = z.object({
  id: Text,
  tenant: Text.nullable(),
  roles: z.array(Text),
  scopes: z.array(Text),
  clearance: Text.nullable(),
  tokenId: z.string().min(1).optional(),
  expiresAt: z.number().finite(),
});

/** Reads a claim by path: the whole path as one key, else a dotted walk through objects. */
export function readClaim(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let node: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, key)) {
      return undefined;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** A list claim: array kept as is (checked later), string split on `separators`, absent → []. */
export function toList(value: unknown, separators: RegExp): unknown {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(separators).filter((s) => s.length > 0);
  return value;
}

/** Scopes from the configured path, falling back to the other of `scope` / `scp`. */
export function readScopes(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  for (const p of [path, ...SCOPE_PATHS.filter((s) => s !== path)]) {
    const v = readClaim(payload, p);
    // RFC 6749 §3.3: scope tokens are separated by spaces (0x20) alone; JavaScript's `\s` would also split
    // on a no-break or ideographic space inside a token, making scopes the issuer never granted.
    if (v !== undefined && v !== null) return toList(v, / +/);
  }
  return [];
}

/** Builds the principal; throws `AuthnError('ERR_AUTHN_INVALID_TOKEN')` naming the bad claim. */
export function toPrincipal(payload: JWTPayload, paths: ClaimPaths): Principal {
  const p = payload as Readonly<Record<string, unknown>>;
  if (!nestedWithin(p, MAX_CLAIM_DEPTH)) {
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', `claims nested deeper than ${MAX_CLAIM_DEPTH} levels`);
  }
  const candidate = {
    id: readClaim(p, paths.subject),
    tenant: scalar(readClaim(p, paths.tenant)),
    roles: toList(readClaim(p, paths.roles), /[ \t\r\n,]+/),
    scopes: readScopes(p, paths.scopes),
    clearance: scalar(readClaim(p, paths.clearance)),
    tokenId: p.jti,
    expiresAt: p.exp,
  };
  const parsed = MappedSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? 'claims');
    const what = issue?.code === 'custom' ? issue.message : 'is missing or has the wrong type';
    throw new AuthnError('ERR_AUTHN_INVALID_TOKEN', `claim ${claimName(field, paths)} ${what}`);
  }
  const m = parsed.data;
  return Object.freeze({
    id: m.id,
    tenant: m.tenant,
    roles: Object.freeze(m.roles),
    scopes: Object.freeze(m.scopes),
    clearance: m.clearance,
    authMethod: 'jwt',
    ...(m.tokenId === undefined ? {} : { tokenId: m.tokenId }),
    expiresAt: m.expiresAt,
    claims: deepFreeze({ ...p }),
  });
}

/**
 * Tenant and clearance: strings, integers turned into strings, absent → null. A number that is no safe
 * integer stays a number, which the schema refuses (an invalid token): `9007199254740993` has already been
 * read as `…992`, another tenant's id, and `1.0` and `1` would be one tenant.
 */
function scalar(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
}

function claimName(field: string, paths: ClaimPaths): string {
  const names: Record<string, string> = {
    id: paths.subject,
    tenant: paths.tenant,
    roles: paths.roles,
    scopes: paths.scopes,
    clearance: paths.clearance,
    tokenId: 'jti',
    expiresAt: 'exp',
  };
  return names[field] ?? field;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Whether `value` nests arrays and objects at most `max` deep (iteratively: no recursion to overflow). */
export function nestedWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return false;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return true;
}
