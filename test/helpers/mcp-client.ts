/**
 * The caller's side in integration tests: the MCP SDK's real `Client`, connected over Streamable HTTP
 * or the legacy HTTP+SSE transport with fixed extra headers (a bearer token, an API key, a
 * `traceparent`) on every request, including the GET that opens the SSE stream. The returned `Client`
 * is already initialized; `client.close()` closes its transport.
 *
 * @module
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPReconnectionOptions,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

export interface ConnectOptions {
  /** Client name sent in `initialize`; default `mcp-authz-test`. */
  name?: string;
  /** Replaces the global fetch for every request the transport makes (e.g. to inspect or fake replies). */
  fetch?: FetchLike;
  /** Streamable HTTP only: how the standalone GET stream reconnects; the SDK default is 2 retries from 1 s. */
  reconnection?: StreamableHTTPReconnectionOptions;
}

/** Connects to a Streamable HTTP endpoint (e.g. `http://127.0.0.1:8080/mcp`) and initializes. */
export async function connectStreamable(
  url: string,
  headers: Record<string, string>,
  opts: ConnectOptions = {},
): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers },
    ...(opts.fetch && { fetch: opts.fetch }),
    ...(opts.reconnection && { reconnectionOptions: opts.reconnection }),
  });
  const client = newClient(opts);
  await client.connect(transport);
  return client;
}

/** Connects to a legacy SSE endpoint (e.g. `http://127.0.0.1:8080/sse`) and initializes. */
export async function connectSse(
  sseUrl: string,
  headers: Record<string, string>,
  opts: ConnectOptions = {},
): Promise<Client> {
  const baseFetch: FetchLike = opts.fetch ?? fetch;
  const transport = new SSEClientTransport(new URL(sseUrl), {
    // POSTs to /messages carry requestInit.headers.
    requestInit: { headers },
    // The GET that opens the stream. SDK 1.32 already adds requestInit.headers there, but older SDKs did
    // not, so set them explicitly. `init.headers` arrives as a `Headers` object: merge, never spread it.
    eventSourceInit: {
      fetch: (input, init) => {
        const merged = new Headers(init?.headers);
        for (const [name, value] of Object.entries(headers)) merged.set(name, value);
        return baseFetch(input, { ...init, headers: merged });
      },
    },
    ...(opts.fetch && { fetch: opts.fetch }),
  });
  const client = newClient(opts);
  await client.connect(transport);
  return client;
}

function newClient(opts: ConnectOptions): Client {
  return new Client({ name: opts.name ?? 'mcp-authz-test', version: '0.0.0' }, { capabilities: {} });
}
