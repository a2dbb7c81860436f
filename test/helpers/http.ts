/**
 * Test helper: raw HTTP requests to a sidecar's MCP endpoint, for the tests that check status codes, headers
 * and JSON-RPC error bodies below what the SDK client shows.
 *
 * @module
 */

/** What a Streamable HTTP client sends with every JSON-RPC POST. */
const JSON_RPC_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
} as const;

/**
 * POSTs a JSON-RPC message (or batch) as a Streamable HTTP client does, with `headers` (credentials, MCP
 * headers) added. `body` is sent as JSON; a string is sent as is, for malformed or hand-written input.
 * `signal` lets the test hang up.
 */
export function postJsonRpc(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { ...JSON_RPC_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}
