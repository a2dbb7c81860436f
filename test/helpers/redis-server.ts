/**
 * Starts a real `redis-server` on a free loopback port for integration tests (no persistence). Readiness
 * is the server's own "Ready to accept connections" line on stdout, not a sleep. `kill()` simulates a
 * crash (SIGKILL), `stop()` a clean shutdown, `restart()` starts it again on the same port (empty).
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

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

export async function startRedis(): Promise<RedisServer> {
  const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) {
    throw new Error(
      'redis-server not found on PATH: install it (apt-get update && apt-get install -y redis-server) to run the Redis integration tests',
    );
  }
  const port = await freePort();
  let child = await spawnRedis(port);
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => terminate(child, 'SIGTERM'),
    kill: () => terminate(child, 'SIGKILL'),
    async restart() {
      await terminate(child, 'SIGKILL');
      child = await spawnRedis(port);
    },
  };
  return server;
}

function spawnRedis(port: number): Promise<ChildProcess> {
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
