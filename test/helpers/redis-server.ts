/**
 * Starts a real `redis-server` on a free loopback port for integration tests (no persistence). Readiness
 * is the server's own "Ready to accept connections" line on stdout, not a sleep. `kill()` simulates a
 * crash (SIGKILL), `stop()` a clean shutdown, `restart()` starts it again on the same port (empty).
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisOptions {
  /** A one-node Redis Cluster holding every slot (its URL is `redis+cluster://`). */
  readonly cluster?: boolean;
  /** `requirepass`. */
  readonly password?: string;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Graceful shutdown (SIGTERM); waits for the process to exit. */
  stop(): Promise<void>;
  /** Crash (SIGKILL); waits for the process to exit. */
  kill(): Promise<void>;
  /** Starts again on the same port after stop() or kill(); the data is gone. */
  restart(): Promise<void>;
}

const READY = 'Ready to accept connections';
const START_TIMEOUT_MS = 10_000;

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) {
    throw new Error(
      'redis-server not found on PATH: install it (apt-get update && apt-get install -y redis-server) to run the Redis integration tests',
    );
  }
  const port = await freePort();
  let child = await spawnRedis(port, serverArgs(opts));
  if (opts.cluster) await assignAllSlots(port, opts.password);
  const server: RedisServer = {
    url: `${opts.cluster ? 'redis+cluster' : 'redis'}://127.0.0.1:${port}`,
    port,
    stop: () => terminate(child, 'SIGTERM'),
    kill: () => terminate(child, 'SIGKILL'),
    async restart() {
      await terminate(child, 'SIGKILL');
      // In a fresh directory: a server that was a replica would load the RDB file it received there.
      child = await spawnRedis(port, serverArgs(opts));
      if (opts.cluster) await assignAllSlots(port, opts.password);
    },
  };
  return server;
}

/**
 * Each server works in a directory of its own: with saving off a master still writes an RDB file when a
 * replica syncs from it (a `REPLICAOF` test), which in the default working directory (the checkout) left
 * `dump.rdb` in the repository.
 */
function serverArgs(opts: RedisOptions): string[] {
  const dir = mkdtempSync(join(tmpdir(), opts.cluster ? 'redis-cluster-' : 'redis-'));
  const args = ['--dir', dir];
  if (opts.password !== undefined) args.push('--requirepass', opts.password);
  if (opts.cluster) {
    args.push('--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1');
    args.push('--cluster-config-file', join(dir, 'nodes.conf'));
  }
  return args;
}

/** Gives the one node every slot and waits until the cluster says it is ok. */
async function assignAllSlots(port: number, password: string | undefined): Promise<void> {
  const admin = new Redis(port, '127.0.0.1', password === undefined ? {} : { password });
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('the one-node Redis Cluster never reached cluster_state:ok');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    admin.disconnect();
  }
}

function spawnRedis(port: number, extra: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'notice',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('error', fail);
      child.off('exit', onExit);
    };
    const fail = (err: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(err);
    };
    const onExit = (code: number | null) =>
      fail(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!out.includes(READY)) return;
      cleanup();
      child.stdout?.resume();
      resolve(child);
    };
    const timer = setTimeout(
      () => fail(new Error(`redis-server was not ready within ${START_TIMEOUT_MS} ms:\n${out}`)),
      START_TIMEOUT_MS,
    );
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.once('error', fail);
    child.once('exit', onExit);
  });
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisSentinel {
  /** `redis+sentinel://127.0.0.1:<port>/mymaster`, without credentials. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A real Redis Sentinel (`redis-server --sentinel`) monitoring `master` as `mymaster`; with `password`, the
 * sentinel itself requires it (`requirepass`) and uses it with the master (`auth-pass`), as the common charts
 * set them up. Ready once it logs that it monitors the master.
 */
export async function startSentinel(master: RedisServer, password?: string): Promise<RedisSentinel> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  const lines = [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`];
  lines.push(`sentinel monitor mymaster 127.0.0.1 ${master.port} 1`);
  if (password !== undefined)
    lines.push(`requirepass ${password}`, `sentinel auth-pass mymaster ${password}`);
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis sentinel was not ready within ${START_TIMEOUT_MS} ms:\n${out}`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`redis sentinel exited (${code}) before it was ready:\n${out}`));
    };
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!out.includes('+monitor master mymaster')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve();
    });
  });
  return {
    url: `redis+sentinel://127.0.0.1:${port}/mymaster`,
    stop: () => terminate(child, 'SIGTERM'),
  };
}
