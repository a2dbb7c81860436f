/**
 * The Redis store's connection as `/readyz` and the log see it: connected, lost (an outage, logged once when
 * it starts, with at most a few more distinct reasons, and once when it ends) or refused for good (the URL's
 * database does not exist there, which no reconnect mends). Unreachable from the start is not ready (a pod
 * needs its store); lost later is degraded, not unready: every replica shares the store, so failing
 * readiness would empty the Service while the sidecar can still serve (JWT callers; rate limits per
 * ratelimit.failureMode, whose own status says `error` when it refuses everything).
 *
 * @module
 */
import type { ComponentStatus } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import { explain } from './redis-errors.js';
import { type RedisTarget, redactRedisUrl } from './redis-url.js';

/** Distinct reasons logged per outage at most (reasons that alternate must not flood the log). */
const MAX_REASONS_LOGGED = 4;

export class RedisConnectionState {
  readonly #logger: Logger;
  /** The URL without its password, for the log. */
  readonly #where: string;
  readonly #target: RedisTarget;
  #state: ComponentStatus = { state: 'not_ready', detail: 'not started' };
  #down = false;
  /** The reasons of the ongoing outage logged so far (each once: a reconnect fails every few hundred ms). */
  #reasonsLogged = new Set<string>();
  /** Whether the store has been reachable since it was started. */
  #connected = false;
  #stopping = false;
  #refused: string | undefined;

  constructor(logger: Logger, where: string, target: RedisTarget) {
    this.#logger = logger;
    this.#where = where;
    this.#target = target;
  }

  /** Why the server refused the URL's database, if it did: the store is not used until started again. */
  get refused(): string | undefined {
    return this.#refused;
  }

  status(): ComponentStatus {
    return this.#state;
  }

  starting(): void {
    this.#stopping = false;
    this.#connected = false;
    this.#refused = undefined;
  }

  stopping(): void {
    this.#stopping = true;
    this.#state = { state: 'not_ready', detail: 'stopped' };
  }

  /** The client is ready; returns whether it is to be used (not while stopping or refused). */
  ready(): boolean {
    if (this.#stopping || this.#refused) return false;
    if (this.#down) this.#logger.info({ store: this.#where }, 'store connection restored');
    else this.#logger.info({ store: this.#where, mode: this.#target.kind }, 'store connected');
    this.#down = false;
    this.#connected = true;
    this.#state = { state: 'ok', detail: `redis ${this.#target.kind}` };
    return true;
  }

  /**
   * The database of the URL does not exist there: a configuration error no reconnect mends. Returns
   * whether the client is to be closed now (commands would go to database 0).
   */
  selectRefused(reason: string): boolean {
    if (this.#stopping || this.#refused) return false;
    const db = this.#target.kind === 'cluster' ? 0 : this.#target.db;
    this.#refused = `store.redisUrl names database ${db}, which the server refuses (${reason})`;
    this.#state = { state: 'error', detail: this.#refused };
    this.#logger.error(
      { store: this.#where, reason: this.#refused },
      'store database refused; the store is not used until restarted',
    );
    return true;
  }

  /** `vague` reasons (a bare close) do not replace the error that explains an ongoing outage. */
  down(reason: string, vague = false): void {
    if (this.#stopping || this.#refused || (vague && this.#down)) return;
    const detail = `redis unreachable: ${redactRedisUrl(explain(reason))}`;
    if (!this.#down) {
      this.#down = true;
      this.#reasonsLogged = new Set([detail]);
      this.#logger.warn({ store: this.#where, reason: detail }, 'store connection lost; reconnecting');
    } else if (!vague && !this.#reasonsLogged.has(detail) && this.#reasonsLogged.size < MAX_REASONS_LOGGED) {
      // The outage goes on for another reason, often the one to act on: a bare close first, then WRONGPASS
      // once Redis has a rotated password its Secret does not have yet.
      this.#reasonsLogged.add(detail);
      this.#logger.warn({ store: this.#where, reason: detail }, 'store still unreachable; reconnecting');
    }
    this.#state = { state: this.#connected ? 'warn' : 'error', detail };
  }
}
