/**
 * The `redis-server` of the rate-limit comparison of `npm run bench` (`run.ts`): started on a free
 * loopback port without persistence (`test/helpers/redis-server.ts`), pinned to the servers' CPU like the
 * sidecars that use it, its own counters (commands, EVALSHAs, CPU time) read through a client, and
 * stopped at the end.
 *
 * @module
 */
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../test/helpers/redis-server.js';
import { pin, SERVER_CPU } from './processes.js';

export interface BenchRedis {
  readonly server: RedisServer;
  readonly client: Redis;
  readonly pid: number;
  readonly version: string;
}

/** Starts `redis-server`, connects a client, pins the server to the servers' CPU and kills it on exit. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startRedis();
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const info = await client.info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  pin([pid], SERVER_CPU);
  process.on('exit', () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  });
  return { server, client, pid, version };
}

/** Redis's own counters: commands executed (all, and EVALSHA, the token bucket) and its CPU time (µs). */
export async function redisCounters(
  redis: BenchRedis | null,
): Promise<{ calls: number; evalsha: number; cpuUs: number }> {
  if (!redis) return { calls: 0, evalsha: 0, cpuUs: 0 };
  const [stats, cpuInfo] = [await redis.client.info('commandstats'), await redis.client.info('cpu')];
  let calls = 0;
  let evalsha = 0;
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = m[1] as string;
    const n = Number(m[2]);
    if (name === 'info') continue; // our own probes
    calls += n;
    if (name === 'evalsha') evalsha += n;
  }
  const sec = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpuInfo)?.[1] ?? 0);
  return { calls, evalsha, cpuUs: (sec('used_cpu_user') + sec('used_cpu_sys')) * 1e6 };
}

export async function stopBenchRedis(redis: BenchRedis): Promise<void> {
  redis.client.disconnect();
  await redis.server.stop();
}
