import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { codeInfo } from '../../../../src/errors/codes.js';
import { parseStage, protocolVersionStage } from '../../../../src/pipeline/stages/parse.js';
import { contextFor, fakeRequest, signal } from '../fake-request.js';

const VERSIONS = ['2025-03-26', '2025-06-18', '2026-07-28'];
const CONTINUE = { kind: 'continue' };
const b64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;
const call = (name: string, id = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

function parse(headers: IncomingHttpHeaders, body?: string) {
  const ctx = contextFor(fakeRequest(headers), body);
  const result = parseStage(VERSIONS).run(ctx, signal);
  return { ctx, result };
}

function denied(code: string) {
  return expect.objectContaining({ kind: 'deny', error: expect.objectContaining({ code }) });
}

describe('protocolVersionStage', () => {
  const run = (headers: IncomingHttpHeaders) =>
    protocolVersionStage(VERSIONS).run(contextFor(fakeRequest(headers)), signal);

  it('lets a request without MCP-Protocol-Version through', () => {
    expect(run({})).toEqual(CONTINUE);
  });

  it('lets a supported version through', () => {
    expect(run({ 'mcp-protocol-version': '2025-06-18' })).toEqual(CONTINUE);
  });

  it.each(['2024-01-01', '', 'latest'])('refuses version %j with 400 and lists the supported ones', (v) => {
    const r = run({ 'mcp-protocol-version': v });
    expect(r).toMatchObject({
      kind: 'deny',
      error: {
        code: 'ERR_REQUEST_PROTOCOL_VERSION',
        status: 400,
        data: { supported: VERSIONS, requested: v },
      },
    });
  });
});

describe('parseStage', () => {
  it('stores the parsed body on the context', () => {
    const { ctx, result } = parse({}, call('echo'));
    expect(result).toEqual(CONTINUE);
    expect(ctx.parsed).toEqual({
      batch: false,
      messages: [{ kind: 'request', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }],
    });
  });

  it('checks the protocol version before the body', () => {
    const { ctx, result } = parse({ 'mcp-protocol-version': '1999-01-01' }, 'not json');
    expect(result).toEqual(denied('ERR_REQUEST_PROTOCOL_VERSION'));
    expect(ctx.parsed).toBeUndefined();
  });

  it('reads a readable body refused for its version, so the refusal names its request id', () => {
    const { ctx, result } = parse({ 'mcp-protocol-version': '1999-01-01' }, call('echo'));
    expect(result).toEqual(denied('ERR_REQUEST_PROTOCOL_VERSION'));
    expect(ctx.parsed?.messages.map((m) => (m.kind === 'request' ? m.id : undefined))).toEqual([1]);
  });

  it('accepts a supported version given twice (first value counts)', () => {
    const headers = {
      'mcp-protocol-version': ['2026-07-28', 'x'],
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    } as unknown as IncomingHttpHeaders;
    expect(parse(headers, call('echo')).result).toEqual(CONTINUE);
  });

  it.each([
    ['invalid JSON', '{"jsonrpc":', 'ERR_REQUEST_PARSE', -32700],
    ['no body', undefined, 'ERR_REQUEST_PARSE', -32700],
    ['an empty batch', '[]', 'ERR_REQUEST_INVALID', -32600],
    ['a bad message', '{"jsonrpc":"2.0","id":true,"method":"x"}', 'ERR_REQUEST_INVALID', -32600],
  ])('denies %s with 400 and JSON-RPC %s', (_label, body, code, rpc) => {
    const { result } = parse({}, body);
    expect(result).toMatchObject({ kind: 'deny', error: { code, status: 400 } });
    expect(codeInfo(code as 'ERR_REQUEST_PARSE').rpc).toBe(rpc);
  });

  describe('Mcp-Method / Mcp-Name headers', () => {
    it('lets matching headers through', () => {
      expect(parse({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, call('echo')).result).toEqual(
        CONTINUE,
      );
    });

    it('lets a matching Mcp-Method alone through', () => {
      expect(parse({ 'mcp-method': 'tools/call' }, call('echo')).result).toEqual(CONTINUE);
    });

    it('checks a notification too', () => {
      const body = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(parse({ 'mcp-method': 'notifications/initialized' }, body).result).toEqual(CONTINUE);
      expect(parse({ 'mcp-method': 'notifications/cancelled' }, body).result).toEqual(
        denied('ERR_REQUEST_HEADER_MISMATCH'),
      );
    });

    it('matches Mcp-Name against prompts/get name and resources/* uri', () => {
      const prompt = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'p' } });
      const read = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: { uri: 'file:///a' },
      });
      expect(parse({ 'mcp-name': 'p' }, prompt).result).toEqual(CONTINUE);
      expect(parse({ 'mcp-name': 'file:///a' }, read).result).toEqual(CONTINUE);
      expect(parse({ 'mcp-name': 'file:///b' }, read).result).toEqual(denied('ERR_REQUEST_HEADER_MISMATCH'));
    });

    it('refuses an MCP-Protocol-Version header that disagrees with the body’s _meta version', () => {
      const versioned = (v: unknown) =>
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/list',
          params: { _meta: { 'io.modelcontextprotocol/protocolVersion': v } },
        });
      const header = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };
      expect(parse(header, versioned('2026-07-28')).result).toEqual(CONTINUE);
      expect(parse(header, versioned('2025-06-18')).result).toEqual(denied('ERR_REQUEST_HEADER_MISMATCH'));
      // Nothing to compare: no header, or no version (as a string) in the body.
      expect(parse({}, versioned('2025-06-18')).result).toEqual(CONTINUE);
      expect(parse(header, versioned(20260728)).result).toEqual(CONTINUE);
      const named = { ...header, 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
      expect(parse(named, call('echo')).result).toEqual(CONTINUE);
    });

    it('refuses a 2026-07-28 request without the standard headers that revision requires', () => {
      const v = { 'mcp-protocol-version': '2026-07-28' };
      const missing = (headers: IncomingHttpHeaders, body: string) => {
        const { result } = parse(headers, body);
        expect(result).toEqual(denied('ERR_REQUEST_HEADER_MISMATCH'));
        return (result as { error: Error }).error.message;
      };
      expect(missing(v, call('echo'))).toBe(
        'Bad Request: Mcp-Method header is missing (required since MCP 2026-07-28)',
      );
      expect(missing({ ...v, 'mcp-method': 'tools/call' }, call('echo'))).toContain(
        'Mcp-Name header is missing',
      );
      // A body that says 2026-07-28 needs the version header too.
      const modernBody = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
      });
      expect(missing({ 'mcp-method': 'tools/list' }, modernBody)).toContain(
        'MCP-Protocol-Version header is missing',
      );
      // Mcp-Name only where the method names something; nothing required of a notification or older revisions.
      const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(parse({ ...v, 'mcp-method': 'tools/list' }, list).result).toEqual(CONTINUE);
      const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(parse(v, note).result).toEqual(CONTINUE);
      expect(parse({ 'mcp-protocol-version': '2025-06-18' }, call('echo')).result).toEqual(CONTINUE);
    });

    it('requires no Mcp-Name of a 2026-07-28 request whose body carries no string name or uri', () => {
      // The SDK client mirrors only a string; such a body is the upstream's to answer (invalid params).
      const v = { 'mcp-protocol-version': '2026-07-28' };
      const req = (method: string, params: unknown) =>
        JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
      for (const [method, params] of [
        ['tools/call', { arguments: {} }],
        ['tools/call', { name: 42 }],
        ['prompts/get', {}],
        ['resources/read', { uri: null }],
      ] as const) {
        expect(parse({ ...v, 'mcp-method': method }, req(method, params)).result).toEqual(CONTINUE);
      }
      expect(
        parse({ ...v, 'mcp-method': 'resources/read' }, req('resources/read', { uri: 'file:///a' })).result,
      ).toEqual(denied('ERR_REQUEST_HEADER_MISMATCH'));
    });

    it('refuses an Mcp-Name sent on two lines, or with a Base64 value that is not Base64 or not UTF-8', () => {
      // Node joins two lines into one value; a body name equal to the joined text must not pass.
      const twice = { 'mcp-name': ['echo', 'other'] } as unknown as IncomingHttpHeaders;
      for (const headers of [
        twice,
        { 'mcp-name': '=?base64?not base64!?=' },
        { 'mcp-name': `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=` },
      ]) {
        const { result } = parse(headers, call('echo'));
        expect(result).toEqual(denied('ERR_REQUEST_HEADER_MISMATCH'));
        expect((result as { error: Error }).error.message).toContain('Mcp-Name header is malformed');
      }
    });

    it('decodes =?base64?…?= Mcp-Name values', () => {
      expect(parse({ 'mcp-name': b64('café_☕') }, call('café_☕')).result).toEqual(CONTINUE);
      expect(parse({ 'mcp-name': b64('other') }, call('café_☕')).result).toEqual(
        denied('ERR_REQUEST_HEADER_MISMATCH'),
      );
    });

    it('does not decode a base64 value without the =?base64?…?= wrapper', () => {
      const encoded = Buffer.from('echo').toString('base64');
      expect(parse({ 'mcp-name': encoded }, call('echo')).result).toEqual(
        denied('ERR_REQUEST_HEADER_MISMATCH'),
      );
    });

    it.each([
      ['a different method', { 'mcp-method': 'tools/list' }, call('echo')],
      ['a different name', { 'mcp-name': 'rm_rf' }, call('echo')],
      [
        'a name where the body has none',
        { 'mcp-name': 'x' },
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      ],
      ['headers on a batch', { 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, `[${call('echo')}]`],
      ['headers on a response', { 'mcp-method': 'tools/call' }, '{"jsonrpc":"2.0","id":1,"result":{}}'],
    ])('denies %s with 400 and JSON-RPC -32020', (_label, headers, body) => {
      const { result } = parse(headers, body);
      expect(result).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_REQUEST_HEADER_MISMATCH', status: 400 },
      });
      expect(codeInfo('ERR_REQUEST_HEADER_MISMATCH').rpc).toBe(-32020);
    });

    it('lets a batch without the headers through', () => {
      expect(parse({}, `[${call('a')},${call('b', 2)}]`).result).toEqual(CONTINUE);
    });
  });
});

describe('batches and the protocol version', () => {
  const batch = `[${call('echo', 1)},${call('echo', 2)}]`;
  it.each(['2025-06-18', '2026-07-28'])(
    'refuses a batch under %s, which has no batches (400, -32600)',
    (v) => {
      const { result } = parse({ 'mcp-protocol-version': v }, batch);
      expect(result).toEqual(denied('ERR_REQUEST_INVALID'));
      expect((result as { error: Error }).error.message).toContain('no JSON-RPC batches');
    },
  );
  it('decides a batch without the header, or under 2025-03-26, message by message', () => {
    for (const headers of [{}, { 'mcp-protocol-version': '2025-03-26' }]) {
      const { ctx, result } = parse(headers, batch);
      expect(result).toEqual(CONTINUE);
      expect(ctx.parsed?.messages).toHaveLength(2);
    }
  });
  it('refuses a batch, one element included, whose messages name a version without batches in _meta', () => {
    const meta = (id: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: {},
          _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
        },
      });
    for (const body of [`[${meta(1)}]`, `[${call('echo', 1)},${meta(2)}]`]) {
      // Without the header, or with an older one than the messages name.
      for (const headers of [{}, { 'mcp-protocol-version': '2025-03-26' }]) {
        const { result } = parse(headers, body);
        expect(result).toEqual(denied('ERR_REQUEST_INVALID'));
        expect((result as { error: Error }).error.message).toContain(
          'MCP 2026-07-28 has no JSON-RPC batches',
        );
      }
    }
  });
  it('lets a single message through under 2025-06-18', () => {
    expect(parse({ 'mcp-protocol-version': '2025-06-18' }, call('echo')).result).toEqual(CONTINUE);
  });
});
