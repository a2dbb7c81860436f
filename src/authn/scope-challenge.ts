/**
 * The `scope` of a 403 `insufficient_scope` challenge (MCP 2025-11-25, "Scope Challenge Handling"): the
 * scopes the call needs plus those the token already holds. A client that replaces its scopes with the
 * challenge's, as the MCP TypeScript SDK does, would otherwise lose the ones it had and be refused
 * elsewhere next.
 *
 * @module
 */
import { SCOPE_TOKEN } from '../config/schema-common.js';

/** At most this many of the token's own scopes are repeated in a challenge. */
export const MAX_HELD_SCOPES = 64;

/**
 * The configured required scopes, the token's own valid scope tokens (at most {@link MAX_HELD_SCOPES}), then
 * the scopes the policy asked for, without repeats.
 */
export function challengeScopes(
  required: readonly string[],
  held: readonly string[],
  asked: readonly string[] = [],
): string[] {
  const own = held.filter((s) => SCOPE_TOKEN.test(s)).slice(0, MAX_HELD_SCOPES);
  return [...new Set([...required, ...own, ...asked])];
}
