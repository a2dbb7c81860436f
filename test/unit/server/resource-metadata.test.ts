import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { checkResourceAllowed } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConfigInput, ConfigSchema } from '../../../src/config/schema.js';
import {
  metadataDocument,
  resourceIdentifier,
  resourceMetadataUrl,
  WELL_KNOWN_PREFIX,
} from '../../../src/server/resource-metadata.js';

const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
});

function request(headers: IncomingHttpHeaders, tls = false): IncomingMessage {
  const plain = new Socket();
  const socket = tls ? new TLSSocket(plain) : plain;
  sockets.push(plain, socket);
  return { headers, socket } as unknown as IncomingMessage;
}

const config = (input: ConfigInput = {}) => ConfigSchema.parse(input);

describe('resourceIdentifier', () => {
  it('uses the configured resource when there is one', () => {
    const c = config({ authn: { resource: 'https://mcp.example.com/mcp' } });
    expect(resourceIdentifier(c, request({ host: 'evil.example' }))).toBe('https://mcp.example.com/mcp');
  });

  it('derives http://<Host><mcpPath> from a plain request', () => {
    const c = config({ server: { mcpPath: '/v1/mcp' } });
    expect(resourceIdentifier(c, request({ host: 'sidecar:8080' }))).toBe('http://sidecar:8080/v1/mcp');
  });

  it('derives https:// from a TLS request', () => {
    expect(resourceIdentifier(config(), request({ host: 'mcp.example.com' }, true))).toBe(
      'https://mcp.example.com/mcp',
    );
  });

  it("derives the scheme from a trusted proxy's X-Forwarded-Proto (TLS ends at the ingress)", () => {
    // Behind an ingress the sidecar sees plain HTTP. An `http://` resource is one the MCP SDK client
    // refuses for the `https://` URL it called ("does not match expected"), so it could never sign in.
    const c = config({ server: { trustProxyHops: 1 } });
    const derived = resourceIdentifier(c, request({ host: 'mcp.example.com', 'x-forwarded-proto': 'https' }));
    expect(derived).toBe('https://mcp.example.com/mcp');
    expect(
      checkResourceAllowed({ requestedResource: 'https://mcp.example.com/mcp', configuredResource: derived }),
    ).toBe(true);
    // Appended by each proxy: the value the outermost trusted one wrote, as for X-Forwarded-For.
    const two = config({ server: { trustProxyHops: 2 } });
    expect(
      resourceIdentifier(two, request({ host: 'mcp.example.com', 'x-forwarded-proto': 'http, https, http' })),
    ).toBe('https://mcp.example.com/mcp');
  });

  it.each([
    ['no proxy is trusted', 0, 'https'],
    ['the value is not a scheme', 1, 'javascript'],
  ])('ignores X-Forwarded-Proto when %s', (_name, hops, proto) => {
    const c = config({ server: { trustProxyHops: hops } });
    expect(resourceIdentifier(c, request({ host: 'mcp.example.com', 'x-forwarded-proto': proto }))).toBe(
      'http://mcp.example.com/mcp',
    );
  });

  it('falls back to localhost and the configured port without Host', () => {
    const c = config({ server: { port: 7000 } });
    expect(resourceIdentifier(c, request({}))).toBe('http://localhost:7000/mcp');
  });
});

describe('resourceMetadataUrl', () => {
  it.each([
    ['https://mcp.example.com/mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'],
    ['https://mcp.example.com/mcp/', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'],
    [
      'https://mcp.example.com/a/b/mcp',
      'https://mcp.example.com/.well-known/oauth-protected-resource/a/b/mcp',
    ],
    ['https://mcp.example.com/', 'https://mcp.example.com/.well-known/oauth-protected-resource'],
    ['https://mcp.example.com', 'https://mcp.example.com/.well-known/oauth-protected-resource'],
    ['http://127.0.0.1:8080/mcp', 'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp'],
    ['https://MCP.Example.com:443/mcp', 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'],
  ])('maps %s to %s', (resource, url) => {
    expect(resourceMetadataUrl(resource)).toBe(url);
  });

  it('inserts the well-known prefix between the origin and the path', () => {
    expect(
      resourceMetadataUrl('https://x.example/p').startsWith(`https://x.example${WELL_KNOWN_PREFIX}/`),
    ).toBe(true);
    expect(WELL_KNOWN_PREFIX).toBe('/.well-known/oauth-protected-resource');
  });

  it('throws on a resource that is not a URL', () => {
    expect(() => resourceMetadataUrl('not a url')).toThrow(TypeError);
  });
});

describe('metadataDocument', () => {
  const resource = 'https://mcp.example.com/mcp';

  it('lists the resource, header bearer method and the JWT issuers by default', () => {
    const c = config({ authn: { jwt: { issuers: ['https://idp.example.com'] } } });
    expect(metadataDocument(c, resource)).toEqual({
      resource,
      authorization_servers: ['https://idp.example.com'],
      bearer_methods_supported: ['header'],
    });
  });

  it('prefers configured authorization servers and adds the optional fields', () => {
    const c = config({
      authn: {
        jwt: { issuers: ['https://issuer.example.com'] },
        resourceMetadata: {
          authorizationServers: ['https://as.example.com'],
          scopesSupported: ['mcp:tools', 'mcp:resources'],
          resourceName: 'Example MCP',
          resourceDocumentation: 'https://docs.example.com/mcp',
        },
      },
    });
    expect(metadataDocument(c, resource)).toEqual({
      resource,
      authorization_servers: ['https://as.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools', 'mcp:resources'],
      resource_name: 'Example MCP',
      resource_documentation: 'https://docs.example.com/mcp',
    });
  });

  it('advertises the required scopes as scopes_supported when none are configured', () => {
    const c = config({
      authn: { jwt: { issuers: ['https://idp.example.com'], requiredScopes: ['mcp:tools'] } },
    });
    expect(metadataDocument(c, resource).scopes_supported).toEqual(['mcp:tools']);
    const both = config({
      authn: {
        jwt: { issuers: ['https://idp.example.com'], requiredScopes: ['mcp:tools'] },
        resourceMetadata: { scopesSupported: ['mcp:tools', 'mcp:admin'] },
      },
    });
    expect(metadataDocument(both, resource).scopes_supported).toEqual(['mcp:tools', 'mcp:admin']);
  });

  it('names the issuer of introspected tokens, beside the JWT issuers (each once)', () => {
    const introspection = { endpoint: 'https://idp.example.com/introspect', clientId: 'c' };
    const only = config({
      authn: {
        jwt: { enabled: false },
        introspection: { ...introspection, issuer: 'https://idp.example.com' },
      },
    });
    expect(metadataDocument(only, resource).authorization_servers).toEqual(['https://idp.example.com']);
    const both = config({
      authn: {
        jwt: { issuers: ['https://idp.example.com', 'https://other.example.com'] },
        introspection: { ...introspection, issuer: 'https://idp.example.com' },
      },
    });
    expect(metadataDocument(both, resource).authorization_servers).toEqual([
      'https://idp.example.com',
      'https://other.example.com',
    ]);
  });

  it('omits empty optional fields', () => {
    const doc = metadataDocument(config(), resource);
    expect(doc).not.toHaveProperty('scopes_supported');
    expect(doc).not.toHaveProperty('resource_name');
    expect(doc).not.toHaveProperty('resource_documentation');
    // No issuer and none configured (API keys only): no empty list.
    expect(doc).not.toHaveProperty('authorization_servers');
  });
});
