/**
 * Reading the legacy HTTP+SSE transport's `endpoint` event (legacy-sse.ts): which upstream session and path
 * its URL names.
 *
 * @module
 */

/**
 * The session id and upstream path of a legacy `endpoint` event's URL, resolved against `base`, the upstream
 * URL of the event stream (a relative URL is relative to it, as for the transport's clients: the Kotlin SDK
 * sends a bare `?sessionId=…`, which names the stream's own path): the TypeScript and Kotlin SDKs name the
 * parameter `sessionId`, the Python SDK `session_id`. Undefined when the URL names neither.
 */
export function legacyEndpoint(
  data: string,
  base: URL | string,
): { readonly sessionId: string; readonly path: string } | undefined {
  let target: URL;
  try {
    target = new URL(data.trim(), base);
  } catch {
    return undefined;
  }
  const sessionId = target.searchParams.get('sessionId') || target.searchParams.get('session_id');
  return sessionId ? { sessionId, path: target.pathname + target.search } : undefined;
}
