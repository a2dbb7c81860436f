/**
 * Checks of a request's header fields before it is routed. At most `server.maxRequestHeaders` field lines
 * (431, as Envoy's `max_headers_count`): left to its own bound, Node drops every line past its 2,000th
 * without a word — a second `Authorization` or `Mcp-Name` line among them, which the checks refusing such a
 * second line then never see, and any header a proxy in front appends. And one `Host` (RFC 9112 §3.2: a
 * server MUST answer 400 to more): Node keeps the first, a proxy in front may act on the other, and the
 * sidecar builds `X-Forwarded-Host` and the protected-resource metadata from it.
 *
 * @module
 */
import type { Server } from 'node:http';
import { RequestError } from '../errors/errors.js';
import { fieldLines } from '../mcp/header-values.js';

/** Has Node keep one field line more than `max`, so that a request over it can be told (Node drops the rest). */
export function boundHeaderFields(server: Server, max: number): void {
  server.maxHeadersCount = max + 1;
}

/** What is wrong with the request's header fields (`rawHeaders`), or undefined. */
export function headerFieldsProblem(rawHeaders: readonly string[], max: number): RequestError | undefined {
  if (rawHeaders.length > 2 * max) {
    return new RequestError(
      'ERR_REQUEST_HEADERS',
      `Request Header Fields Too Large: more than ${max} header fields (server.maxRequestHeaders)`,
    );
  }
  if (fieldLines(rawHeaders, 'host') > 1) {
    return new RequestError('ERR_REQUEST_INVALID', 'Bad Request: more than one Host header field');
  }
  return undefined;
}

/**
 * Turns an absolute-form request target (`POST http://mcp.example.com/mcp HTTP/1.1`, which RFC 9112 §3.2.2 has
 * a server accept) into the origin form the routes match (`/mcp`), when its authority is the `Host` (a client
 * naming two hosts gets 400: which one a proxy in front acted on is unknown). Undefined when the target is
 * usable; an origin-form target is left as it is.
 */
export function toOriginForm(req: { url?: string; headers: { host?: string } }): RequestError | undefined {
  const url = req.url ?? '/';
  if (url.startsWith('/') || url === '*') return undefined;
  const target = URL.canParse(url) ? new URL(url) : undefined;
  if (!target || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
    return new RequestError('ERR_REQUEST_INVALID', 'Bad Request: the request target is not a path');
  }
  if (target.host !== String(req.headers.host ?? '').toLowerCase()) {
    return new RequestError(
      'ERR_REQUEST_INVALID',
      'Bad Request: the request target names another host than Host',
    );
  }
  req.url = `${target.pathname}${target.search}`;
  return undefined;
}
