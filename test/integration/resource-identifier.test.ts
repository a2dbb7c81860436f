/**
 * The resource identifier a real sidecar publishes (RFC 9728 `resource`, the URI RFC 8707 binds tokens to):
 * derived from the request in the canonical form MCP gives server URIs, and, when configured, one an
 * authorization server can accept.
 *
 * @module
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, RESOURCE, startHarness } from '../helpers/sidecar.js';

/** A GET with the Host header as given (fetch would send the URL's own). */
function getWithHost(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    upstreamStateless: true,
    config: { server: { trustProxyHops: 1 }, authn: { resource: undefined, jwt: { audiences: [RESOURCE] } } },
  });
});
afterAll(async () => {
  await h?.stop();
});

describe('a resource derived from the request', () => {
  // MCP 2025-11-25, "Canonical Server URI": "the canonical form uses lowercase scheme and host components";
  // the SDK client sends the metadata's `resource` verbatim as the RFC 8707 `resource`, so a Host header
  // written in capitals or with the default port must not make the published identifier another spelling.
  it('is published with a lower-case host and without the default port', async () => {
    const doc = `${h.sidecar.publicUrl}/.well-known/oauth-protected-resource/mcp`;
    for (const [host, proto, resource] of [
      ['MCP.Example.COM', 'https', 'https://mcp.example.com/mcp'],
      ['mcp.example.com:443', 'https', 'https://mcp.example.com/mcp'],
      ['Mcp.Example.com:80', 'http', 'http://mcp.example.com/mcp'],
      // Not the scheme's default: kept.
      ['mcp.example.com:80', 'https', 'https://mcp.example.com:80/mcp'],
      ['mcp.example.com:8443', 'https', 'https://mcp.example.com:8443/mcp'],
    ] as const) {
      const res = await getWithHost(doc, { host, 'x-forwarded-proto': proto });
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { resource: string }).resource).toBe(resource);
    }
  });
});

describe('a configured resource', () => {
  // RFC 8707 §2: the resource "MUST NOT include a fragment component"; MCP 2025-11-25 lists
  // `https://mcp.example.com#fragment` among the invalid canonical URIs. Published as the metadata's
  // `resource`, which clients send verbatim, it would have every authorization request refused.
  const start = (resource: string) =>
    startHarness({ upstream: h.upstream, issuer: h.issuer, config: { authn: { resource } } });
  it('is refused at start when it has a fragment or a password', async () => {
    await expect(start(`${RESOURCE}#main`)).rejects.toThrow(/authn\.resource: must not have a fragment/);
    await expect(start(`${RESOURCE}#`)).rejects.toThrow(/authn\.resource: must not have a fragment/);
    await expect(start('https://user:secret@mcp.test.example/mcp')).rejects.toThrow(
      /authn\.resource: must not hold a user or password/,
    );
  });
});
