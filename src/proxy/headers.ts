/**
 * Header hygiene between client and upstream: hop-by-hop headers are dropped both ways, the client's
 * credentials never reach the upstream (no token passthrough), client-supplied identity headers are
 * stripped, and — only after stripping — the sidecar's own identity headers are added when configured.
 * Identity values are percent-encoded ({@link encodeIdentityValue}): `%`, `,` and every character outside
 * visible ASCII (0x21–0x7E; space and control characters included) become uppercase UTF-8 `%XX` escapes,
 * each role on its own before the roles are joined with `,`. Plain ids such as `user@example.com` pass
 * unchanged; the upstream restores a value with `decodeURIComponent` (after splitting the roles header on
 * `,`). The client's `Accept-Encoding` is replaced by `identity`: the sidecar reads and rewrites reply
 * bodies as text, and compression buys nothing on the hop to a local upstream.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Principal } from '../authn/principal.js';
import { cgiAlias, HOP_BY_HOP } from './cgi-aliases.js';

/**
 * Request headers never forwarded: the hop-by-hop ones, and the client's trace context (the upstream gets the
 * sidecar's own when traces are exported, else none: the client's sampled flag would decide the upstream's
 * sampling, and its baggage would be a channel the caller picks into an upstream whose tracing reads it,
 * tenant or user keys included).
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'traceparent', 'tracestate', 'baggage']);

export interface HeaderPolicy {
  /** Headers removed from every client request (lower case). */
  readonly strip: ReadonlySet<string>;
  /** Optional header names for the verified identity. */
  readonly identity: { readonly subject?: string; readonly tenant?: string; readonly roles?: string };
  /** A standard `Forwarded` header is a trusted proxy's (`server.trustProxyHops` above 0), appended to. */
  readonly trustsProxies: boolean;
}

/**
 * What a proxy in front says of the request as the client sent it, which a client reaching the sidecar directly
 * (`server.trustProxyHops: 0`) would choose itself: an upstream building its URLs, routes or scheme from them (a
 * framework honouring `Forwarded` or `X-Forwarded-Prefix`, IIS's `X-Original-URL`, Rack's `X-Forwarded-Ssl`)
 * would act on the client's word.
 */
const PROXY_CLAIMS = [
  'forwarded',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-original-url',
  'x-original-host',
  'x-rewrite-url',
  'x-host',
  'x-url-scheme',
  'x-envoy-original-path',
  'front-end-https',
];

/**
 * The headers the sidecar writes itself (after the client's are copied), never copied from the client — nor
 * their underscore spellings, which CGI-style upstreams would read beside them.
 */
const SIDECAR_WRITES = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'x-request-id',
  'forwarded',
];

export function createHeaderPolicy(opts: {
  strip: readonly string[];
  apiKeyHeader: string;
  subject?: string | undefined;
  tenant?: string | undefined;
  roles?: string | undefined;
  /** `server.trustProxyHops` above 0: the proxy claims of {@link PROXY_CLAIMS} are a trusted proxy's, kept. */
  trustsProxies?: boolean;
}): HeaderPolicy {
  const strip = new Set(['authorization', 'cookie', ...SIDECAR_WRITES, opts.apiKeyHeader, ...opts.strip]);
  if (!opts.trustsProxies) for (const h of PROXY_CLAIMS) strip.add(h);
  for (const h of [opts.subject, opts.tenant, opts.roles]) if (h) strip.add(h);
  const identity: { subject?: string; tenant?: string; roles?: string } = {};
  if (opts.subject) identity.subject = opts.subject;
  if (opts.tenant) identity.tenant = opts.tenant;
  if (opts.roles) identity.roles = opts.roles;
  return { strip, identity, trustsProxies: opts.trustsProxies === true };
}

/** Any character that {@link encodeIdentityValue} escapes: not 0x21–0x7E, or `%` (0x25), or `,` (0x2C). */
const NEEDS_ESCAPE = /[^\x21-\x24\x26-\x2b\x2d-\x7e]/;
const ESCAPED_RUN = /[^\x21-\x24\x26-\x2b\x2d-\x7e]+/g;
const UTF8 = new TextEncoder();
const PERCENT_HEX = Array.from(
  { length: 256 },
  (_, b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
);

/**
 * Percent-encodes one identity value (a subject, a tenant or a single role) for an upstream header: `%`,
 * `,` and every character outside visible ASCII 0x21–0x7E (space, control characters, U+2028, any
 * non-ASCII text) become its UTF-8 bytes as uppercase `%XX`. Everything else is kept, so ordinary ids
 * pass unchanged and are returned without any work. `decodeURIComponent` restores the value; a lone
 * surrogate (not valid UTF-16) is sent as U+FFFD (`%EF%BF%BD`).
 *
 * @example
 * ```ts
 * encodeIdentityValue('user@example.com'); // 'user@example.com'
 * encodeIdentityValue('用户'); // '%E7%94%A8%E6%88%B7'
 * encodeIdentityValue('guest,admin'); // 'guest%2Cadmin'
 * decodeURIComponent(encodeIdentityValue('50% off')); // '50% off'
 * ```
 */
export function encodeIdentityValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPED_RUN, (run) => {
    let out = '';
    for (const byte of UTF8.encode(run)) out += PERCENT_HEX[byte];
    return out;
  });
}

/**
 * Headers for the upstream request: the client's end-to-end headers minus hop-by-hop ones, credentials,
 * the strip list and `x-mcp-authz-*`; `X-Forwarded-*`; `Accept-Encoding: identity`; and the configured
 * identity headers, each value percent-encoded with {@link encodeIdentityValue} (roles one by one, then
 * joined with `,`, so a role containing `,` cannot read as two roles).
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  policy: HeaderPolicy,
  principal: Principal,
  forwarded: {
    /** The caller as the sidecar sees it (`server.trustProxyHops`): sent as X-Real-IP. */
    clientIp: string;
    /** The address the request came from, appended to X-Forwarded-For (default: `clientIp`). */
    peerIp?: string;
    proto: string;
    host: string | undefined;
    /** The `Mcp-Param-*` headers checked against the body (forwarded as spelt, underscores and all). */
    paramHeaders?: ReadonlySet<string>;
  },
): Record<string, string | string[]> {
  const checked = forwarded.paramHeaders;
  const out: Record<string, string | string[]> = {};
  const connectionListed = listedInConnection(incoming.connection);
  // for…in, not Object.entries: no array of pairs built per request. Node's request headers and the reply
  // headers undici parses (clientResponseHeaders) are both plain objects of own fields.
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (NOT_FORWARDED.has(name) || connectionListed.has(name) || policy.strip.has(name)) continue;
    if (name.startsWith('x-mcp-authz-')) continue;
    // CGI-style upstreams (WSGI, PHP) read `x_user` as `x-user` (`cgiAlias`).
    if (cgiAlias(name, policy.strip, checked)) continue;
    out[name] = value;
  }
  // Never the client's codings: reply rewriting (tools/list pruning, SSE) reads the body as text, and
  // compression buys nothing on the local hop. `identity`, not just no header: without Accept-Encoding
  // any coding is acceptable (RFC 9110 §12.5.3), while `identity` asks for none.
  out['accept-encoding'] = 'identity';
  // Each proxy appends the address it was connected from (not its guess of the client's, which goes in
  // X-Real-IP, replacing whatever the client put there); the same for a standard `Forwarded` header.
  const peer = forwarded.peerIp ?? forwarded.clientIp;
  const prior = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${peer}` : peer;
  out['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host) out['x-forwarded-host'] = forwarded.host;
  out['x-real-ip'] = forwarded.clientIp;
  const standard = policy.trustsProxies ? incoming.forwarded : undefined;
  if (standard) out.forwarded = `${String(standard)}, for=${forwardedNode(peer)}`;
  const id = policy.identity;
  if (id.subject && principal.id) out[id.subject] = encodeIdentityValue(principal.id);
  if (id.tenant && principal.tenant) out[id.tenant] = encodeIdentityValue(principal.tenant);
  if (id.roles && principal.roles.length) out[id.roles] = principal.roles.map(encodeIdentityValue).join(',');
  return out;
}

/**
 * Headers of the DELETE that ends at the upstream a session the sidecar evicted from its table (no client
 * request is behind it, so nothing is copied from one): the session; the `MCP-Protocol-Version` the
 * upstream last accepted in it, or none when no request after `initialize` carried one (a server then
 * uses the version negotiated at initialization, as the spec lets it); `Accept-Encoding: identity` as on
 * every forwarded request. No identity headers: the sidecar asserts no caller's identity for a request that
 * caller did not make, and never that of the caller whose new session pushed this one out.
 */
export function sessionEndHeaders(
  sessionId: string,
  protocolVersion: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = { 'mcp-session-id': sessionId, 'accept-encoding': 'identity' };
  if (protocolVersion !== undefined) out['mcp-protocol-version'] = protocolVersion;
  return out;
}

/** Headers for the client response: the upstream's, minus hop-by-hop (and length when the body changes). */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  bodyRewritten: boolean,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionListed = listedInConnection(upstream.connection);
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (name === 'content-length' && !bodyRewritten) {
      out[name] = Array.isArray(value) ? value[0] : value;
      continue;
    }
    if (HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const EXPOSE = 'access-control-expose-headers';

/**
 * The client's reply headers: `upstream` (as `clientResponseHeaders` made them) overlaid with the
 * sidecar's `own`, except that a list both name (`Vary`, `Access-Control-Expose-Headers`) keeps the
 * upstream's entries too: a cache must still vary on what the upstream varies on, and a page must still
 * read the headers the upstream exposes. `*` stays `*`.
 */
export function overlayReplyHeaders(
  upstream: OutgoingHttpHeaders,
  own: Readonly<Record<string, string>>,
): OutgoingHttpHeaders {
  // Read before the overlay replaces them; nothing allocated for a reply with no list to merge.
  const vary = upstream.vary;
  const exposed = upstream[EXPOSE];
  const out = Object.assign(upstream, own);
  if (vary !== undefined && own.vary !== undefined) out.vary = mergeLists(String(vary), own.vary);
  const ownExposed = own[EXPOSE];
  if (exposed !== undefined && ownExposed !== undefined)
    out[EXPOSE] = mergeLists(String(exposed), ownExposed);
  return out;
}

/** Two comma-separated lists as one, each name once (compared case-insensitively); `*` absorbs the rest. */
function mergeLists(a: string, b: string): string {
  const seen = new Map<string, string>();
  for (const item of `${a},${b}`.split(',')) {
    const name = item.trim();
    if (name !== '' && !seen.has(name.toLowerCase())) seen.set(name.toLowerCase(), name);
  }
  return seen.has('*') ? '*' : [...seen.values()].join(', ');
}

/** An RFC 7239 node: IPv6 addresses quoted and bracketed, others as they are. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

const NOTHING_LISTED: ReadonlySet<string> = new Set();

/** Header names a `Connection` header lists; the usual `keep-alive` / `close` name none besides themselves. */
export function listedInConnection(value: string | string[] | undefined): ReadonlySet<string> {
  if (!value) return NOTHING_LISTED;
  if (typeof value === 'string' && /^\s*(keep-alive|close)\s*$/i.test(value)) return NOTHING_LISTED;
  const text = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}
