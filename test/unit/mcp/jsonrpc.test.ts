import { describe, expect, it } from 'vitest';
import { codeInfo } from '../../../src/errors/codes.js';
import { MAX_ID_CHARS, MAX_JSON_DEPTH, parseBody, rpcError } from '../../../src/mcp/jsonrpc.js';

const code = (c: string) => expect.objectContaining({ code: c });
const json = (v: unknown) => JSON.stringify(v);

describe('parseBody', () => {
  it('parses a single request from a string or a Buffer', () => {
    const text = json({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } });
    const expected = {
      batch: false,
      messages: [{ kind: 'request', id: 1, method: 'tools/call', params: { name: 'echo' } }],
    };
    expect(parseBody(text)).toEqual(expected);
    expect(parseBody(Buffer.from(text))).toEqual(expected);
  });

  it('refuses a body that is not valid UTF-8 (decided with U+FFFD, it would be forwarded as other bytes)', () => {
    const body = Buffer.concat([
      Buffer.from(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a',
      ),
      Buffer.from([0xff]),
      Buffer.from('b"}}}'),
    ]);
    expect(() => parseBody(body)).toThrow(/not valid UTF-8/);
    expect(
      parseBody(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"t":"é€😀"}}')).messages,
    ).toHaveLength(1);
  });

  it('keeps string and number ids apart', () => {
    const [m1] = parseBody(json({ jsonrpc: '2.0', id: '1', method: 'ping' })).messages;
    const [m2] = parseBody(json({ jsonrpc: '2.0', id: 1, method: 'ping' })).messages;
    expect(m1).toMatchObject({ kind: 'request', id: '1' });
    expect(m2).toMatchObject({ kind: 'request', id: 1 });
  });

  it('classifies a message without id as a notification', () => {
    expect(parseBody(json({ jsonrpc: '2.0', method: 'notifications/initialized' }))).toEqual({
      batch: false,
      messages: [{ kind: 'notification', method: 'notifications/initialized', params: undefined }],
    });
  });

  it('classifies result and error messages as responses', () => {
    expect(parseBody(json({ jsonrpc: '2.0', id: 'a', result: {} })).messages).toEqual([
      { kind: 'response', id: 'a' },
    ]);
    expect(parseBody(json({ jsonrpc: '2.0', id: 7, result: null })).messages).toEqual([
      { kind: 'response', id: 7 },
    ]);
    expect(
      parseBody(json({ jsonrpc: '2.0', id: 7, error: { code: -32601, message: 'nope' } })).messages,
    ).toEqual([{ kind: 'response', id: 7 }]);
  });

  it('accepts object params and refuses array params (MCP takes objects only)', () => {
    const [a] = parseBody(json({ jsonrpc: '2.0', id: 1, method: 'm', params: { x: 1 } })).messages;
    expect(a).toMatchObject({ params: { x: 1 } });
    expect(() => parseBody(json({ jsonrpc: '2.0', id: 1, method: 'm', params: [1, 2] }))).toThrow(
      'field params',
    );
    expect(() => parseBody(json({ jsonrpc: '2.0', method: 'notifications/x', params: [] }))).toThrow(
      code('ERR_REQUEST_INVALID'),
    );
  });

  it.each([
    ['a fraction', '1.5'],
    ['2^64', '18446744073709551616'],
    ['2^53 + 1', '9007199254740993'],
    ['-(2^53)', '-9007199254740992'],
  ])('refuses a request id that is %s: only strings and safe integers are ids', (_label, id) => {
    expect(() => parseBody(`{"jsonrpc":"2.0","id":${id},"method":"ping"}`)).toThrow('field id');
  });

  it.each([
    ['0', 0],
    ['-0', -0],
    ['1E+2', 100],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ])('accepts the integer id %s', (text, id) => {
    const [m] = parseBody(`{"jsonrpc":"2.0","id":${text},"method":"ping"}`).messages;
    expect(m).toMatchObject({ kind: 'request', id });
  });

  it.each([
    ['a request', { jsonrpc: '2.0', id: 1, method: 'ping', extra: 1 }],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized', ID: 2 }],
    ['a response', { jsonrpc: '2.0', id: 1, result: {}, method2: 'x' }],
  ])('refuses %s with a member JSON-RPC does not define, naming it', (_label, message) => {
    expect(() => parseBody(json(message))).toThrow(/Unrecognized key: "(extra|ID|method2)"/);
  });

  it(`accepts nesting down to ${MAX_JSON_DEPTH} levels and refuses one more`, () => {
    // The message is level 1, params 2, and the L objects from arguments inward levels 3 to L + 2.
    const nested = (levels: number): string =>
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}}`;
    expect(parseBody(nested(MAX_JSON_DEPTH - 2)).messages).toHaveLength(1);
    expect(() => parseBody(nested(MAX_JSON_DEPTH - 1))).toThrow(`deeper than ${MAX_JSON_DEPTH} levels`);
    expect(() => parseBody(`[${nested(MAX_JSON_DEPTH - 2)}]`)).toThrow(code('ERR_REQUEST_INVALID'));
    expect(() => parseBody(nested(50_000))).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it.each([
    [
      'a value',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}',
    ],
    ['a low half first', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"t":"\\udc00\\ud800"}}'],
    ['a key', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"\\udfff":1}}'],
    ['an id', '{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}'],
    ['an array item', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":["x","\\uDBFF"]}}'],
  ])('refuses a lone surrogate escape in %s', (_label, body) => {
    expect(() => parseBody(body)).toThrow('lone UTF-16 surrogate');
    expect(() => parseBody(Buffer.from(body))).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it('refuses a number beyond a double, which the policy would see as null', () => {
    for (const n of ['1e400', '-1e999']) {
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"amount":${n}}}}`;
      expect(() => parseBody(body)).toThrow(code('ERR_REQUEST_INVALID'));
    }
    const ok = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":1.5e308,"b":-0,"c":6.02e23}}';
    expect(parseBody(ok).messages).toHaveLength(1);
  });

  it('refuses an integer literal a double cannot hold exactly (Python and Go read it exactly)', () => {
    for (const n of ['9007199254740993', '-18446744073709551615']) {
      const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"account":${n}}}}`;
      expect(() => parseBody(body)).toThrow(`the integer ${n} is beyond what a double holds exactly`);
    }
    const ok =
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":9007199254740992,"b":"9007199254740993","c":1e300}}';
    expect(parseBody(ok).messages).toHaveLength(1);
  });

  it('refuses a key holding U+0000 (a Go decoder matched "name\\u0000" to name), not a value', () => {
    const body =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name\\u0000":"run_sql"}}';
    expect(() => parseBody(body)).toThrow('a key holds U+0000');
    const value = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\\u0000"}}';
    expect(parseBody(value).messages).toHaveLength(1);
  });

  it('refuses a params member the sidecar reads spelt in another case or by its Python name, alone', () => {
    const req = (method: string, params: string) =>
      `{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}`;
    for (const [method, params] of [
      ['tools/call', '{"Name":"run_sql"}'],
      ['tools/call', '{"name":"echo","ARGUMENTS":{}}'],
      ['resources/read', '{"Uri":"crm://globex/x"}'],
      ['tasks/get', '{"taskid":"t-1"}'],
      ['tasks/get', '{"taſkId":"t-1"}'],
      ['subscriptions/listen', '{"notifications":{"taskIDs":["t-1"]}}'],
      // The Python SDK's models read a field by its Python name too (populate_by_name).
      ['tools/call', '{"name":"echo","meta":{"baggage":"user.id=admin"}}'],
      ['tasks/get', '{"task_id":"t-1"}'],
      // Go reads `_Meta` as `_meta`; its protocol version and capabilities are read here as `_meta` alone.
      ['tools/call', '{"name":"echo","_Meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}'],
      ['ping', '{"_META":{}}'],
      // The version an initialize asks for is the policy's context.protocol_version.
      [
        'initialize',
        '{"ProtocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}',
      ],
      [
        'initialize',
        '{"protocol_version":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}',
      ],
      ['subscriptions/listen', '{"notifications":{"resource_subscriptions":["crm://globex/x"]}}'],
      // `_meta` is read of any method (its trace context), one the sidecar does not know included.
      ['acme/search', '{"meta":{"baggage":"user.id=admin"}}'],
      ['acme/search', '{"_Meta":{}}'],
      // Every `resources/*` and `tasks/*` method's name is what `Mcp-Name` mirrors.
      ['resources/list', '{"URI":"crm://globex/x"}'],
      ['tasks/list', '{"task_id":"t-1"}'],
      ['notifications/cancelled', '{"request_id":1}'],
      // A completion is decided on its ref's item and its context's arguments.
      ['completion/complete', '{"Ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}'],
      [
        'completion/complete',
        '{"ref":{"type":"ref/prompt","Name":"secret"},"argument":{"name":"a","value":""}}',
      ],
      ['completion/complete', '{"ref":{"type":"ref/resource","URI":"crm://{tenant}/x"}}'],
      ['completion/complete', '{"ref":{"TYPE":"ref/prompt","name":"p"}}'],
      [
        'completion/complete',
        '{"ref":{"type":"ref/prompt","name":"p"},"argument":{"Name":"tenant","value":"g"}}',
      ],
      [
        'completion/complete',
        '{"ref":{"type":"ref/prompt","name":"p"},"context":{"Arguments":{"tenant":"g"}}}',
      ],
    ]) {
      expect(() => parseBody(req(method as string, params as string)), params).toThrow(
        'is another spelling of',
      );
    }
    // Spelt right, or a member the sidecar does not read (inside `arguments`, a tool's own names).
    for (const [method, params] of [
      ['tasks/get', '{"taskId":"t-1"}'],
      ['subscriptions/listen', '{"notifications":{"resourceSubscriptions":[],"taskIds":[]}}'],
      [
        'initialize',
        '{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}',
      ],
      ['tools/call', '{"name":"echo","arguments":{"Name":"x","URI":"y","_Meta":{}},"_meta":{}}'],
      // A method decided on its name alone: its own members are no spelling of anything the decision read.
      ['ping', '{"Name":"x","task_id":"t-1","request_id":1,"Arguments":{},"URI":"u"}'],
      ['acme/search', '{"NAME":"x","Uri":"u","TaskId":"t","protocol_version":"1","Notifications":{}}'],
      ['prompts/get', '{"name":"p","Task":{},"Uri":"u"}'],
      ['initialize', '{"protocolVersion":"2025-06-18","Name":"c","capabilities":{}}'],
      [
        'completion/complete',
        '{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"},"context":{"arguments":{"Tenant":"g"}}}',
      ],
    ]) {
      expect(parseBody(req(method as string, params as string)).messages, params).toHaveLength(1);
    }
  });

  it('refuses an object with keys differing only in case, ſ for s or K for k (Go matches keys so)', () => {
    const call = (params: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${params}}`;
    for (const params of [
      '{"name":"read_customer","Name":"delete_customer","arguments":{}}',
      '{"name":"read_customer","arguments":{},"argument\u017f":{"tenant":"globex"}}',
      '{"name":"t","arguments":{"tenant":"acme","TENANT":"globex"}}',
      '{"name":"t","arguments":{"nested":{"\u212aey":1,"key":2}}}',
    ]) {
      expect(() => parseBody(call(params)), params).toThrow(/differ only in case/);
    }
    const distinct = call(
      '{"name":"t","arguments":{"progressToken":1,"Name":"n","tenant":"acme","\u00e9":1}}',
    );
    expect(parseBody(distinct).messages).toHaveLength(1);
    // One code point at a time, as Go folds: characters whose case is longer are no case variants.
    for (const pair of ['"stra\u00dfe":1,"strasse":2', '"\ufb01le":1,"file":2', '"\u0130":1,"i\u0307":2']) {
      expect(parseBody(call(`{"name":"t","arguments":{${pair}}}`)).messages, pair).toHaveLength(1);
    }
    expect(() => parseBody(call('{"name":"t","arguments":{"\u00df":1,"\u1e9e":2}}'))).toThrow(
      /differ only in case/,
    );
    // Longer than any struct field's name: not folded.
    const long = 'k'.repeat(200);
    expect(
      parseBody(call(`{"name":"t","arguments":{"${long}":1,"${long.toUpperCase()}":2}}`)).messages,
    ).toHaveLength(1);
  });

  it('accepts escaped surrogate pairs and other escapes', () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"t":"\\ud83d\\ude00 \\u00e9 \\u2028"}}';
    const [m] = parseBody(body).messages;
    expect(m).toMatchObject({ params: { t: '😀 é \u2028' } });
  });

  it.each(['tools/call', 'initialize', 'ping'])('refuses a %s request without an id', (method) => {
    const body = json({ jsonrpc: '2.0', method, params: {} });
    expect(() => parseBody(body)).toThrow(`is a ${method} request without an id`);
    expect(() =>
      parseBody(
        json([
          { jsonrpc: '2.0', id: 1, method: 'ping' },
          { jsonrpc: '2.0', method },
        ]),
      ),
    ).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it('parses a batch of mixed messages in order', () => {
    const body = json([
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', method: 'notifications/progress' },
      { jsonrpc: '2.0', id: 9, result: {} },
    ]);
    const parsed = parseBody(body);
    expect(parsed.batch).toBe(true);
    expect(parsed.messages.map((m) => m.kind)).toEqual(['request', 'notification', 'response']);
  });

  it('marks a one-element batch as a batch', () => {
    expect(parseBody(json([{ jsonrpc: '2.0', id: 1, method: 'ping' }])).batch).toBe(true);
  });

  it.each(['', '{', 'not json', '{"jsonrpc":"2.0",}'])('refuses %j as a parse error (-32700)', (body) => {
    expect(() => parseBody(body)).toThrow(code('ERR_REQUEST_PARSE'));
    expect(codeInfo('ERR_REQUEST_PARSE').rpc).toBe(-32700);
  });

  it('refuses an empty batch', () => {
    expect(() => parseBody('[]')).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it('refuses a batch over the limit (100 by default), naming both counts', () => {
    const batch = (n: number) =>
      JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'ping' })));
    expect(parseBody(batch(100)).messages).toHaveLength(100);
    expect(() => parseBody(batch(101))).toThrow('a batch of 101 messages is over the limit of 100');
    expect(parseBody(batch(3), 3).messages).toHaveLength(3);
    expect(() => parseBody(batch(4), 3)).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it('refuses a batch whose requests share an id (1 and "1" too), not notifications or responses', () => {
    const req = (id: unknown, method = 'tools/list') => ({ jsonrpc: '2.0', id, method });
    expect(() => parseBody(json([req(1), req(1, 'prompts/list')]))).toThrow(
      'Invalid Request: request id 1 is used twice in the batch',
    );
    expect(() => parseBody(json([req(1), req('1')]))).toThrow(code('ERR_REQUEST_INVALID'));
    const ok = [
      req(1),
      req(2),
      { jsonrpc: '2.0', method: 'notifications/cancelled' },
      { jsonrpc: '2.0', id: 1, result: {} },
    ];
    expect(parseBody(json(ok)).messages).toHaveLength(4);
  });

  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'x'],
    ['a nested array', [[{ jsonrpc: '2.0', id: 1, method: 'ping' }]]],
  ])('refuses %s as a message', (_label, body) => {
    expect(() => parseBody(json(body))).toThrow(code('ERR_REQUEST_INVALID'));
  });

  it.each([
    ['missing jsonrpc', { id: 1, method: 'ping' }],
    ['jsonrpc 1.0', { jsonrpc: '1.0', id: 1, method: 'ping' }],
    ['empty method', { jsonrpc: '2.0', id: 1, method: '' }],
    ['numeric method', { jsonrpc: '2.0', id: 1, method: 5 }],
    ['boolean id', { jsonrpc: '2.0', id: true, method: 'ping' }],
    ['object id', { jsonrpc: '2.0', id: {}, method: 'ping' }],
    ['array id', { jsonrpc: '2.0', id: [1], method: 'ping' }],
    ['string params', { jsonrpc: '2.0', id: 1, method: 'ping', params: 'x' }],
    ['null params', { jsonrpc: '2.0', id: 1, method: 'ping', params: null }],
    ['notification with number params', { jsonrpc: '2.0', method: 'n', params: 3 }],
    ['response with neither result nor error', { jsonrpc: '2.0', id: 1 }],
    [
      'response with both result and error',
      { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } },
    ],
    ['response with a non-integer error code', { jsonrpc: '2.0', id: 1, error: { code: 1.5, message: 'x' } }],
    ['response with an error lacking message', { jsonrpc: '2.0', id: 1, error: { code: 1 } }],
    ['response with a bad id', { jsonrpc: '2.0', id: false, result: {} }],
    ['empty object', {}],
  ])('refuses a message with %s (-32600)', (_label, message) => {
    expect(() => parseBody(json(message))).toThrow(code('ERR_REQUEST_INVALID'));
    expect(codeInfo('ERR_REQUEST_INVALID').rpc).toBe(-32600);
  });

  it('refuses a whole batch when one message is invalid', () => {
    const body = json([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: true, method: 'ping' },
    ]);
    expect(() => parseBody(body)).toThrow(code('ERR_REQUEST_INVALID'));
  });
});

describe('rpcError', () => {
  it('builds an error object for the id', () => {
    expect(rpcError('x', -32600, 'bad')).toEqual({
      jsonrpc: '2.0',
      id: 'x',
      error: { code: -32600, message: 'bad' },
    });
  });

  it('omits data when none is given and includes it otherwise', () => {
    expect(rpcError(1, -1, 'm').error).not.toHaveProperty('data');
    expect(rpcError(null, -1, 'm', { why: 'x' })).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -1, message: 'm', data: { why: 'x' } },
    });
  });
});

describe('request ids (MCP)', () => {
  it(`refuses a string id over ${MAX_ID_CHARS} characters, in a batch too (ids are held until their reply)`, () => {
    const req = (id: string) => ({ jsonrpc: '2.0', id, method: 'ping' });
    expect(parseBody(JSON.stringify(req('x'.repeat(MAX_ID_CHARS)))).messages).toHaveLength(1);
    for (const body of [req('x'.repeat(MAX_ID_CHARS + 1)), [req('a'), req('x'.repeat(1_000_000))]])
      expect(() => parseBody(JSON.stringify(body))).toThrow(
        expect.objectContaining({
          code: 'ERR_REQUEST_INVALID',
          message: expect.stringMatching(/id: Too big/),
        }),
      );
  });

  it('refuses a request whose id is null', () => {
    expect(() => parseBody('{"jsonrpc":"2.0","id":null,"method":"ping"}')).toThrow(
      expect.objectContaining({ code: 'ERR_REQUEST_INVALID' }),
    );
  });
});
