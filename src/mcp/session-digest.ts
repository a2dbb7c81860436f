/**
 * How a session is named wherever the sidecar reports on it (log lines, the `mcp.session.id` span
 * attribute): never by its id, which is a bearer-like handle (with `server.unknownSessions: forward`
 * whoever holds it can use the session), but by `sha256:` and the first 16 hex digits of the id's SHA-256.
 * One name everywhere, the same on every replica and after restarts: an operator holding an id (the audit
 * record has it) finds its log lines and spans with `printf %s "$id" | sha256sum | cut -c1-16`. Not keyed
 * (the subject's tag is): it hides the random ids MCP asks servers to issue, not ids guessable by
 * enumeration.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** `sha256:` and the first 16 hex digits of the SHA-256 of `id`. */
export function sessionDigest(id: string): string {
  return `sha256:${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}
