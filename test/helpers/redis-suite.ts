/**
 * One real `redis-server` for a test file: started before its first test and stopped after its last, with
 * what a test opens (stores, detectors, authenticators) closed after that test, in reverse order. Each
 * test keeps its own keys apart with a fresh key prefix.
 *
 * @module
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createStore, type StoreDeps } from '../../src/store/create-store.js';
import type { Store } from '../../src/store/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type RedisServer, startRedis } from './redis-server.js';

export interface RedisSuite {
  /** The server (set once the file's `beforeAll` has run). */
  readonly redis: RedisServer;
  /** A key prefix no other test of the file uses: `<name><n>:`. */
  prefix(name: string): string;
  /** Runs `close` after the current test. */
  cleanup(close: () => Promise<void>): void;
  /** A started store on this server with key prefix `prefix`, or on `config`; stopped after the test. */
  openStore(prefixOrConfig: string | Config, deps?: Partial<StoreDeps>): Promise<Store>;
}

/** Registers the file's hooks; call at the top level of a test file. */
export function redisSuite(): RedisSuite {
  let server: RedisServer | undefined;
  let n = 0;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await server?.stop();
  });
  const suite: RedisSuite = {
    get redis(): RedisServer {
      if (!server) throw new Error('redis-server is not started yet (use it inside a test or hook)');
      return server;
    },
    prefix: (name) => `${name}${++n}:`,
    cleanup: (close) => {
      closers.push(close);
    },
    async openStore(prefixOrConfig, deps = {}) {
      const config =
        typeof prefixOrConfig === 'string'
          ? parseConfig({ store: { redisUrl: suite.redis.url, keyPrefix: prefixOrConfig } }, {})
          : prefixOrConfig;
      const store = createStore(config, { logger: silentLogger(), ...deps });
      await store.start();
      closers.push(() => store.stop());
      return store;
    },
  };
  return suite;
}
