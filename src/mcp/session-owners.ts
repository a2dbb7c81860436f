/**
 * Binds Streamable HTTP sessions to the caller who created them. The upstream issues `Mcp-Session-Id` on
 * `initialize`; from then on only the same caller (auth method, tenant and subject) may use that session —
 * otherwise another caller who learned the id could open its GET stream and read the first caller's
 * server-to-client messages. An id this sidecar never saw issued (it restarted, the session started on
 * another replica, or the bounded map — least recently used first — forgot it) is refused by default, as any other
 * unknown session would be: the MCP spec has clients start a new session on 404. `forward` lets such
 * requests through for the upstream to decide (replicas sharing sessions without sticky routing).
 * A session the table evicts to stay within its bounds (never one unbound because it ended) is reported to
 * `onEvict`, with the protocol version its owner last used in it, so that it can be ended at the upstream,
 * which otherwise keeps it until a DELETE that no client will send. Every session that ends — its DELETE, the
 * upstream answering 404 for it to its owner, or (unknown sessions refused) its eviction — is reported to
 * `onEnd`, so that what is kept per session elsewhere (the ids in flight: `in-flight-ids.ts`) goes with it.
 *
 * With a shared store ({@link SharedSessions}: Redis), every binding is also written there, and a session
 * unknown here is looked up there before it is refused: a sidecar restarted beside a running MCP server, or
 * another replica, then serves its owner's open sessions. Only the owner it names may use it.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
// A caller may hold MAX_SESSIONS_PER_CALLER (`server.maxSessionsPerCaller`); its least recently used go first
// beyond that. So a caller creating sessions in a loop evicts its own, and pushing out other callers'
// bindings (who would then get 404 and have to start over) takes ten such callers, not one.
import { MAX_SESSIONS_PER_CALLER, MAX_TRACKED_SESSIONS } from '../config/defaults.js';
import { ownerKey } from './owner-key.js';
import { OwnerTable } from './owner-table.js';
import { ServerRequestIds } from './server-requests.js';
import type { TaskOwners } from './task-owners.js';

/** What happens to a request naming a session this sidecar never saw issued. */
export type UnknownSessions = 'reject' | 'forward';

/** Called with a session the table evicted (not one unbound) and the protocol version last seen in it. */
export type OnEvict = (sessionId: string, protocolVersion: string | undefined) => void;

/** Called with a session that ended: no request can use it again (it must not throw). */
export type OnEnd = (sessionId: string) => void;

/**
 * The bindings in the shared store. A claim is awaited (on the request that issued the session, before its
 * reply goes out); a claim the store cannot answer leaves the binding in this replica only. A lookup that
 * fails rejects: the session is refused until the store answers (503), not as unknown. Refreshes and deletes
 * are made off the request path.
 */
export interface SharedSessions {
  /** Binds the session to `owner` unless another owner holds it (then false: an upstream issuing an id twice). */
  claim(sessionId: string, owner: string): Promise<boolean>;
  /** Gives a binding `owner` holds its TTL again, or writes one that lapsed again; never one that ended. */
  refresh(sessionId: string, owner: string): void;
  get(sessionId: string): Promise<string | null>;
  delete(sessionId: string): void;
}

/** A binding used again is written to the shared store again after this long (its TTL is longer). */
export const SHARED_REFRESH_MS = 3_600_000;

/**
 * A session nobody used for this long is forgotten (a day, the shared bindings' TTL): MCP clients often leave
 * without a DELETE, and the table would otherwise hold every such session until its bound pushed it out.
 * Without a shared store it is ended at the upstream as an evicted one is; with one it is forgotten here
 * only, as another replica may serve it (its shared binding lapses by its own TTL). Not with
 * `unknownSessions: forward`: forgotten, it would be forwarded for anyone, and it is not ended anyway.
 */
export const SESSION_IDLE_MS = 24 * 3_600_000;

/**
 * Idle sessions are looked for at most this often, and at most {@link MAX_FORGOTTEN_AT_ONCE} forgotten each
 * time: after a quiet day every session is idle, and forgetting them all on one request would stall it (and
 * overflow the queue of their upstream DELETEs).
 */
export const IDLE_SWEEP_MS = 60_000;
export const MAX_FORGOTTEN_AT_ONCE = 256;

export interface SessionOwnersOptions {
  /** Sessions in the table (default {@link MAX_TRACKED_SESSIONS}). */
  readonly max?: number;
  /** Sessions per caller (default {@link MAX_SESSIONS_PER_CALLER}). */
  readonly perCaller?: number;
  readonly unknown?: UnknownSessions;
  /** Must not throw: it runs inside {@link SessionOwners.bind}, on the request that issued a new session. */
  readonly onEvict?: OnEvict;
  /**
   * Told of each session that ended: unbound by its DELETE, answered 404 by the upstream (to its owner), or
   * evicted while unknown sessions are refused (with `forward` an evicted session may still be used through
   * the upstream, and one forgotten by this replica only, with a shared store, may be picked up again: neither
   * ended).
   */
  readonly onEnd?: OnEnd;
  readonly shared?: SharedSessions;
  /** The clock, in ms (default `performance.now`: monotonic, so a stepped wall clock forgets nothing). */
  readonly now?: () => number;
}

/** A session's binding, opaque: only its identity says anything ({@link SessionOwners.binding}). */
export type SessionBinding = object;

interface Binding {
  readonly owner: string;
  /** The `MCP-Protocol-Version` the upstream last accepted in this session. */
  version: string | undefined;
  /** When the binding was last written to the shared store (`now`). */
  shared: number;
  /** When it was bound or last used (`now`): the table holds them oldest first. */
  used: number;
  /** Ids of the server's requests seen on its streams (`server-requests.ts`), once there is one. */
  requests?: ServerRequestIds;
}

/** Distinct protocol versions kept as shared strings (each request's header is a new string). */
const MAX_INTERNED_VERSIONS = 16;

export class SessionOwners {
  /** Each caller's sessions too, least recently used first. */
  readonly #owners: OwnerTable<Binding>;
  readonly #versions = new Map<string, string>();
  readonly #unknown: UnknownSessions;
  /** A session unbound here is forwarded for the upstream to decide (`unknownSessions: forward`). */
  readonly forwardsUnknown: boolean;
  readonly #shared: SharedSessions | undefined;
  readonly #now: () => number;
  readonly #onEnd: OnEnd | undefined;
  #nextSweep = 0;

  constructor(opts: SessionOwnersOptions = {}) {
    const onEvict = opts.onEvict;
    this.#unknown = opts.unknown ?? 'reject';
    this.forwardsUnknown = this.#unknown === 'forward';
    this.#shared = opts.shared;
    this.#now = opts.now ?? (() => performance.now());
    this.#onEnd = opts.onEnd;
    const reject = this.#unknown === 'reject';
    // An evicted session is ended at the upstream (reject): its shared binding goes with it.
    const forget = reject ? this.#shared : undefined;
    const onEnd = reject ? opts.onEnd : undefined;
    // Below 1 the session just bound would be evicted at once: its caller could never use it.
    this.#owners = new OwnerTable<Binding>(
      'session',
      opts.max ?? MAX_TRACKED_SESSIONS,
      opts.perCaller ?? MAX_SESSIONS_PER_CALLER,
      onEvict || forget || onEnd
        ? (id, b) => {
            forget?.delete(id);
            onEvict?.(id, b.version);
            onEnd?.(id);
          }
        : undefined,
    );
  }

  /**
   * Binds a session the upstream issued to `owner`; false, changing nothing, when it is bound to another
   * caller (an upstream issuing one id twice must not hand the first caller's session to the second, as
   * {@link TaskOwners} keeps a task with its creator) — here, or with a shared store there (another replica's
   * upstream issued it to someone else): a promise then.
   */
  bind(sessionId: string, owner: Principal): boolean | Promise<boolean> {
    const key = ownerKey(owner);
    const current = this.#owners.get(sessionId);
    if (current !== undefined && current.owner !== key) return false;
    if (this.#shared === undefined || current !== undefined) return this.#bindHere(sessionId, key);
    return this.#shared.claim(sessionId, key).then(
      (claimed) => claimed && this.#bindHere(sessionId, key),
      // The store cannot say: bound in this replica only, as without a store.
      () => this.#bindHere(sessionId, key),
    );
  }

  /** Binds it here, unless another request bound it to someone else meanwhile. */
  #bindHere(sessionId: string, key: string): boolean {
    const current = this.#owners.get(sessionId);
    if (current !== undefined && current.owner !== key) return false;
    const now = this.#now();
    this.#owners.set(sessionId, { owner: key, version: current?.version, shared: now, used: now });
    this.#forgetIdle(now);
    return true;
  }

  /** Forgets sessions unused for a day, oldest first (see {@link SESSION_IDLE_MS}, {@link IDLE_SWEEP_MS}). */
  #forgetIdle(now: number): void {
    if (now < this.#nextSweep || this.#unknown === 'forward') return;
    this.#nextSweep = now + IDLE_SWEEP_MS;
    let forgotten = 0;
    for (const [id, b] of this.#owners.oldestFirst()) {
      if (forgotten++ === MAX_FORGOTTEN_AT_ONCE || now - b.used <= SESSION_IDLE_MS) return;
      if (this.#shared) this.#owners.remove(id);
      else this.#owners.evict(id);
    }
  }

  /**
   * Notes the `MCP-Protocol-Version` of a request the upstream accepted in a bound session: the version
   * ending it after an eviction is sent with. Only a version the parse stage accepted reaches here.
   */
  sawVersion(sessionId: string, version: string): void {
    const b = this.#owners.get(sessionId);
    if (b === undefined || b.version === version) return;
    let shared = this.#versions.get(version);
    if (shared === undefined && this.#versions.size < MAX_INTERNED_VERSIONS) {
      this.#versions.set(version, version);
      shared = version;
    }
    b.version = shared ?? version;
  }

  /**
   * True when `caller` owns the session, or when it is unknown here and unknown sessions are forwarded; a
   * promise when it is unknown here and the shared store is asked whose it is, which rejects when the store
   * cannot answer.
   */
  mayUse(sessionId: string, caller: Principal): boolean | Promise<boolean> {
    const b = this.#owners.get(sessionId);
    if (b === undefined) {
      if (this.#unknown === 'forward') return true;
      return this.#shared ? this.#fromShared(this.#shared, sessionId, caller) : false;
    }
    if (b.owner !== ownerKey(caller)) return false;
    // In use: move it to the young end, so a flood of new sessions evicts idle ones first.
    this.#owners.touch(sessionId);
    b.used = this.#now();
    this.#forgetIdle(b.used);
    if (this.#shared) this.#refreshDue(this.#shared, sessionId, b);
    return true;
  }

  /** Writes a binding in use (`used` just stamped) to the shared store again once an hour, so its TTL there does not lapse. */
  #refreshDue(shared: SharedSessions, sessionId: string, b: Binding): void {
    if (b.used - b.shared < SHARED_REFRESH_MS) return;
    b.shared = b.used;
    shared.refresh(sessionId, b.owner);
  }

  /** A session bound in the shared store to `caller` is bound here too; any other answer refuses it. */
  async #fromShared(shared: SharedSessions, sessionId: string, caller: Principal): Promise<boolean> {
    const key = ownerKey(caller);
    // A lookup that fails rejects: the session may well be the caller's (a restart, another replica's), so
    // it is refused for now (503), not as unknown (404, which has the client start over, and cuts a stream).
    const owner = await shared.get(sessionId);
    if (owner !== key) return false;
    // Bound meanwhile (by another request of the same session)? Then to its owner, the one asked for.
    const current = this.#owners.get(sessionId);
    if (current !== undefined) return current.owner === key;
    const now = this.#now();
    this.#owners.set(sessionId, { owner: key, version: undefined, shared: now, used: now });
    // Its TTL runs from its last write, which may be nearly a day ago: in use again, it starts anew.
    shared.refresh(sessionId, key);
    return true;
  }

  /**
   * The session's binding here, compared by identity (memory only, synchronous): a request let use the session
   * notes it, and is forwarded only while it is the same one (the session did not end, nor its id go anew to
   * another caller, meanwhile). Undefined when unbound here.
   */
  binding(sessionId: string): SessionBinding | undefined {
    return this.#owners.get(sessionId);
  }

  /** The ids of the server's requests seen in a bound session (created on first use); undefined when unbound. */
  serverRequests(sessionId: string): ServerRequestIds | undefined {
    const b = this.#owners.get(sessionId);
    if (b === undefined) return undefined;
    b.requests ??= new ServerRequestIds();
    return b.requests;
  }

  /** Forgets a session that ended (its DELETE): no `onEvict`; `onEnd`, bound here or not. */
  unbind(sessionId: string): void {
    this.#owners.remove(sessionId);
    this.#shared?.delete(sessionId);
    this.#onEnd?.(sessionId);
  }

  /**
   * The upstream answered 404 for the session to `caller`'s request: it has no such session (MCP has a server
   * answer so once it ended one). Bound here to `caller`, it goes as its DELETE would ({@link unbind}): here,
   * in the shared store, and `onEnd`. Bound to another, nothing ends: the id ended and went anew to that
   * caller while the request was under way. Unknown here with `forward`, nothing ends either: the upstream
   * answered this caller only (one binding sessions to users answers another's id so), and the ids in flight
   * of the session's own requests must stay. Unknown here with `reject`, it ended here already: `onEnd`.
   */
  notFound(sessionId: string, caller: Principal): void {
    const b = this.#owners.get(sessionId);
    if (b === undefined) {
      if (this.#unknown === 'reject') this.#onEnd?.(sessionId);
    } else if (b.owner === ownerKey(caller)) this.unbind(sessionId);
  }

  /**
   * Forgets a session its caller never heard of (the reply that issued it failed before its headers went
   * out): nobody can use it, so it goes as an evicted one does (`onEvict`: ended at the upstream).
   */
  abandon(sessionId: string): void {
    this.#owners.evict(sessionId);
  }

  get size(): number {
    return this.#owners.size;
  }
}
