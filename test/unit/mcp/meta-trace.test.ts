import { describe, expect, it } from 'vitest';
import { parseBody } from '../../../src/mcp/jsonrpc.js';
import { withOwnTraceContext } from '../../../src/mcp/meta-trace.js';

const OWN = '00-11111111111111111111111111111111-2222222222222222-01';
const CLIENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** The body forwarded for `text` when the sidecar's own headers are `headers`. */
function forwarded(text: string, headers: Record<string, string> = {}): string {
  const body = Buffer.from(text);
  return withOwnTraceContext(body, parseBody(body), headers).toString('utf8');
}

describe('the client trace context in params._meta', () => {
  it('hands back the very same bytes when no message carries one', () => {
    const body = Buffer.from(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","_meta":{"progressToken":1}}}',
    );
    expect(withOwnTraceContext(body, parseBody(body), { traceparent: OWN })).toBe(body);
  });

  it('removes traceparent, tracestate and baggage, leaving every other byte as sent', () => {
    const text = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","arguments":{"n":12345678901234567890.0,"f":1.0,"s":"\\u00e9"},"_meta":{"progressToken":"p","traceparent":"${CLIENT}","tracestate":"v=1","baggage":"user.id=admin"}}}`;
    expect(forwarded(text)).toBe(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","arguments":{"n":12345678901234567890.0,"f":1.0,"s":"\\u00e9"},"_meta":{"progressToken":"p"}}}',
    );
  });

  it("puts the sidecar's own traceparent and tracestate in their place when it sends them upstream", () => {
    const text = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"${CLIENT}","baggage":"a=b"}}}`;
    const out = JSON.parse(forwarded(text, { traceparent: OWN, tracestate: 'mcp=1' }));
    expect(out.params._meta).toEqual({ traceparent: OWN, tracestate: 'mcp=1' });
    // Only where the client sent a trace context: a message without one is left alone.
    const plain = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":2}}}';
    expect(forwarded(plain, { traceparent: OWN })).toBe(plain);
  });

  it('matches the trace keys as Go matches struct fields, without case (ſ for s); _Meta is refused', () => {
    const text =
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"Baggage":"x=1","TRACEPARENT":"a","traceſtate":"s","k":1}}}';
    expect(forwarded(text)).toBe('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"k":1}}}');
    expect(JSON.parse(forwarded(text, { traceparent: OWN })).params._meta).toEqual({
      k: 1,
      traceparent: OWN,
    });
    // Go reads `_Meta` as `_meta` too: the parser refuses it, so it never reaches this rewrite.
    expect(() => forwarded(text.replace('_meta', '_Meta'))).toThrow('another spelling of _meta');
  });

  it('never sees a repeated key: the parser refuses the body, so no edit can land in a member no server reads', () => {
    for (const text of [
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{},"_meta":{"baggage":"user.id=admin"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1},"params":{"_meta":{"baggage":"a"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":null,"params":{"_meta":{"baggage":"a"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"a","traceparent":"b"}}}',
    ]) {
      expect(() => parseBody(Buffer.from(text)), text).toThrow(/an object repeats a key/);
    }
  });

  it('rewrites each message of a batch on its own, notifications included, responses untouched', () => {
    const text = `[{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1,"_meta":{"baggage":"a=b"}}},
      {"jsonrpc":"2.0","id":7,"method":"ping","params":{"_meta":{"traceparent":"${CLIENT}"}}},
      {"jsonrpc":"2.0","id":"s1","result":{"_meta":{"traceparent":"${CLIENT}"}}}]`;
    const out = JSON.parse(forwarded(text, { traceparent: OWN }));
    expect(out[0].params._meta).toEqual({ traceparent: OWN });
    expect(out[1].params._meta).toEqual({ traceparent: OWN });
    // A response's result is the client's answer to the server, not a trace context for a call.
    expect(out[2].result._meta).toEqual({ traceparent: CLIENT });
  });
});
