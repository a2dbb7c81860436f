/**
 * Cross-origin requests from browser-based MCP clients (CORS). `server.allowedOrigins` already decides
 * which origins may call (the origin stage refuses the others, against DNS rebinding); for those it allows,
 * the MCP endpoints answer the browser's preflight and name the origin on every reply, so a page on that
 * origin can send `Authorization` and `Mcp-Session-Id` and read the replies, the 401 challenge and the
 * rate-limit headers. No cookies are involved (credentials are bearer tokens), so credentialed CORS is not
 * offered. The RFC 9728 metadata documents are public and readable from any origin.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isParamHeaderName } from '../mcp/param-headers.js';

/** How long a browser may reuse a preflight answer, in seconds. */
export const PREFLIGHT_MAX_AGE_SEC = 600;

/** Request headers an MCP client sends beside the CORS-safelisted ones. */
const REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'traceparent',
  'tracestate',
  'baggage',
];

/** Reply headers a browser page may read beyond the safelisted ones. */
const EXPOSED_HEADERS = [
  'mcp-session-id',
  'mcp-protocol-version',
  'www-authenticate',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
].join(', ');

export interface Cors {
  /** Whether a request carrying `Origin: origin` may be served. */
  allows(origin: string): boolean;
  /** The headers every reply to an allowed origin carries. */
  replyHeaders(origin: string): Record<string, string>;
  /** Answers an `OPTIONS` preflight to an MCP endpoint: 204 for an allowed origin, else 403. */
  preflight(req: IncomingMessage, res: ServerResponse, methods: string): void;
}

/**
 * The origin an allow-list entry names, as a browser sends it (`https://app.example.com:443/` is
 * `https://app.example.com`); `*`, `null` and anything that is no URL stay as they are, lower-cased.
 */
function originOf(entry: string): string {
  const e = entry.toLowerCase().replace(/\/$/, '');
  if (e === '*' || e === 'null') return e;
  try {
    const o = new URL(e).origin;
    return o === 'null' ? e : o;
  } catch {
    return e;
  }
}

/**
 * The `Mcp-Param-*` names (MCP 2026-07-28: a tool mirrors a marked argument into one per name) a preflight
 * asks for (`Access-Control-Request-Headers`), lower-cased.
 */
function paramHeadersAsked(req: IncomingMessage): string[] {
  const asked = req.headers['access-control-request-headers'];
  if (typeof asked !== 'string') return [];
  return asked
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(isParamHeaderName);
}

export function createCors(allowedOrigins: readonly string[], apiKeyHeader?: string): Cors {
  const allowed = new Set(allowedOrigins.map(originOf));
  const any = allowed.has('*');
  const requestHeaders = [...REQUEST_HEADERS, ...(apiKeyHeader ? [apiKeyHeader.toLowerCase()] : [])].join(
    ', ',
  );
  const allows = (origin: string) => any || allowed.has(origin.toLowerCase());
  const replyHeaders = (origin: string): Record<string, string> => ({
    'access-control-allow-origin': origin,
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'Origin',
  });
  return {
    allows,
    replyHeaders,
    preflight(req, res, methods) {
      const origin = req.headers.origin;
      if (origin === undefined || !allows(origin)) {
        res.writeHead(403, { 'content-length': 0, vary: 'Origin' });
        res.end();
        return;
      }
      res.writeHead(204, {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': methods,
        // The marked arguments differ per tool: every Mcp-Param-* name asked for is allowed (the sidecar
        // checks each one against the body it comes with).
        'access-control-allow-headers': [requestHeaders, ...paramHeadersAsked(req)].join(', '),
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_SEC),
        vary: 'Origin',
      });
      res.end();
    },
  };
}

/** The headers of a public document readable from any origin (the RFC 9728 metadata). */
export const PUBLIC_DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
};
