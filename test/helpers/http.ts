/**
 * Test helper: raw HTTP requests to a sidecar's MCP endpoint, for the tests that check status codes, headers
 * and JSON-RPC error bodies below what the SDK client shows.
 *
 * @module
 */

import { request } from 'node:http';

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

/**
 * Opens a Streamable HTTP session at `url` as the bearer of `token` (an `initialize` at 2025-06-18, its reply
 * read): the `Mcp-Session-Id` the upstream issued.
 */
export async function openSession(url: string, token: string): Promise<string> {
  const init = await postJsonRpc(
    url,
    { authorization: `Bearer ${token}` },
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'p', version: '1' } },
    },
  );
  await init.text();
  return init.headers.get('mcp-session-id') as string;
}

/**
 * Opens a Streamable HTTP session at `url` with `auth` (credential headers) at protocol `version` and sends
 * `notifications/initialized`, as a client does before its first call: the headers its later requests carry
 * (credentials, `Mcp-Session-Id`, `MCP-Protocol-Version`). Throws when either step is refused.
 */
export async function initializedSession(
  url: string,
  auth: Record<string, string>,
  version: string,
): Promise<Record<string, string>> {
  const base = { ...JSON_RPC_HEADERS, ...auth };
  const init = await postJsonRpc(url, auth, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  const text = await init.text();
  const id = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !id) throw new Error(`initialize answered ${init.status}: ${text}`);
  const headers = { ...base, 'mcp-session-id': id, 'mcp-protocol-version': version };
  const ready = await postJsonRpc(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await ready.text();
  if (ready.status !== 202) throw new Error(`notifications/initialized answered ${ready.status}`);
  return headers;
}

/**
 * POSTs `body` with `Expect: 100-continue` and sends it only once the sidecar asked for it (`100 Continue`,
 * which comes once every check before reading the body passed), after `beforeBody` ran: a test acts between
 * the sidecar's checks of the headers and its reading of the body. Resolves with the status and the body.
 */
export function postAfterContinue(
  url: string,
  headers: Record<string, string>,
  body: string,
  beforeBody: () => void | Promise<void>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        ...JSON_RPC_HEADERS,
        ...headers,
        'content-length': String(Buffer.byteLength(body)),
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      void Promise.resolve(beforeBody()).then(() => req.end(body), reject);
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}
