import { describe, expect, it } from 'vitest';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';
import {
  type ParamHeader,
  paramHeaderDeclarations,
  paramHeaderMismatch,
  requestParamHeaderMismatch,
  toolParamHeaders,
} from '../../../src/mcp/param-headers.js';

const schema = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});

describe('paramHeaderDeclarations', () => {
  it('finds marks reached through properties alone, nested ones included', () => {
    const d = paramHeaderDeclarations(
      schema({
        region: { type: 'string', 'x-mcp-header': 'Region' },
        query: { type: 'string' },
        target: schema({ shard: { type: 'integer', 'x-mcp-header': 'Shard' } }),
        dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
      }),
    );
    expect(d).toEqual([
      { name: 'Region', header: 'mcp-param-region', path: ['region'], type: 'string' },
      { name: 'Shard', header: 'mcp-param-shard', path: ['target', 'shard'], type: 'integer' },
      { name: 'Dry-Run', header: 'mcp-param-dry-run', path: ['dry'], type: 'boolean' },
    ]);
  });

  it('is empty for a schema that marks nothing, or for none at all', () => {
    expect(paramHeaderDeclarations(schema({ q: { type: 'string' } }))).toEqual([]);
    expect(paramHeaderDeclarations(undefined)).toEqual([]);
  });

  it('ignores the name x-mcp-header where it is data or a property name, not a mark', () => {
    const d = paramHeaderDeclarations(
      schema({
        'x-mcp-header': { type: 'string' },
        mode: { type: 'string', enum: [{ 'x-mcp-header': 'X' }], default: { 'x-mcp-header': 'Y' } },
      }),
    );
    expect(d).toEqual([]);
  });

  it.each([
    ['under items', schema({ list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } } })],
    ['under oneOf', schema({ a: { oneOf: [{ type: 'string', 'x-mcp-header': 'A' }] } })],
    ['in $defs', schema({}, { $defs: { r: { type: 'string', 'x-mcp-header': 'R' } } })],
    ['on the root', { type: 'object', 'x-mcp-header': 'Root' }],
    ['on an object', schema({ o: { type: 'object', 'x-mcp-header': 'O' } })],
    ['with no type', schema({ u: { 'x-mcp-header': 'U' } })],
    ['on a list of types (nullable)', schema({ n: { type: ['string', 'null'], 'x-mcp-header': 'N' } })],
    ['with a name that is no token', schema({ s: { type: 'string', 'x-mcp-header': 'Bad Name' } })],
    ['with an empty name', schema({ s: { type: 'string', 'x-mcp-header': '' } })],
    [
      'twice without regard to case',
      schema({
        a: { type: 'string', 'x-mcp-header': 'Region' },
        b: { type: 'string', 'x-mcp-header': 'REGION' },
      }),
    ],
  ])('makes the definition invalid (undefined) with a mark %s', (_, s) => {
    expect(paramHeaderDeclarations(s)).toBeUndefined();
  });

  it('reads every tool of a tools/list result; an invalid one enforces nothing', () => {
    const m = toolParamHeaders({
      tools: [
        { name: 'a', inputSchema: schema({ r: { type: 'string', 'x-mcp-header': 'R' } }) },
        { name: 'b', inputSchema: schema({ r: { type: 'array', 'x-mcp-header': 'R' } }) },
        { name: 'c' },
      ],
    });
    expect([...m.keys()]).toEqual(['a', 'b', 'c']);
    expect(m.get('a')?.map((d) => d.header)).toEqual(['mcp-param-r']);
    expect(m.get('b')).toEqual([]);
    expect(m.get('c')).toEqual([]);
  });
});

describe('paramHeaderMismatch', () => {
  const decls = paramHeaderDeclarations(
    schema({
      region: { type: 'string', 'x-mcp-header': 'Region' },
      limit: { type: 'integer', 'x-mcp-header': 'Limit' },
      dry: { type: 'boolean', 'x-mcp-header': 'Dry' },
    }),
  ) as readonly ParamHeader[];
  const args = { region: 'us-west1', limit: 42, dry: false };
  const headers = { 'mcp-param-region': 'us-west1', 'mcp-param-limit': '42', 'mcp-param-dry': 'false' };

  it('accepts headers equal to the arguments, integers compared as numbers', () => {
    expect(paramHeaderMismatch(decls, args, headers)).toBeUndefined();
    expect(paramHeaderMismatch(decls, args, { ...headers, 'mcp-param-limit': '42.0' })).toBeUndefined();
  });

  it('checks a number mark as the TypeScript SDK client mirrors it (String(value)), numerically', () => {
    const d = paramHeaderDeclarations(schema({ n: { type: 'number', 'x-mcp-header': 'Ratio' } })) ?? [];
    expect(d.map((x) => x.type)).toEqual(['number']);
    for (const n of [2.5, 1e-7, -3, 0])
      expect(paramHeaderMismatch(d, { n }, { 'mcp-param-ratio': String(n) })).toBeUndefined();
    expect(paramHeaderMismatch(d, { n: 2.5 }, { 'mcp-param-ratio': '2.50' })).toBeUndefined();
    expect(paramHeaderMismatch(d, { n: 2.5 }, { 'mcp-param-ratio': '7' })).toMatch(/does not match/);
    expect(paramHeaderMismatch(d, { n: 2.5 }, {})).toMatch(/Mcp-Param-Ratio header is missing/);
  });

  it('decodes the Base64 sentinel before comparing', () => {
    const greeting = 'Hello, 世界';
    const d = paramHeaderDeclarations(schema({ g: { type: 'string', 'x-mcp-header': 'Greeting' } })) ?? [];
    const enc = `=?base64?${Buffer.from(greeting).toString('base64')}?=`;
    expect(paramHeaderMismatch(d, { g: greeting }, { 'mcp-param-greeting': enc })).toBeUndefined();
    expect(
      paramHeaderMismatch(d, { g: greeting }, { 'mcp-param-greeting': '=?base64?not base64!?=' }),
    ).toMatch(/Mcp-Param-Greeting header is malformed/);
    // 0xFF is no UTF-8: refused, not read as the U+FFFD a body could carry.
    const notUtf8 = `=?base64?${Buffer.from([0x61, 0xff]).toString('base64')}?=`;
    expect(paramHeaderMismatch(d, { g: 'a\uFFFD' }, { 'mcp-param-greeting': notUtf8 })).toMatch(
      /Mcp-Param-Greeting header is malformed/,
    );
    const bom = `=?base64?${Buffer.from('\uFEFFx').toString('base64')}?=`;
    expect(paramHeaderMismatch(d, { g: '\uFEFFx' }, { 'mcp-param-greeting': bom })).toBeUndefined();
    // The empty string, which a client always encodes, and a plain value shaped like the sentinel.
    expect(paramHeaderMismatch(d, { g: '' }, { 'mcp-param-greeting': '=?base64??=' })).toBeUndefined();
    const literal = `=?base64?${Buffer.from('=?base64?literal?=').toString('base64')}?=`;
    expect(
      paramHeaderMismatch(d, { g: '=?base64?literal?=' }, { 'mcp-param-greeting': literal }),
    ).toBeUndefined();
  });

  it('refuses a header sent on two lines, which Node joins into one value a body could match', () => {
    const joined = { ...headers, 'mcp-param-region': 'us-west1, eu-west1' };
    const others = ['Mcp-Param-Limit', '42', 'MCP-PARAM-DRY', 'false'];
    const twice = ['Mcp-Param-Region', 'us-west1', 'mcp-param-region', 'eu-west1', ...others];
    const body = { ...args, region: 'us-west1, eu-west1' };
    expect(paramHeaderMismatch(decls, body, joined, twice)).toMatch(/Mcp-Param-Region header is malformed/);
    // One line whose value holds a comma is no duplicate.
    const once = ['mcp-param-region', 'us-west1, eu-west1', ...others];
    expect(paramHeaderMismatch(decls, body, joined, once)).toBeUndefined();
  });

  it('refuses a header that differs, without quoting either value', () => {
    const why = paramHeaderMismatch(decls, args, { ...headers, 'mcp-param-region': 'eu-west1' });
    expect(why).toBe("Mcp-Param-Region header does not match the body's arguments.region");
    expect(paramHeaderMismatch(decls, args, { ...headers, 'mcp-param-dry': 'False' })).toMatch(
      /Mcp-Param-Dry/,
    );
    expect(paramHeaderMismatch(decls, args, { ...headers, 'mcp-param-limit': '0x2A' })).toMatch(
      /Mcp-Param-Limit/,
    );
  });

  it('refuses an integer beyond 2^53 - 1, which JSON.parse rounds to what another header says', () => {
    const { limit } = JSON.parse('{"limit":9007199254740993}') as { limit: number };
    const big = { ...headers, 'mcp-param-limit': '9007199254740992' };
    expect(paramHeaderMismatch(decls, { ...args, limit }, big)).toMatch(/Mcp-Param-Limit header does not/);
    const max = { ...headers, 'mcp-param-limit': '9007199254740991' };
    expect(paramHeaderMismatch(decls, { ...args, limit: 9007199254740991 }, max)).toBeUndefined();
  });

  it('refuses a value of another type than the header declares', () => {
    expect(paramHeaderMismatch(decls, { ...args, limit: '42' }, headers)).toMatch(/Mcp-Param-Limit/);
  });

  it('needs the header when the body has a value, and none when it has not', () => {
    const { 'mcp-param-region': _, ...without } = headers;
    expect(paramHeaderMismatch(decls, args, without)).toBe(
      'Mcp-Param-Region header is missing; the body has a value at arguments.region',
    );
    expect(paramHeaderMismatch(decls, { ...args, region: null }, without)).toBeUndefined();
    expect(paramHeaderMismatch(decls, { limit: 42, dry: false }, without)).toBeUndefined();
    expect(paramHeaderMismatch(decls, { limit: 42, dry: false }, headers)).toBe(
      'Mcp-Param-Region header is sent, but the body has no value at arguments.region',
    );
  });
});

describe('requestParamHeaderMismatch', () => {
  const decls =
    paramHeaderDeclarations(schema({ region: { type: 'string', 'x-mcp-header': 'Region' } })) ?? [];
  const call = (args: unknown): JsonRpcMessage[] => [
    { kind: 'request', id: 1, method: 'tools/call', params: { name: 'q', arguments: args } },
  ];
  const lookup = (tool: string) => (tool === 'q' ? decls : []);

  it('checks a 2026-07-28 call against the marks of its tool', () => {
    const h = { 'mcp-protocol-version': '2026-07-28', 'mcp-param-region': 'eu' };
    expect(requestParamHeaderMismatch(h, call({ region: 'eu' }), lookup)).toBeUndefined();
    expect(requestParamHeaderMismatch(h, call({ region: 'us' }), lookup)).toMatch(/Mcp-Param-Region/);
  });

  it("checks a call without MCP-Protocol-Version whose body's _meta names 2026-07-28", () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
    const modern: JsonRpcMessage[] = [
      {
        kind: 'request',
        id: 1,
        method: 'tools/call',
        params: { name: 'q', arguments: { region: 'us' }, _meta: meta },
      },
    ];
    expect(requestParamHeaderMismatch({ 'mcp-param-region': 'eu' }, modern, lookup)).toMatch(
      /Mcp-Param-Region header does not match/,
    );
    const older = { ...meta, 'io.modelcontextprotocol/protocolVersion': '2025-11-25' };
    const old: JsonRpcMessage[] = [
      {
        kind: 'request',
        id: 1,
        method: 'tools/call',
        params: { name: 'q', arguments: { region: 'us' }, _meta: older },
      },
    ];
    expect(requestParamHeaderMismatch({ 'mcp-param-region': 'eu' }, old, lookup)).toBeUndefined();
  });

  it('leaves older revisions, other methods and unmarked tools alone', () => {
    const old = { 'mcp-protocol-version': '2025-11-25' };
    expect(requestParamHeaderMismatch(old, call({ region: 'us' }), lookup)).toBeUndefined();
    expect(requestParamHeaderMismatch({}, call({ region: 'us' }), lookup)).toBeUndefined();
    const modern = { 'mcp-protocol-version': '2026-07-28' };
    const other: JsonRpcMessage[] = [{ kind: 'request', id: 1, method: 'tools/list', params: {} }];
    expect(requestParamHeaderMismatch(modern, other, lookup)).toBeUndefined();
    const unmarked: JsonRpcMessage[] = [
      { kind: 'request', id: 1, method: 'tools/call', params: { name: 'other', arguments: { region: 'x' } } },
    ];
    expect(requestParamHeaderMismatch(modern, unmarked, lookup)).toBeUndefined();
  });
});
