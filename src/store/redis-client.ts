/**
 * Building the ioredis client for a parsed Redis URL (`redis-url.ts`): a `Cluster` for cluster URLs, a
 * Sentinel-backed `Redis` for sentinel URLs, a plain `Redis` otherwise. Every client fails fast: it
 * connects only when asked (`lazyConnect`), never queues commands while disconnected
 * (`enableOfflineQueue: false`), does not retry a command (`maxRetriesPerRequest: 0`) and bounds each one
 * by `commandTimeout`; it reconnects in the background with {@link reconnectDelay}, and also when a node
 * answers READONLY ({@link reconnectOnReadonly}).
 *
 * @module
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-security.js';
import type { RedisTarget } from './redis-url.js';

export interface RedisClientOptions {
  readonly commandTimeoutMs: number;
  /** The password for the first connection (the URL's, or an override). */
  readonly password: string | undefined;
  /** Called before each reconnect attempt (e.g. to re-read a password). */
  readonly beforeReconnect: () => void;
}

/**
 * Sets the password the client's next connections use: a standalone or Sentinel client's own option (and
 * its sentinels'); a Cluster's node options (which new node connections are made from) and each node connection's own.
 */
export function setRedisPassword(client: RedisClient, password: string | undefined): void {
  if (client instanceof Cluster) {
    if (client.options.redisOptions) client.options.redisOptions.password = password;
    for (const node of client.nodes('all')) node.options.password = password;
  } else if (client instanceof Redis) {
    client.options.password = password;
    // A Sentinel client asks its sentinels with the same password (createRedisClient).
    if (client.options.sentinels?.length) client.options.sentinelPassword = password;
  }
}

/** Reconnect delay: 50 ms doubling to 2 s, with jitter so replicas do not reconnect in lock step. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * A failover that keeps the connection open leaves it on the old master, now a replica refusing every write
 * (READONLY) for as long as it stays open: a managed Redis's primary endpoint or a Service that moves to the
 * new master only leads new connections there. Such an answer drops the connection (the command still fails:
 * no retry), so the next one reaches the master the address leads to now (or Sentinel names).
 */
export function reconnectOnReadonly(err: Error): boolean {
  return err.message.startsWith('READONLY');
}

export const CONNECT_TIMEOUT_MS = 5_000;
/** Connect only in start(); never queue commands while disconnected (they fail at once instead). */
const FAIL_FAST = { lazyConnect: true, enableOfflineQueue: false } as const;

export function createRedisClient(t: RedisTarget, opts: RedisClientOptions): RedisClient {
  const common = {
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectOnError: reconnectOnReadonly,
    username: t.username,
    password: opts.password,
    ...(t.tls ? { tls: {} } : {}),
  } satisfies RedisOptions;
  if (t.kind === 'cluster') {
    const options: ClusterOptions = {
      ...FAIL_FAST,
      clusterRetryStrategy: (times) => {
        opts.beforeReconnect();
        return reconnectDelay(times);
      },
      redisOptions: common,
    };
    return new Cluster(
      t.nodes.map((n) => ({ ...n })),
      options,
    );
  }
  const retryStrategy = (times: number): number => {
    opts.beforeReconnect();
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
      // The sentinels get the URL's password and TLS too (Sentinel set up by the common charts requires the
      // same password): ioredis asks them with none unless told. Not its username: an ACL user of the master
      // is unknown to a sentinel (WRONGPASS, fatal), while a password a sentinel does not ask for is only
      // warned about.
      sentinelPassword: opts.password,
      ...(t.tls ? { sentinelTLS: {} } : {}),
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
