// BUG REPRO — not committed. See the report: src/server/resource-metadata.ts L14-26.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.js';
import { resourceIdentifier, resourceMetadataUrl } from '../../../src/server/resource-metadata.js';

const config = ConfigSchema.parse({});
const request = (host: string) => ({ headers: { host }, socket: {} }) as unknown as IncomingMessage;

describe('resource metadata from the Host header (bug)', () => {
  it.each(['a|b', 'a^b', '[::1', 'x.example:99999'])(
    'BUG: a Host that Node accepts (%s) does not make resourceMetadataUrl throw',
    (host) => {
      expect(() => resourceMetadataUrl(resourceIdentifier(config, request(host)))).not.toThrow();
    },
  );

  it('BUG: a Host with "?" or "#" does not drop the MCP path from the metadata URL', () => {
    for (const host of ['mcp.example.com?x', 'mcp.example.com#x']) {
      expect(resourceMetadataUrl(resourceIdentifier(config, request(host)))).toMatch(/\/mcp$/);
    }
  });
});

describe('resourceMetadataUrl with a query (bug, RFC 9728 §3.1)', () => {
  it('BUG: keeps the query component of the resource identifier', () => {
    expect(resourceMetadataUrl('https://mcp.example.com/mcp?tenant=a')).toBe(
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp?tenant=a',
    );
  });
});
