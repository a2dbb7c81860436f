/**
 * The server's own requests (sampling, elicitation, roots, ping) seen on a session's event streams, by id,
 * so the client's answers to them pass the rate limit free, while a response answering none of them (made
 * up: nothing else ties a response to a request the server made) takes a token from the caller's
 * notifications bucket. Kept per session, with its binding (Streamable HTTP) or its stream (legacy SSE).
 *
 * @module
 */
import { isRecord, type JsonRpcId } from './action.js';
import type { ParsedBody } from './jsonrpc.js';
import { idKey } from './reply-filter.js';

/** Ids remembered per session (the oldest forgotten first): more than any client has unanswered at once. */
export const MAX_SERVER_REQUESTS = 256;

/** Notes the server requests (an id and a method) a message or batch sent to the client carries. */
export function noteServerRequests(noted: Set<string>, msg: unknown): void {
  for (const m of Array.isArray(msg) ? msg : [msg]) {
    if (!isRecord(m) || typeof m.method !== 'string' || !('id' in m) || m.id === null) continue;
    const key = idKey(m.id as JsonRpcId);
    if (noted.has(key)) continue;
    if (noted.size >= MAX_SERVER_REQUESTS) noted.delete(noted.values().next().value as string);
    noted.add(key);
  }
}

/**
 * How many messages of a body take a token from the notifications bucket: its notifications, and its
 * responses that answer no request noted in `noted` (the caller's session's); those that do are forgotten.
 */
export function chargedUndecided(parsed: ParsedBody | undefined, noted: Set<string> | undefined): number {
  let n = 0;
  for (const m of parsed?.messages ?? []) {
    if (m.kind === 'notification') n++;
    else if (m.kind === 'response' && !noted?.delete(idKey(m.id))) n++;
  }
  return n;
}
