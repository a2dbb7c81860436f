/**
 * The public port's connection limit (`server.maxConnections`), as Envoy's listener connection limit:
 * `node:http` closes every connection past the limit as soon as it is accepted (its `drop` event), before a
 * byte is read. Without it a client opening connections by the ten thousand (idle keep-alive ones, or event
 * streams, each holding an upstream connection too) runs the process out of file descriptors, and then
 * every caller fails, probes included. Drops are counted in `mcp_authz_connections_dropped_total` and
 * logged once a minute at most.
 *
 * @module
 */
import type { Server } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import type { Logger } from '../telemetry/logger.js';

/** At most one log line per this interval while connections are being dropped. */
export const DROP_LOG_INTERVAL_MS = 60_000;

export interface ConnectionLimitDeps {
  readonly meter: Meter;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Applies `max` (0: no limit) to `server` and counts the connections it drops. */
export function limitConnections(server: Server, max: number, deps: ConnectionLimitDeps): void {
  let dropped = 0;
  let unlogged = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;
  const now = deps.now ?? Date.now;
  deps.meter
    .createObservableCounter('mcp_authz_connections_dropped_total', {
      description: 'Client connections closed on accept because the public port held server.maxConnections.',
    })
    .addCallback((r) => r.observe(dropped));
  if (max === 0) return;
  server.maxConnections = max;
  let later: NodeJS.Timeout | undefined;
  const log = (): void => {
    clearTimeout(later);
    later = undefined;
    deps.logger.warn(
      { max_connections: max, dropped: unlogged },
      'connection limit reached: new client connections are closed (server.maxConnections)',
    );
    loggedAt = now();
    unlogged = 0;
  };
  server.on('drop', () => {
    dropped++;
    unlogged++;
    const wait = loggedAt + DROP_LOG_INTERVAL_MS - now();
    if (wait <= 0) log();
    // Drops within the interval are logged at its end, even when no later drop comes to do it.
    else later ??= setTimeout(log, wait).unref();
  });
  server.once('close', () => clearTimeout(later));
}
