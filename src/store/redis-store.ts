/**
 * The shared store on Redis (ioredis): standalone, TLS, Sentinel or Cluster (see `redis-url.ts`), keys laid
 * out as in `redis-keys.ts`. Calls fail fast while disconnected (`enableOfflineQueue: false`, no retries
 * per request, `commandTimeout`) so the request path never waits on a dead Redis; the client reconnects
 * in the background with capped backoff. An outage is logged once when it starts and once when it ends,
 * never per call. Failures surface as `StoreError`s whose messages hold no password, URL or arguments.
 * The hot-path operations (token bucket, abuse windows, blocks) are single Lua scripts run by EVALSHA
 * (`redis-scripts.ts`): one round trip each, each bounded by `commandTimeoutMs`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { SecretSource } from '../config/secrets.js';
import type { ComponentStatus } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import {
  decodeRecord,
  encodeRecord,
  type KeyLayout,
  keyLayout,
  REVOKE_KEY_SCRIPT,
  USAGE_SCRIPT,
} from './redis-keys.js';
import { SCRIPTS } from './redis-scripts.js';
import * as ops from './redis-security.js';
import { exec } from './redis-security.js';
import { parseRedisUrl, type RedisTarget, redactRedisUrl } from './redis-url.js';
import type {
  AbuseEvent,
  ApiKeyRecord,
  BlockEntry,
  BlockSnapshot,
  BlockTarget,
  RevocationSnapshot,
  SecurityCounterBatch,
  Store,
  TokenBucketSpec,
  TokenTake,
  WindowCount,
  WindowHit,
} from './store.js';
import { StoreError } from './store-error.js';

export interface RedisStoreOptions {
  readonly url: string;
  /**
   * Overrides a password in the URL (file or AUTHZ_REDIS_PASSWORD); re-read on every reconnect. The store
   * owns it and closes it on stop().
   */
  readonly password?: SecretSource | undefined;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
  /** Clock in epoch milliseconds (prunes lapsed token revocations). */
  readonly now?: () => number;
}

/** Reconnect delay: 50 ms doubling to 2 s, with jitter so replicas do not reconnect in lock step. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

const CONNECT_TIMEOUT_MS = 5_000;
/** Connect only in start(); never queue commands while disconnected (they fail at once instead). */
const FAIL_FAST = { lazyConnect: true, enableOfflineQueue: false } as const;

type Client = Redis | Cluster;

export class RedisStore implements Store {
  readonly name = 'store';
  readonly kind = 'redis' as const;
  readonly #opts: RedisStoreOptions;
  readonly #target: RedisTarget;
  readonly #keys: KeyLayout;
  readonly #now: () => number;
  readonly #where: string;
  #client: Client | undefined;
  #state: ComponentStatus = { state: 'not_ready', detail: 'not started' };
  #down = false;
  #stopping = false;
  /** Makes window members and anomaly entries unique across replicas. */
  readonly #instanceId = randomBytes(6).toString('hex');
  #seq = 0;
  readonly #sec: ops.SecurityKeys;

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#target = parseRedisUrl(opts.url);
    this.#keys = keyLayout(opts.keyPrefix);
    this.#now = opts.now ?? Date.now;
    this.#where = redactRedisUrl(opts.url);
    this.#sec = { keys: this.#keys, uniqueId: () => `${this.#instanceId}${(++this.#seq).toString(36)}` };
  }

  /** Connects; resolves once ready or once the first attempt failed (then keeps reconnecting). */
  async start(): Promise<void> {
    if (this.#client) return;
    this.#stopping = false;
    const client = this.#createClient();
    this.#client = client;
    client.on('ready', () => this.#onReady());
    client.on('error', (err: Error) => this.#onDown(err.message));
    client.on('close', () => this.#onDown('connection closed', true));
    try {
      await client.connect();
    } catch (err) {
      this.#onDown((err as Error).message, true);
    }
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#stopping = true;
    this.#client = undefined;
    this.#opts.password?.close();
    this.#state = { state: 'not_ready', detail: 'stopped' };
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  status(): ComponentStatus {
    return this.#state;
  }

  putApiKey(record: ApiKeyRecord): Promise<void> {
    const k = this.#keys;
    return this.#run('putApiKey', async (c) => {
      await exec(
        c
          .multi()
          .del(k.key(record.id))
          .hset(k.key(record.id), encodeRecord(record))
          .sadd(k.keyIds, record.id),
      );
    });
  }

  getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#run('getApiKey', async (c) => decodeRecord(await c.hgetall(this.#keys.key(id))));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#run('listApiKeys', async (c) => {
      const ids = await c.smembers(this.#keys.keyIds);
      if (ids.length === 0) return [];
      const pipeline = c.pipeline();
      for (const id of ids) pipeline.hgetall(this.#keys.key(id));
      const rows = await exec(pipeline);
      return rows
        .map((h) => decodeRecord(h as Record<string, string>))
        .filter((r): r is ApiKeyRecord => r !== null)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    });
  }

  recordApiKeyUsage(id: string, count: number, lastUsedAt: string): Promise<void> {
    return this.#run('recordApiKeyUsage', async (c) => {
      await c.eval(USAGE_SCRIPT, 1, this.#keys.key(id), count, lastUsedAt);
    });
  }

  revokeApiKey(id: string): Promise<boolean> {
    const k = this.#keys;
    return this.#run('revokeApiKey', async (c) => {
      const n = await c.eval(REVOKE_KEY_SCRIPT, 3, k.key(id), k.revokedKeys, k.version, id);
      return n === 1;
    });
  }

  revokeToken(jti: string, expiresAt: number): Promise<void> {
    const k = this.#keys;
    return this.#run('revokeToken', async (c) => {
      await exec(
        c
          .multi()
          .zadd(k.revokedTokens, 'GT', expiresAt, jti)
          .zremrangebyscore(k.revokedTokens, '-inf', Math.floor(this.#now() / 1000))
          .incr(k.version),
      );
    });
  }

  revocationVersion(): Promise<number> {
    return this.#run('revocationVersion', async (c) => Number((await c.get(this.#keys.version)) ?? 0));
  }

  revocations(): Promise<RevocationSnapshot> {
    const k = this.#keys;
    return this.#run('revocations', async (c) => {
      const [, version, flat, keys] = await exec(
        c
          .multi()
          .zremrangebyscore(k.revokedTokens, '-inf', Math.floor(this.#now() / 1000))
          .get(k.version)
          .zrange(k.revokedTokens, 0, -1, 'WITHSCORES')
          .smembers(k.revokedKeys),
      );
      const tokens = new Map<string, number>();
      const pairs = flat as string[];
      for (let i = 0; i + 1 < pairs.length; i += 2) tokens.set(pairs[i] as string, Number(pairs[i + 1]));
      return Object.freeze({ version: Number(version ?? 0), tokens, keys: new Set(keys as string[]) });
    });
  }

  takeToken(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): Promise<TokenTake> {
    return this.#run('takeToken', (c) => ops.takeToken(c, this.#sec, key, spec, cost, nowMs));
  }

  countInWindows(hits: readonly WindowHit[], nowMs: number): Promise<WindowCount[]> {
    return this.#run('countInWindows', (c) => ops.countInWindows(c, this.#sec, hits, nowMs));
  }

  putBlock(
    entry: BlockEntry,
    opts: { readonly extendOnly?: boolean; readonly nowMs?: number } = {},
  ): Promise<boolean> {
    const nowMs = opts.nowMs ?? this.#now();
    return this.#run('putBlock', (c) => ops.putBlock(c, this.#sec, entry, opts.extendOnly === true, nowMs));
  }

  liftBlock(target: BlockTarget, value: string, nowMs: number): Promise<boolean> {
    return this.#run('liftBlock', (c) => ops.liftBlock(c, this.#sec, target, value, nowMs));
  }

  blockVersion(): Promise<number> {
    return this.#run('blockVersion', (c) => ops.blockVersion(c, this.#sec));
  }

  blocks(nowMs: number): Promise<BlockSnapshot> {
    return this.#run('blocks', (c) => ops.blocks(c, this.#sec, nowMs));
  }

  recordSecurityCounters(batch: SecurityCounterBatch, nowMs: number): Promise<void> {
    return this.#run('recordSecurityCounters', (c) => ops.recordSecurityCounters(c, this.#sec, batch, nowMs));
  }

  securityCounters(hours: readonly number[]): Promise<Map<string, number>> {
    return this.#run('securityCounters', (c) => ops.securityCounters(c, this.#sec, hours));
  }

  anomalies(sinceMs: number, untilMs: number, limit: number): Promise<AbuseEvent[]> {
    return this.#run('anomalies', (c) => ops.anomalies(c, this.#sec, sinceMs, untilMs, limit));
  }

  /** SCRIPT LOAD on every master, so requests can go straight to EVALSHA; best effort (NOSCRIPT → EVAL). */
  #loadScripts(client: Client): void {
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      for (const s of SCRIPTS) node.script('LOAD', s.source).catch(() => undefined);
    }
  }

  async #run<T>(operation: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = this.#client;
    if (c?.status !== 'ready') {
      throw new StoreError(operation, `not connected to ${this.#where}`);
    }
    try {
      return await fn(c);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(operation, safeMessage(err));
    }
  }

  #onReady(): void {
    if (this.#stopping) return;
    if (this.#down) this.#opts.logger.info({ store: this.#where }, 'store connection restored');
    else this.#opts.logger.info({ store: this.#where, mode: this.#target.kind }, 'store connected');
    this.#down = false;
    this.#state = { state: 'ok', detail: `redis ${this.#target.kind}` };
    if (this.#client) this.#loadScripts(this.#client);
  }

  /** `vague` reasons (a bare close) do not replace the error that explains an ongoing outage. */
  #onDown(reason: string, vague = false): void {
    if (this.#stopping || (vague && this.#down)) return;
    const detail = `redis unreachable: ${redactRedisUrl(reason)}`;
    if (!this.#down) {
      this.#down = true;
      this.#opts.logger.warn({ store: this.#where, reason: detail }, 'store connection lost; reconnecting');
    }
    this.#state = { state: 'error', detail };
  }

  #password(): string | undefined {
    return this.#opts.password?.refresh()?.toString('utf8') ?? this.#target.password;
  }

  #createClient(): Client {
    const t = this.#target;
    const common = {
      maxRetriesPerRequest: 0,
      commandTimeout: this.#opts.commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      username: t.username,
      password: this.#password(),
      ...(t.tls ? { tls: {} } : {}),
    } satisfies RedisOptions;
    if (t.kind === 'cluster') {
      const options: ClusterOptions = {
        ...FAIL_FAST,
        clusterRetryStrategy: (times) => reconnectDelay(times),
        redisOptions: common,
      };
      return new Cluster(
        t.nodes.map((n) => ({ ...n })),
        options,
      );
    }
    const retryStrategy = (times: number): number => {
      // Pick up a rotated password (Kubernetes Secret) before the next attempt.
      if (this.#client instanceof Redis) this.#client.options.password = this.#password();
      return reconnectDelay(times);
    };
    if (t.kind === 'sentinel') {
      return new Redis({
        ...common,
        ...FAIL_FAST,
        sentinels: t.sentinels.map((n) => ({ ...n })),
        name: t.masterName,
        db: t.db,
        enableTLSForSentinelMode: t.tls,
        retryStrategy,
        sentinelRetryStrategy: (times: number) => reconnectDelay(times),
      });
    }
    return new Redis({
      ...common,
      ...FAIL_FAST,
      host: t.node.host,
      port: t.node.port,
      db: t.db,
      retryStrategy,
    });
  }
}

function safeMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return redactRedisUrl(msg.split('\n')[0] ?? 'unknown error');
}
