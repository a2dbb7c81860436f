/**
 * The MCP protocol version a request speaks, for the policy's `context.protocol_version`, audit records
 * and traces. The `MCP-Protocol-Version` header when present (checked against `server.protocolVersions`
 * by the parse stage); else, for an `initialize` request, the version it asks for when the sidecar supports
 * it; else what the specification says a server assumes without the header: 2025-03-26 on Streamable
 * HTTP, 2024-11-05 (the revision that defined it) on the legacy HTTP+SSE transport.
 *
 * @module
 */
import { isRecord } from './action.js';
import type { ParsedBody } from './jsonrpc.js';

/** Assumed without a header on Streamable HTTP (MCP 2025-06-18, "Protocol Version Header"). */
export const ASSUMED_STREAMABLE_HTTP_VERSION = '2025-03-26';
/** The legacy HTTP+SSE transport's own revision. */
export const LEGACY_SSE_VERSION = '2024-11-05';

export function protocolVersionOf(
  header: string | undefined,
  parsed: ParsedBody | undefined,
  transport: 'streamable-http' | 'sse',
  supported: readonly string[],
): string {
  if (header !== undefined) return header;
  const only = parsed?.batch === false ? parsed.messages[0] : undefined;
  if (only?.kind === 'request' && only.method === 'initialize' && isRecord(only.params)) {
    const asked = only.params.protocolVersion;
    if (typeof asked === 'string' && supported.includes(asked)) return asked;
  }
  return transport === 'sse' ? LEGACY_SSE_VERSION : ASSUMED_STREAMABLE_HTTP_VERSION;
}
