/**
 * Checks of a request's header fields before it is routed. At most `server.maxRequestHeaders` field lines
 * (431, as Envoy's `max_headers_count`): left to its own bound, Node 20 drops every line past its 2,000th
 * without a word (Node 24 refuses the request with a bare 431) — a second `Authorization` or `Mcp-Name` line among them, which the checks refusing such a
 * second line then never see, and any header a proxy in front appends. And one `Host` (RFC 9112 §3.2: a
 * server MUST answer 400 to more): Node keeps the first, a proxy in front may act on the other, and the
 * sidecar builds `X-Forwarded-Host` and the protected-resource metadata from it.
 *
 * @module
 */
import type { Server } from 'node:http';
import { RequestError } from '../errors/errors.js';
import { fieldLines } from '../mcp/header-values.js';
import { listedInConnection } from '../proxy/headers.js';

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
 * RFC 9112 §3.2: an HTTP/1.1 request without `Host` is answered 400. The server is made with Node's own check
 * off (`requireHostHeader: false`): its 400 had no body, no log line and no count.
 */
export function missingHost(req: {
  httpVersion: string;
  headers: { host?: string };
}): RequestError | undefined {
  return req.headers.host === undefined && req.httpVersion !== '1.0'
    ? new RequestError('ERR_REQUEST_INVALID', 'Bad Request: no Host header field (HTTP/1.1 requires one)')
    : undefined;
}

const END_TO_END = /^(content-type|content-length|accept|origin|last-event-id|mcp-[a-z0-9-]+)$/;

/**
 * Turns an absolute-form request target (`POST http://mcp.example.com/mcp HTTP/1.1`, which RFC 9112 §3.2.2 has
 * a server accept) into the origin form the routes match (`/mcp`, the target's own bytes after its
 * authority, not normalised), when its authority is the `Host` (default ports aside) — a client naming two
 * hosts gets 400: which one a proxy in front acted on is unknown. An HTTP/1.0 request without `Host` takes the
 * target's authority as its `Host`. Undefined when the target is usable; an origin-form one is left as it is.
 */
export function toOriginForm(req: { url?: string; headers: { host?: string } }): RequestError | undefined {
  const url = req.url ?? '/';
  if (url.startsWith('/') || url === '*') return undefined;
  const m = ABSOLUTE_FORM.exec(url);
  if (!m) return new RequestError('ERR_REQUEST_INVALID', 'Bad Request: the request target is not a path');
  const scheme = (m[1] as string).toLowerCase();
  const authority = (m[2] as string).toLowerCase();
  const rest = m[3] as string;
  if (authority === '' || authority.includes('@')) {
    return new RequestError('ERR_REQUEST_INVALID', 'Bad Request: the request target has no plain host');
  }
  if (req.headers.host === undefined) req.headers.host = authority;
  else if (
    withoutDefaultPort(req.headers.host.toLowerCase(), scheme) !== withoutDefaultPort(authority, scheme)
  ) {
    return new RequestError(
      'ERR_REQUEST_INVALID',
      'Bad Request: the request target names another host than Host',
    );
  }
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  return undefined;
}

const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)(.*)$/i;

function withoutDefaultPort(authority: string, scheme: string): string {
  const suffix = scheme === 'https' ? ':443' : ':80';
  return authority.endsWith(suffix) ? authority.slice(0, -suffix.length) : authority;
}

/**
 * A 400 for a `Connection` header listing a header the exchange needs end to end: the sidecar checks it (the
 * session's owner, the protocol version, `Mcp-Name` against the body, the media type), then drops it as RFC
 * 9110 §7.6.1 asks of a proxy (`upstreamRequestHeaders`), and the upstream would read the request without it.
 */
export function connectionProblem(connection: string | string[] | undefined): RequestError | undefined {
  for (const name of listedInConnection(connection)) {
    if (END_TO_END.test(name)) {
      return new RequestError(
        'ERR_REQUEST_INVALID',
        `Bad Request: Connection lists ${name.slice(0, 60)}, which the request needs end to end`,
      );
    }
  }
  return undefined;
}
