/**
 * Header hygiene between client and upstream: hop-by-hop headers are dropped both ways, the client's
 * credentials never reach the upstream (no token passthrough), client-supplied identity headers are
 * stripped, and — only after stripping — the sidecar's own identity headers are added when configured.
 *
 * @module
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Principal } from '../authn/principal.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

export interface HeaderPolicy {
  /** Headers removed from every client request (lower case). */
  readonly strip: ReadonlySet<string>;
  /** Optional header names for the verified identity. */
  readonly identity: { readonly subject?: string; readonly tenant?: string; readonly roles?: string };
}

export function createHeaderPolicy(opts: {
  strip: readonly string[];
  apiKeyHeader: string;
  subject?: string | undefined;
  tenant?: string | undefined;
  roles?: string | undefined;
}): HeaderPolicy {
  const strip = new Set(['authorization', 'cookie', opts.apiKeyHeader, ...opts.strip]);
  for (const h of [opts.subject, opts.tenant, opts.roles]) if (h) strip.add(h);
  const identity: { subject?: string; tenant?: string; roles?: string } = {};
  if (opts.subject) identity.subject = opts.subject;
  if (opts.tenant) identity.tenant = opts.tenant;
  if (opts.roles) identity.roles = opts.roles;
  return { strip, identity };
}

/** Headers for the upstream request. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  policy: HeaderPolicy,
  principal: Principal,
  forwarded: { clientIp: string; proto: string; host: string | undefined },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionListed = listedInConnection(incoming.connection);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || connectionListed.has(name) || policy.strip.has(name)) continue;
    if (name.startsWith('x-mcp-authz-')) continue;
    out[name] = value;
  }
  const prior = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${forwarded.clientIp}` : forwarded.clientIp;
  out['x-forwarded-proto'] = forwarded.proto;
  if (forwarded.host) out['x-forwarded-host'] = forwarded.host;
  const id = policy.identity;
  if (id.subject && principal.id) out[id.subject] = principal.id;
  if (id.tenant && principal.tenant) out[id.tenant] = principal.tenant;
  if (id.roles && principal.roles.length) out[id.roles] = principal.roles.join(',');
  return out;
}

/** Headers for the client response: the upstream's, minus hop-by-hop (and length when the body changes). */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  bodyRewritten: boolean,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionListed = listedInConnection(upstream.connection);
  for (const [name, value] of Object.entries(upstream)) {
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

const NOTHING_LISTED: ReadonlySet<string> = new Set();

/** Header names a `Connection` header lists; the usual `keep-alive` / `close` name none besides themselves. */
function listedInConnection(value: string | string[] | undefined): ReadonlySet<string> {
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
