/**
 * The Redis side of rate limiting, abuse detection and the security report, as functions of a connected
 * client (`redis-store.ts` wraps each in its fail-fast, error-wrapping `#run`). Token buckets, windows
 * and blocks are one Lua script each (`redis-scripts.ts`); counters are one MULTI, reads one pipeline.
 *
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { type KeyLayout, versionBase } from './redis-keys.js';
import {
  LIFT_BLOCK_SCRIPT,
  LIST_BLOCKS_SCRIPT,
  PUT_BLOCK_SCRIPT,
  runScript,
  type ScriptClient,
  TOKEN_BUCKET_SCRIPT,
  WINDOW_SCRIPT,
} from './redis-scripts.js';
import {
  type AbuseEvent,
  type BlockEntry,
  type BlockSnapshot,
  type BlockTarget,
  MAX_STORED_ANOMALIES,
  PRUNE_MARGIN_MS,
  SECURITY_RETENTION_MS,
  type SecurityCounterBatch,
  type TokenBucketSpec,
  type TokenTake,
  type WindowCount,
  type WindowHit,
} from './store.js';

export type RedisClient = Redis | Cluster;

export interface SecurityKeys {
  readonly keys: KeyLayout;
  /** A short id unique across replicas and calls (window members, anomaly entries). */
  uniqueId(): string;
  /** Ms to add to a caller's time for the bucket and window scripts: Redis's clock (`redis-clock.ts`). */
  offsetMs(): number;
}

export async function takeToken(
  c: RedisClient,
  k: SecurityKeys,
  key: string,
  spec: TokenBucketSpec,
  cost: number,
  nowMs: number,
): Promise<TokenTake> {
  const r = (await runScript(
    scriptClient(c),
    TOKEN_BUCKET_SCRIPT,
    [k.keys.bucket(key)],
    [spec.capacity, spec.refillPerSecond, cost, Math.floor(nowMs + k.offsetMs())],
  )) as number[];
  return { allowed: r[0] === 1, remaining: Number(r[1]), retryAfterMs: Number(r[2]), resetMs: Number(r[3]) };
}

/**
 * Hits sent in one script call. Each takes 8 arguments, and a call of all of a flush's (10,000 targets per
 * rule wait between flushes, and a failed flush's come back beside the next one's) overflowed the stack
 * spreading them (~18,000 hits on Node 20) and ran past the command timeout: the flush failed, its hits came
 * back, and every later flush failed too, leaving the abuse rules off. The windows are independent, so they
 * are counted a chunk at a time; a chunk counted before a later one fails is not counted twice when the
 * batch is sent again (each hit keeps its id).
 */
export const WINDOW_HITS_PER_CALL = 1_000;

export async function countInWindows(
  c: RedisClient,
  k: SecurityKeys,
  hits: readonly WindowHit[],
  nowMs: number,
): Promise<WindowCount[]> {
  const out: WindowCount[] = [];
  const offset = k.offsetMs();
  for (let from = 0; from < hits.length; from += WINDOW_HITS_PER_CALL) {
    const chunk = hits.slice(from, from + WINDOW_HITS_PER_CALL);
    const keys: string[] = [];
    const args: (string | number)[] = [Math.floor(nowMs + offset)];
    for (const h of chunk) {
      keys.push(k.keys.window(h.key), k.keys.windowCounts(h.key), k.keys.windowTrip(h.key));
      args.push(h.windowMs, h.count, h.threshold, h.id ?? k.uniqueId(), Math.floor(h.atMs + offset));
    }
    const r = (await runScript(scriptClient(c), WINDOW_SCRIPT, keys, args)) as number[];
    for (let i = 0; i < chunk.length; i++) out.push({ count: Number(r[2 * i]), tripped: r[2 * i + 1] === 1 });
  }
  return out;
}

export async function putBlock(
  c: RedisClient,
  k: SecurityKeys,
  entry: BlockEntry,
  extendOnly: boolean,
  nowMs: number,
): Promise<boolean> {
  const untilMs = Date.parse(entry.until);
  if (!Number.isFinite(untilMs)) throw new TypeError('block until must be an ISO 8601 time');
  const n = await runScript(scriptClient(c), PUT_BLOCK_SCRIPT, blockKeys(k), [
    blockField(entry.target, entry.value),
    JSON.stringify(entry),
    untilMs,
    extendOnly ? '1' : '0',
    Math.floor(nowMs),
    versionBase(),
  ]);
  return n === 1;
}

export async function liftBlock(
  c: RedisClient,
  k: SecurityKeys,
  target: BlockTarget,
  value: string,
  nowMs: number,
): Promise<boolean> {
  const n = await runScript(scriptClient(c), LIFT_BLOCK_SCRIPT, blockKeys(k), [
    blockField(target, value),
    Math.floor(nowMs),
    versionBase(),
  ]);
  return n === 1;
}

export async function blockVersion(c: RedisClient, k: SecurityKeys): Promise<number> {
  return Number((await c.get(k.keys.blocksVersion)) ?? 0);
}

export async function blocks(c: RedisClient, k: SecurityKeys, nowMs: number): Promise<BlockSnapshot> {
  const [version, rows] = (await runScript(scriptClient(c), LIST_BLOCKS_SCRIPT, blockKeys(k), [
    Math.floor(nowMs - PRUNE_MARGIN_MS),
  ])) as [string, string[]];
  const entries = rows
    .map(decodeBlock)
    .filter((b): b is BlockEntry => b !== null && Date.parse(b.until) > nowMs)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return Object.freeze({ version: Number(version), entries: Object.freeze(entries) });
}

export async function recordSecurityCounters(
  c: RedisClient,
  k: SecurityKeys,
  batch: SecurityCounterBatch,
  nowMs: number,
): Promise<void> {
  if (batch.hours.size === 0 && batch.anomalies.length === 0) return;
  const tx = c.multi();
  for (const [hour, fields] of batch.hours) {
    const key = k.keys.reportHour(hour);
    for (const [field, n] of fields) tx.hincrby(key, field, n);
    tx.pexpireat(key, hour + SECURITY_RETENTION_MS);
  }
  if (batch.anomalies.length > 0) {
    const key = k.keys.anomalies;
    for (const e of batch.anomalies) tx.zadd(key, Date.parse(e.at), `${k.uniqueId()}|${JSON.stringify(e)}`);
    tx.zremrangebyscore(key, '-inf', Math.floor(nowMs - SECURITY_RETENTION_MS));
    tx.zremrangebyrank(key, 0, -(MAX_STORED_ANOMALIES + 1));
    tx.pexpire(key, SECURITY_RETENTION_MS);
  }
  await exec(tx);
}

export async function securityCounters(
  c: RedisClient,
  k: SecurityKeys,
  hours: readonly number[],
): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  const unique = [...new Set(hours)];
  if (unique.length === 0) return sum;
  const pipeline = c.pipeline();
  for (const hour of unique) pipeline.hgetall(k.keys.reportHour(hour));
  for (const row of await exec(pipeline)) {
    for (const [field, n] of Object.entries(row as Record<string, string>)) {
      sum.set(field, (sum.get(field) ?? 0) + (Number(n) || 0));
    }
  }
  return sum;
}

export async function anomalies(
  c: RedisClient,
  k: SecurityKeys,
  sinceMs: number,
  untilMs: number,
  limit: number,
): Promise<AbuseEvent[]> {
  if (limit <= 0) return [];
  const rows = await c.zrevrangebyscore(
    k.keys.anomalies,
    Math.floor(untilMs),
    Math.ceil(sinceMs),
    'LIMIT',
    0,
    limit,
  );
  return rows.map(decodeAnomaly).filter((e): e is AbuseEvent => e !== null);
}

/** A stored block, or null if it is malformed (skipped rather than failing every poll). */
export function decodeBlock(json: string): BlockEntry | null {
  try {
    const v = JSON.parse(json) as Partial<BlockEntry>;
    if (
      (v.target !== 'subject' && v.target !== 'ip') ||
      typeof v.value !== 'string' ||
      typeof v.reason !== 'string' ||
      typeof v.until !== 'string' ||
      typeof v.createdAt !== 'string'
    )
      return null;
    const { target, value, reason, until, createdAt } = v;
    return Object.freeze({ target, value, reason, until, createdAt });
  } catch {
    return null;
  }
}

function decodeAnomaly(member: string): AbuseEvent | null {
  try {
    const v = JSON.parse(member.slice(member.indexOf('|') + 1)) as AbuseEvent | null;
    return v && typeof v.rule === 'string' && typeof v.at === 'string' ? v : null;
  } catch {
    return null;
  }
}

function blockKeys(k: SecurityKeys): string[] {
  return [k.keys.blocks, k.keys.blocksUntil, k.keys.blocksVersion];
}

function blockField(target: BlockTarget, value: string): string {
  return `${target}:${value}`;
}

function scriptClient(c: RedisClient): ScriptClient {
  return c as unknown as ScriptClient;
}

/** Runs a MULTI/pipeline and unwraps per-command errors. */
export async function exec(batch: { exec(): Promise<[Error | null, unknown][] | null> }): Promise<unknown[]> {
  const rows = await batch.exec();
  if (!rows) throw new Error('transaction aborted');
  return rows.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
