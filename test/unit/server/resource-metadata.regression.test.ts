/**
 * Regression tests: resource metadata derived from the Host header survives every Host Node accepts, keeps
 * the MCP path when the Host holds `?` or `#`, and keeps the resource identifier's query (RFC 9728 §3.1).
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.js';
import { resourceIdentifier, resourceMetadataUrl } from '../../../src/server/resource-metadata.js';

const config = ConfigSchema.parse({});
const request = (host: string) => ({ headers: { host }, socket: {} }) as unknown as IncomingMessage;

describe('resource metadata from the Host header', () => {
  it.each(['a|b', 'a^b', '[::1', 'x.example:99999'])(
    'a Host that Node accepts (%s) does not make resourceMetadataUrl throw',
    (host) => {
      expect(() => resourceMetadataUrl(resourceIdentifier(config, request(host)))).not.toThrow();
    },
  );

  it('a Host with "?" or "#" does not drop the MCP path from the metadata URL', () => {
    for (const host of ['mcp.example.com?x', 'mcp.example.com#x']) {
      expect(resourceMetadataUrl(resourceIdentifier(config, request(host)))).toMatch(/\/mcp$/);
    }
  });
});

describe('resourceMetadataUrl with a query (RFC 9728 §3.1)', () => {
  it('keeps the query component of the resource identifier', () => {
    expect(resourceMetadataUrl('https://mcp.example.com/mcp?tenant=a')).toBe(
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp?tenant=a',
    );
  });
});
