/**
 * The Streamable HTTP session table of a sidecar (`mcp/session-owners.ts`) and what becomes of the sessions
 * it evicts when full. With `server.unknownSessions: reject` an evicted session is refused from then on, so
 * it is ended at the upstream too (`proxy/session-ender.ts`). With `forward` its caller may still use it
 * through the upstream, so it is left alone and counted as kept. The request ids in flight per session
 * (`mcp/in-flight-ids.ts`) live beside it: a session that ends drops its own.
 *
 * @module
 */
import type { Config } from '../config/schema.js';
import { InFlightIds } from '../mcp/in-flight-ids.js';
import { SessionOwners, type SharedSessions } from '../mcp/session-owners.js';
import { endsInFlight, SessionEnder } from '../proxy/session-ender.js';
import type { Upstream } from '../proxy/upstream.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { SessionEvictionResult } from '../telemetry/metric-labels.js';

/** The table's bounds; tests lower them (the defaults are `SessionOwners`'). */
export interface SessionCaps {
  readonly max?: number;
  readonly perCaller?: number;
}

export interface SessionTable {
  readonly owners: SessionOwners;
  /** Stopped at shutdown before the upstream pool closes (`listeners.ts`). */
  readonly ender: SessionEnder;
  /** The request ids in flight per session (claimed by the parse stage), dropped with a session that ends. */
  readonly inFlight: InFlightIds;
}

export function createSessionTable(
  config: Config,
  deps: {
    readonly upstream: Pick<Upstream, 'request'>;
    /** Path of the upstream MCP endpoint. */
    readonly path: string;
    readonly logger: Logger;
    readonly onEvicted: (result: SessionEvictionResult) => void;
    readonly caps?: SessionCaps;
    /** The store: with Redis, bindings are shared (restarts, replicas); the in-memory one adds nothing. */
    readonly store?: Store;
  },
): SessionTable {
  const ender = new SessionEnder({
    upstream: deps.upstream,
    path: deps.path,
    // A DELETE's answer is short: the time the upstream has for any answer's headers bounds the whole of it.
    timeoutMs: config.upstream.headersTimeoutMs,
    maxInFlight: endsInFlight(config.upstream.connections),
    logger: deps.logger,
    onResult: deps.onEvicted,
  });
  const unknown = config.server.unknownSessions;
  const inFlight = new InFlightIds();
  const owners = new SessionOwners({
    perCaller: config.server.maxSessionsPerCaller,
    ...deps.caps,
    unknown,
    onEvict: unknown === 'reject' ? (id, version) => ender.end(id, version) : () => deps.onEvicted('kept'),
    // A session that ended takes its ids in flight and its late-reply holds along.
    onEnd: (id) => inFlight.endSession(id),
    // With `forward` an unknown session is never looked up: bindings in the store would only pile up.
    ...(deps.store?.kind === 'redis' && unknown === 'reject'
      ? { shared: sharedSessions(deps.store, deps.logger) }
      : {}),
  });
  return { owners, ender, inFlight };
}

/** How long a session binding lasts in the shared store without use (each hour of use writes it again). */
export const SHARED_SESSION_TTL_MS = 24 * 3_600_000;

/**
 * Session bindings in the store. A failed write leaves the binding in this replica only (said at debug: the
 * store's own outage is logged once by the store); a failed lookup refuses the session for now (503).
 */
function sharedSessions(store: Store, logger: Logger): SharedSessions {
  const failed = (what: string) => (err: unknown) =>
    logger.debug({ err: (err as Error).message }, `session binding not ${what} in the store`);
  return {
    claim: (id, owner) => store.claimSessionOwner(id, owner, SHARED_SESSION_TTL_MS),
    refresh: (id, owner) =>
      void store.claimSessionOwner(id, owner, SHARED_SESSION_TTL_MS, true).catch(failed('refreshed')),
    get: (id) => store.sessionOwner(id),
    // Marked ended rather than deleted: a replica still holding it must not write it back.
    delete: (id) => void store.endSession(id, SHARED_SESSION_TTL_MS).catch(failed('marked ended')),
  };
}
