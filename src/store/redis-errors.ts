/**
 * Redis connection errors in words an operator can act on, and the errors the store must tell apart: a
 * follow-on error that must not replace the cause, a database the server refuses, a cluster node's reason.
 *
 * @module
 */
import { redactRedisUrl } from './redis-url.js';

/**
 * What ioredis says of a command sent on a connection already lost (the ready check after a protocol
 * error): a consequence, never the cause, so it must not replace the error that explains the outage.
 */
export const FOLLOW_ON_ERROR = /^(Stream isn't writeable|Reached the max retries per request limit)/;

/**
 * A SELECT the server refuses: no such database (Redis has 16 unless configured otherwise), or a cluster
 * node. ioredis reports it and then carries on in database 0, where every key would land unnoticed.
 */
export const SELECT_REFUSED = /^ERR (DB index is out of range|invalid DB index|SELECT is not allowed)/i;

/**
 * An ioredis connection error in words an operator can act on, the same words for the same cause (an outage
 * is logged again only when they change):
 * - a reply that is no Redis reply means another service (or a TLS port, which needs rediss://) listens
 *   there; ioredis's "Please report this" is addressed to its own maintainers;
 * - OpenSSL's "wrong version number" (rediss:// to a plain port) comes with its source path: cut to its words;
 * - behind Sentinel, the cause is the "Last error" part, and the retry delay before it changes every time.
 */
export function explain(reason: string): string {
  const sentinel =
    /^(All sentinels are unreachable\.)(?: Retrying from scratch after \d+ms\.)?( Last error: )([\s\S]*)$/.exec(
      reason,
    );
  if (sentinel) return `${sentinel[1]}${sentinel[2]}${explain(sentinel[3] ?? '')}`;
  const ssl = /^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):/.exec(reason);
  if (ssl?.[1] === 'wrong version number') return 'no TLS on this port (a plain Redis port needs redis://)';
  if (ssl) return `TLS: ${ssl[1]}`;
  if (!reason.startsWith('Protocol error')) return reason;
  return `no Redis protocol on this port (another service? a TLS port needs rediss://): ${reason.replace(/\s*Please report this\.?$/, '')}`;
}

/**
 * A cluster client's error with the error of the node behind it: ioredis says only "Failed to refresh slots
 * cache." and keeps the reason (a node refusing, or no cluster at all) in `lastNodeError`.
 */
export function withNodeError(err: Error & { lastNodeError?: unknown }): string {
  const node = err.lastNodeError instanceof Error ? err.lastNodeError.message : undefined;
  if (!node) return err.message;
  const hint = /cluster support disabled/i.test(node) ? ': a standalone Redis needs redis://' : '';
  return `${err.message} (${node}${hint})`;
}

/**
 * A URL inside a text: a scheme, `://`, and everything up to white space or `<>` (a password may hold a
 * quote). The scheme must not continue a longer word: without that, every `.`, `+` or `-` of a long line
 * would start a scan to its end (quadratic time on a hostile message).
 */
const URL_IN_TEXT = /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^\s<>]+/gi;

/**
 * A command's error for a StoreError: its first line, with the credentials of every URL in it redacted
 * (wherever it stands: `connect to redis://app:secret@redis:6379 failed`).
 */
export function safeMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? 'unknown error').replace(URL_IN_TEXT, (url) => redactRedisUrl(url));
}
