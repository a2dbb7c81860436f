/**
 * Picks the store named by the configuration: Redis when `store.redisUrl` is set, otherwise the
 * in-memory store (single process). The Redis password comes from `store.passwordFile` /
 * `AUTHZ_REDIS_PASSWORD` (through `config/secrets.ts`) or the URL.
 *
 * @module
 */

import type { Config } from '../config/schema.js';
import { openSecret } from '../config/secrets.js';
import type { Logger } from '../telemetry/logger.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

export interface StoreDeps {
  readonly logger: Logger;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
  /** Environment for secrets (tests); defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Told the operation of every store call that fails (metrics). */
  readonly onError?: (operation: string) => void;
}

export function createStore(config: Config, deps: StoreDeps): Store {
  const { redisUrl, keyPrefix, commandTimeoutMs } = config.store;
  if (!redisUrl) return new MemoryStore(deps.now ? { now: deps.now } : {});
  const password = openSecret(config, 'redisPassword', {
    logger: deps.logger,
    ...(deps.env ? { env: deps.env } : {}),
  });
  return new RedisStore({
    url: redisUrl,
    password,
    keyPrefix,
    commandTimeoutMs,
    logger: deps.logger.child({ component: 'store' }),
    ...(deps.now ? { now: deps.now } : {}),
    onError: deps.onError,
  });
}
