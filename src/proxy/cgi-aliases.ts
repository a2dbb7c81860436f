/**
 * Header names that CGI-style upstreams (WSGI, PHP: `HTTP_X_USER`) read alike, `x_user` as `x-user`: an
 * underscore spelling must not carry past the sidecar what it drops or checks under the dashed one.
 *
 * @module
 */
import { dashedTwin } from '../mcp/param-headers.js';

/** Hop-by-hop headers (and the framing ones the sidecar sets itself): never forwarded either way. */
export const HOP_BY_HOP = new Set([
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

/**
 * Whether `name` is another spelling, which CGI-style upstreams (WSGI, PHP) read alike (`x_user` as `x-user`),
 * of a header dropped here (a forged identity past the strip list: nginx drops these for the same reason), or
 * of one of MCP's own (`Mcp-Session-Id`, `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`),
 * which the sidecar checks under its dashed name alone: `mcp_session_id` would reach such a server as a
 * session whose owner was never checked. A `checked` `Mcp-Param-Tenant_Id` is forwarded as spelt (the tool
 * declares it so), and its unchecked dashed twin is dropped instead.
 */
export function cgiAlias(
  name: string,
  strip: ReadonlySet<string>,
  checked: ReadonlySet<string> | undefined,
): boolean {
  if (!name.includes('_')) return dashedTwin(name, checked);
  if (checked?.has(name)) return false;
  const dashed = name.replaceAll('_', '-');
  return (
    strip.has(dashed) ||
    dashed.startsWith('x-mcp-authz-') ||
    dashed.startsWith('mcp-') ||
    HOP_BY_HOP.has(dashed)
  );
}
