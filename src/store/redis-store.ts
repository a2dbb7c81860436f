/**
 * The shared store on Redis (ioredis): standalone, TLS, Sentinel or Cluster (see `redis-url.ts`), keys laid
 * out as in `redis-keys.ts`. Calls fail fast while disconnected (`enableOfflineQueue: false`, no retries
 * per request, `commandTimeout`) so the request path never waits on a dead Redis; the client reconnects
 * in the background with capped backoff. An outage is logged once when it starts and once when it ends,
 * never per call. Failures surface as `StoreError`s whose messages hold no password, URL or arguments.
 * The hot-path operations (token bucket, abuse windows, blocks) are single Lua scripts run by EVALSHA
 * (`redis-scripts.ts`): one round trip each, bounded by `commandTimeoutMs` (buckets and windows on Redis's
 * clock, `redis-clock.ts`).
 *
 * This class owns the connection (its state as /readyz and the log see it is `redis-connection-state.ts`);
 * the client is built in `redis-client.ts`, and the
 * commands are in `redis-credentials.ts` (API keys, revocations) and `redis-security.ts` (the rest).
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { SecretSource } from '../config/secrets.js';
import type { ComponentStatus } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import { MalformedApiKeyRecord } from './api-key-record.js';
import { CONNECT_TIMEOUT_MS, createRedisClient, setRedisPassword } from './redis-client.js';
import { RedisClock } from './redis-clock.js';
import { RedisConnectionState } from './redis-connection-state.js';
import * as creds from './redis-credentials.js';
import { FOLLOW_ON_ERROR, SELECT_REFUSED, safeMessage, withNodeError } from './redis-errors.js';
import { type KeyLayout, keyLayout } from './redis-keys.js';
import { SCRIPTS } from './redis-scripts.js';
import * as ops from './redis-security.js';
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
  /** This replica's clock in epoch ms (prunes lapsed token revocations; its offset to Redis's is measured). */
  readonly now?: () => number;
  /** Told the operation of every call that fails (the `mcp_authz_store_errors_total` metric). */
  readonly onError?: ((operation: string) => void) | undefined;
}

type Client = ops.RedisClient;

const sessionTtl = (ms: number): string => String(Math.max(1, Math.round(ms)));

/** The value of a session key marking the session ended (owner keys are JSON arrays). */
const SESSION_ENDED = 'ended';

/**
 * Binds KEYS[1] to ARGV[1] for ARGV[2] ms when nobody holds it (lapsed or never bound), or when it is marked
 * ended (ARGV[4]) and this is no refresh (ARGV[3] = 0); renews it when ARGV[1] holds it; else 0.
 */
const CLAIM_SESSION = `
local current = redis.call('GET', KEYS[1])
if current == false or (current == ARGV[4] and ARGV[3] == '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

export class RedisStore implements Store {
  readonly name = 'store';
  readonly kind = 'redis' as const;
  readonly #opts: RedisStoreOptions;
  readonly #target: RedisTarget;
  readonly #keys: KeyLayout;
  readonly #now: () => number;
  readonly #where: string;
  #client: Client | undefined;
  readonly #conn: RedisConnectionState;
  readonly #clock: RedisClock;
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
    this.#conn = new RedisConnectionState(opts.logger, this.#where, this.#target);
    this.#clock = new RedisClock(this.#now, this.#keys.version, opts.logger);
    const uniqueId = () => `${this.#instanceId}${(++this.#seq).toString(36)}`;
    this.#sec = { keys: this.#keys, uniqueId, offsetMs: () => this.#clock.offsetMs };
  }

  /** Connects; resolves once ready or once the first attempt failed (then keeps reconnecting). */
  async start(): Promise<void> {
    if (this.#client) return;
    this.#conn.starting();
    const client = this.#createClient();
    this.#client = client;
    client.on('ready', () => {
      if (this.#conn.ready() && this.#client) this.#ready(this.#client);
    });
    client.on('error', (err: Error & { lastNodeError?: unknown }) => {
      if (!SELECT_REFUSED.test(err.message))
        this.#conn.down(withNodeError(err), FOLLOW_ON_ERROR.test(err.message));
      else if (this.#conn.selectRefused(err.message)) this.#client?.disconnect();
    });
    client.on('close', () => this.#conn.down('connection closed', true));
    // ioredis's Sentinel connect never settles while every sentinel is down: start() must not hang the
    // sidecar or a CLI command, so it gives up waiting after the connect timeout (ioredis keeps retrying).
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#conn.down(`no connection within ${CONNECT_TIMEOUT_MS} ms`, true);
        resolve();
      }, CONNECT_TIMEOUT_MS);
      timer.unref();
    });
    try {
      await Promise.race([client.connect(), timedOut]);
    } catch (err) {
      this.#conn.down((err as Error).message, true);
    } finally {
      clearTimeout(timer);
    }
    if (this.#client === client) await this.#clock.start(() => this.#client); // not if stop() ran meanwhile
  }

  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#conn.stopping();
    this.#clock.stop();
    this.#client = undefined;
    this.#opts.password?.close();
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  status(): ComponentStatus {
    return this.#conn.status();
  }

  putApiKey(record: ApiKeyRecord): Promise<void> {
    return this.#run('putApiKey', (c) => creds.putApiKey(c, this.#keys, record));
  }

  getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#run('getApiKey', (c) => creds.getApiKey(c, this.#keys, id));
  }

  listApiKeys(malformed?: (err: MalformedApiKeyRecord) => void): Promise<ApiKeyRecord[]> {
    return this.#run('listApiKeys', (c) => creds.listApiKeys(c, this.#keys, malformed));
  }

  recordApiKeyUsage(id: string, count: number, lastUsedAt: string): Promise<void> {
    return this.#run('recordApiKeyUsage', (c) =>
      creds.recordApiKeyUsage(c, this.#keys, id, count, lastUsedAt),
    );
  }

  revokeApiKey(id: string): Promise<boolean> {
    return this.#run('revokeApiKey', (c) => creds.revokeApiKey(c, this.#keys, id));
  }

  revokeToken(jti: string, expiresAt: number): Promise<void> {
    return this.#run('revokeToken', (c) => creds.revokeToken(c, this.#keys, jti, expiresAt, this.#now()));
  }

  revocationVersion(): Promise<number> {
    return this.#run('revocationVersion', (c) => creds.revocationVersion(c, this.#keys));
  }

  revocations(): Promise<RevocationSnapshot> {
    return this.#run('revocations', (c) => creds.revocations(c, this.#keys, this.#now()));
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

  claimSessionOwner(sessionId: string, owner: string, ttlMs: number, refresh = false): Promise<boolean> {
    const key = this.#keys.session(sessionId);
    const args = [owner, sessionTtl(ttlMs), refresh ? '1' : '0', SESSION_ENDED];
    // Once an initialize and once an hour of a session's use: a plain EVAL, not worth a loaded script.
    return this.#run('claimSessionOwner', async (c) => (await c.eval(CLAIM_SESSION, 1, key, ...args)) === 1);
  }

  sessionOwner(sessionId: string): Promise<string | null> {
    return this.#run('sessionOwner', async (c) => {
      const owner = await c.get(this.#keys.session(sessionId));
      return owner === SESSION_ENDED ? null : owner;
    });
  }

  endSession(sessionId: string, ttlMs: number): Promise<void> {
    return this.#run('endSession', async (c) => {
      await c.set(this.#keys.session(sessionId), SESSION_ENDED, 'PX', sessionTtl(ttlMs));
    });
  }

  /** SCRIPT LOAD on every master (requests then EVALSHA; NOSCRIPT → EVAL); the clock offset of this master. */
  #ready(client: Client): void {
    void this.#clock.measure(client);
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      for (const s of SCRIPTS) node.script('LOAD', s.source).catch(() => undefined);
    }
  }

  async #run<T>(operation: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = this.#client;
    if (c?.status !== 'ready' || this.#conn.refused) {
      this.#opts.onError?.(operation);
      throw new StoreError(operation, `not connected to ${this.#where}`);
    }
    try {
      return await fn(c);
    } catch (err) {
      // Data an operator wrote wrong, not an outage: the caller refuses that key and says which.
      if (err instanceof MalformedApiKeyRecord) throw err;
      this.#opts.onError?.(operation);
      if (err instanceof StoreError) throw err;
      throw new StoreError(operation, safeMessage(err));
    }
  }

  #password(): string | undefined {
    return this.#opts.password?.refresh()?.toString('utf8') ?? this.#target.password;
  }

  #createClient(): Client {
    return createRedisClient(this.#target, {
      commandTimeoutMs: this.#opts.commandTimeoutMs,
      password: this.#password(),
      beforeReconnect: () => {
        // Pick up a rotated password (Kubernetes Secret) before the next attempt.
        if (this.#client) setRedisPassword(this.#client, this.#password());
      },
    });
  }
}
