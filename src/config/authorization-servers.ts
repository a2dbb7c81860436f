/**
 * The authorization servers this resource names in its protected-resource metadata (RFC 9728), which MCP
 * clients follow to sign in.
 *
 * @module
 */
import type { Config } from './schema.js';

/**
 * The authorization servers the metadata names: `authn.resourceMetadata.authorizationServers`, else the JWT
 * issuers and the issuer of introspected tokens (the MCP specification requires at least one; the loader refuses
 * a JWKS or token introspection that names none).
 */
export function authorizationServers(authn: Config['authn']): string[] {
  const m = authn.resourceMetadata;
  if (m.authorizationServers.length) return [...m.authorizationServers];
  const issuer = authn.introspection?.issuer;
  return [...new Set([...authn.jwt.issuers, ...(issuer ? [issuer] : [])])];
}
