/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), as the MCP authorization specification asks: served
 * at `/.well-known/oauth-protected-resource` and at the path-suffixed URI for the MCP endpoint, and
 * named in every 401's `WWW-Authenticate: Bearer resource_metadata="…"`.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { authorizationServers } from '../config/authorization-servers.js';
import type { Config } from '../config/schema.js';

export const WELL_KNOWN_PREFIX = '/.well-known/oauth-protected-resource';

/** A Host header we are willing to echo into URLs: a DNS name or IP literal and an optional port. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]?\d{1,4}))?$/;

/**
 * This server's resource identifier (RFC 8707): configured, or derived from the request's Host and scheme.
 * Behind trusted proxies (`server.trustProxyHops`) the scheme is the one the outermost trusted proxy wrote
 * in `X-Forwarded-Proto`: TLS usually ends at the ingress, and an `http://` resource for an `https://`
 * endpoint is one MCP clients refuse (RFC 9728 §3.3), so they could not sign in at all.
 */
export function resourceIdentifier(config: Config, req: IncomingMessage): string {
  if (config.authn.resource) return config.authn.resource;
  const given = req.headers.host;
  const host = given && HOST.test(given) ? given : `localhost:${config.server.port}`;
  const proto =
    forwardedProto(req, config.server.trustProxyHops) ?? ('encrypted' in req.socket ? 'https' : 'http');
  return `${proto}://${canonicalHost(host, proto)}${config.server.mcpPath}`;
}

/**
 * A Host value in the canonical form MCP gives server URIs: lower-case, without the scheme's default port
 * (`MCP.Example.com:443` over https is `mcp.example.com`). The resource identifier is what clients send
 * verbatim as the RFC 8707 `resource` (the MCP SDK does) and what RFC 9728 §3.3 has them compare with the
 * URL they called; the metadata URL of the challenge is already in this form. {@link HOST} admits ASCII only.
 */
function canonicalHost(host: string, proto: 'http' | 'https'): string {
  const lower = host.toLowerCase();
  const port = proto === 'https' ? ':443' : ':80';
  return lower.endsWith(port) ? lower.slice(0, -port.length) : lower;
}

/**
 * `http` or `https` from `X-Forwarded-Proto`: the value the outermost of `hops` trusted proxies wrote, or
 * the first when there are fewer values than hops (proxies that replace the header leave one); else
 * undefined. Only the caller's own metadata and challenge depend on it.
 */
function forwardedProto(req: IncomingMessage, hops: number): 'http' | 'https' | undefined {
  if (hops <= 0) return undefined;
  const values = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  // Proxies that replace the header leave one value; those that append leave one each.
  const v = values[Math.max(0, values.length - hops)];
  return v === 'http' || v === 'https' ? v : undefined;
}

/** The path-suffixed metadata URL for a resource identifier (RFC 9728 §3.1). */
export function resourceMetadataUrl(resource: string): string {
  const u = new URL(resource);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}${WELL_KNOWN_PREFIX}${path}${u.search}`;
}

export function metadataDocument(config: Config, resource: string): Record<string, unknown> {
  const m = config.authn.resourceMetadata;
  const servers = authorizationServers(config.authn);
  // MCP asks for at least one server; with none (API keys, an HS secret) the field is left out rather than
  // an empty list, which RFC 9728 does not foresee.
  const doc: Record<string, unknown> = {
    resource,
    ...(servers.length ? { authorization_servers: servers } : {}),
    bearer_methods_supported: ['header'],
  };
  // Without a configured list, the scopes every token needs are the ones worth advertising.
  const scopes = m.scopesSupported.length ? m.scopesSupported : config.authn.jwt.requiredScopes;
  if (scopes.length) doc.scopes_supported = scopes;
  if (m.resourceName) doc.resource_name = m.resourceName;
  if (m.resourceDocumentation) doc.resource_documentation = m.resourceDocumentation;
  return doc;
}
