/**
 * The inputs of `test/integration/fuzz-requests.test.ts`: a table of hand-written malformed or unusual
 * requests by category, a seeded generator (mulberry32) that adds variations, and the oracle that says
 * which bodies are well-formed JSON-RPC the sidecar may forward.
 *
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';

/** `-`: must not reach the upstream; `+`: may (a well-formed, authenticated, allowed message). */
export type Want = '-' | '+' | 'control';
export type Header = [string, string | null];
export interface Case {
  cat: string;
  want: Want;
  body?: string | Buffer;
  method?: string;
  path?: string;
  /** Lines laid over the defaults (JSON content type, MCP accept, the user's bearer); null drops one. */
  headers?: Header[];
  chunks?: string[];
  /** Bytes the HTTP client cannot send; `framing`: Node's own 4xx or a close is an acceptable answer. */
  raw?: string;
  halfClose?: boolean;
  framing?: boolean;
  expectText?: string;
}
export type Answer = { status: number; headers: IncomingHttpHeaders; body: Buffer } | { error: string };

/**
 * Cases, a group per line: `category sign name: value ¦ value …`. Sign `-`: must not reach the upstream;
 * `+`: may; `h`: as `-`, our side half-closed after the raw bytes. Each value is one request whose header
 * `name` has that value (`∅`: not sent); ` | name: value` adds a line. Pseudo-headers: `:body` (default: a
 * valid `echo` call), `:method`, `:path`, `:raw` (bytes after a valid request head; `!`: the whole request).
 * Macros: `$I` a fresh id, `$V` `"jsonrpc":"2.0"`, `$E` an `echo` call's method and params, `$C` a whole
 * `echo` call, `$P` a `ping`, `$B` one `echo` call, `$L`/`$H` its length (decimal/hex); tokens: `$U` the
 * user's, `$F` its signature altered, `$Z` alg none, `$W` another payload, `$X` expired, `$A` another
 * audience, `$O0`–`$O2` odd subjects (NUL and U+2028, a lone surrogate, 5,000 characters).
 */
export const TABLE = String.raw`
invalid-json - :body: { ¦ [ ¦ {"jsonrpc": ¦ {'jsonrpc':'2.0','id':$I,$E} ¦ [] ¦ {} ¦ null ¦ true ¦ 42 ¦ "ping" ¦ /*c*/{$V,"id":$I,$E}
invalid-json - :body: {$V,"id":$I,$E,} ¦ {$V,"id":$I,$E}x ¦ {$V,"id":$I,$E}{$V,"id":$I,$E} ¦ {$V,"id":NaN,$E} ¦ {$V,"id":0x10,$E} ¦ {$V,"id":01,$E}
invalid-json - :body: {$V,"id":$I,"method":"\x"} ¦ {$V,"id":$I,"method":"ping","params":{"a":undefined}} ¦ {$V,"id":Infinity,$E} ¦ {$V,"id":$I,$E}]
jsonrpc-shape - :body: {"id":$I,$E} ¦ {"jsonrpc":"1.0","id":$I,$E} ¦ {"jsonrpc":"2","id":$I,$E} ¦ {"jsonrpc":2,"id":$I,$E} ¦ {"jsonrpc":2.0,"id":$I,$E}
jsonrpc-shape - :body: {"jsonrpc":null,"id":$I,$E} ¦ {"jsonrpc":"2.0 ","id":$I,$E} ¦ {"jsonrpc":["2.0"],"id":$I,$E} ¦ {"JSONRPC":"2.0","id":$I,$E}
jsonrpc-shape - :body: {$V,"id":{},$E} ¦ {$V,"id":[],$E} ¦ {$V,"id":true,$E} ¦ {$V,"id":false,$E} ¦ {$V,"id":null,$E} ¦ {$V,"id":{"$ne":1},$E} ¦ {$V,$E}
jsonrpc-shape - :body: {$V,"id":$I,"method":42} ¦ {$V,"id":$I,"method":null} ¦ {$V,"id":$I,"method":""} ¦ {$V,"id":$I,"method":["tools/call"]} ¦ {$V,"id":$I,"method":{}}
jsonrpc-shape - :body: {$V,"id":$I,"method":"tools/call","params":"name=echo"} ¦ {$V,"id":$I,"method":"tools/call","params":42} ¦ {$V,"id":$I,"method":"tools/call","params":true}
jsonrpc-shape - :body: {$V,"id":$I,"method":"tools/call","params":null} ¦ {$V,"id":$I,"method":"tools/call","params":""} ¦ {$V,"id":$I,"method":"tools/call","params":[]} ¦ {$V,"ID":$I,$E}
jsonrpc-shape - :body: {$V,"id":$I} ¦ {$V,"id":$I,"result":{},"error":{"code":1,"message":"x"}} ¦ {$V,"id":$I,"error":{"message":"x"}} ¦ {$V,"id":$I,"error":{"code":"1","message":"x"}}
jsonrpc-shape - :body: {$V,"id":$I,"error":{"code":1,"message":5}} ¦ {$V,"id":{},"result":{}} ¦ {$V,"method":"notifications/x","params":"p"} ¦ {"__proto__":{"jsonrpc":"2.0"},"id":$I,$E}
jsonrpc-shape - :body: {$V,"id":$I,"method":"tools/call","params":{"__proto__":{"name":"echo"},"arguments":{}}} ¦ {$V,"id":$I,"method":"tools/call","params":{"arguments":{}}}
jsonrpc-shape + :body: {$V,"id":$I,"result":{}} ¦ {$V,"id":"r-$I","error":{"code":-1,"message":"x"}} ¦ {$V,"method":"notifications/initialized"}
jsonrpc-shape - :body: {$V,"id":$I,$E,"extra":1} ¦ {$V,"id":$I,"method":"ping","params":[]} ¦ {$V,"id":$I,"result":{},"extra":1} ¦ {$V,"method":"notifications/initialized","params":[]}
numbers - :body: {$V,"id":1e400,$E} ¦ {$V,"id":-1e400,$E} ¦ {$V,"id":1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,$E}
numbers - :body: {$V,"id":1e400,"result":{}} ¦ {$V,"id":$I,"error":{"code":1e400,"message":"x"}} ¦ {$V,"id":$I,"error":{"code":1.5,"message":"x"}}
numbers + :body: {$V,"id":1e-400,$E} ¦ {$V,"id":-0,$E} ¦ {$V,"id":1E+2,$E} ¦ {$V,"id":-1,$E} ¦ {$V,"id":9007199254740991,$E}
numbers - :body: {$V,"id":18446744073709551616,$E} ¦ {$V,"id":9007199254740993,$E} ¦ {$V,"id":1.5,$E} ¦ {$V,"id":-9007199254740992,$E} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","n":9007199254740993}}}
numbers + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","n":1e400,"m":-0,"k":18446744073709551616,"j":-1e-400}}} ¦ {$V,"id":$I,"error":{"code":18446744073709551616,"message":"x"}}
strings + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\u0000"}}} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\t\n\r\b\f\/"}}}
strings + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\u2028\u2029\ufeff\uffff"}}} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\ud83d\ude00"}}}
strings - :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\ud800"}}} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\udc00\ud800\udfff"}}}
strings + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","arguments":{"text":"😀\\\""}}}
strings + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo\u0000","arguments":{"text":"x"}}}
strings - :body: {$V,"id":$I,"method":"tools/call","params":{"name":"\ud800","arguments":{"text":"x"}}}
strings - :body: {$V,"id":"\ud800\u0000","method":"ping"} ¦ {$V,"id":$I,"method":"ping","params":{"\u0000":1,"\ud800":2}} ¦ {$V,"id":$I,"method":"ping","params":{"\u0000":1}} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo","name\u0000":"run_sql","arguments":{"text":"x"}}}
strings + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo ","arguments":{}}}
strings - :body: {$V,"id":$I,"method":"tools/call\ud800","params":{"name":"echo"}} ¦ {$V,"id":$I,"method":"\u0000"} ¦ {$V,"id":$I,"method":"tools\u002fcall","params":{"name":"run_sql","arguments":{}}}
duplicate-keys - :body: {$V,"id":$I,"method":"tools/call","params":{"name":"echo","name":"run_sql","arguments":{}}} ¦ {$V,"id":$I,"method":"ping","method":"tools/call","params":{"name":"run_sql"}}
duplicate-keys - :body: {$V,"jsonrpc":"1.0","id":$I,$E} ¦ {$V,"id":$I,"id":{},$E} ¦ {$V,"id":$I,"method":"tools/call","params":{"name":"echo"},"params":{"name":"delete_customer","arguments":{"id":"c-1"}}}
duplicate-keys + :body: {$V,"id":$I,"method":"tools/call","params":{"name":"run_sql","name":"echo","arguments":{"text":"x"}}} ¦ {"jsonrpc":"1.0",$V,"id":$I,$E} ¦ {$V,"id":$I,"id":$I,$E}
batch - :body: [1] ¦ [null] ¦ ["ping"] ¦ [[{$V,"id":$I,$E}]] ¦ [{$V,"id":$I,$E},{$V,"id":$I,"method":"tools/call","params":{"name":"run_sql","arguments":{"query":"drop"}}}]
batch - :body: [{$V,"id":$I,$E},{$V,"id":$I,"method":"tools/call","params":{"name":"delete_customer","arguments":{"tenant":"acme","id":"c-1"}}}] ¦ [{$V,"id":7,$E},{$V,"id":"7","method":"ping"}]
batch - :body: [{$V,"id":$I,$E},{$V,$E}] ¦ [{$V,"id":$I,$E},{"jsonrpc":"1.0","id":$I,"method":"ping"}] ¦ [{$V,"id":$I,$E},{}] ¦ [{$V,"id":$I,"method":"tools/list"},[]]
batch + :body: [{$V,"id":$I,$E},{$V,"id":$I,"method":"ping"},{$V,"method":"notifications/initialized"}] ¦ [{$V,"id":"r1","result":{}},{$V,"method":"notifications/cancelled","params":{}}]
content-type - content-type: text/plain ¦  ¦ ∅ ¦ application/x-www-form-urlencoded ¦ multipart/form-data; boundary=x ¦ application/json; charset=utf-16 ¦ application/json; charset=utf-7
content-type - content-type: application/json; charset=iso-8859-1 ¦ application/json; charset= ¦ application/json; charset="utf-16le" ¦ application/json; charset=utf-8; charset=utf-7
content-type - content-type: application/jsonp ¦ application/json-seq ¦ text/json ¦ application/* ¦ */* ¦ application/json, text/plain ¦ text/plain | content-type: application/json
content-type + content-type: application/json; charset=utf-8 ¦ application/json;charset=UTF-8 ¦ Application/JSON ¦ application/json; charset="utf-8" ¦ application/json; foo=bar ¦ application/json; charset=utf8
content-type - content-encoding: gzip ¦ br ¦ deflate ¦ x-gzip ¦ gzip, identity ¦ identity, gzip ¦ identity | content-encoding: gzip
content-type + content-encoding: identity ¦ IDENTITY
accept + accept: ∅ ¦ text/html ¦ application/json ¦ text/event-stream ¦ */* ¦ application/json;q=0, text/event-stream;q=0
mcp-headers - mcp-method: tools/list ¦ TOOLS/CALL ¦  ¦ tools/call | mcp-name: delete_customer ¦ tools/call | mcp-method: ping
mcp-headers - mcp-name: run_sql ¦ =?base64?cnVuX3NxbA==?= ¦ =?base64?!!?= ¦ echo | mcp-name: run_sql ¦ ECHO ¦ echo | mcp-protocol-version: 2025-06-18 | mcp-method: tools/list
mcp-headers + mcp-method: tools/call ¦ tools/call | mcp-name: echo
mcp-headers + mcp-name: echo ¦ =?base64?ZWNobw==?= ¦  echo
mcp-headers - mcp-protocol-version: 1999-01-01 ¦ 2025-06-18x ¦ latest ¦  ¦ 2025-13-45 ¦ 2025-06-18 | mcp-protocol-version: 2025-03-26 ¦ 2025-06-18,2025-03-26
mcp-headers + mcp-protocol-version: 2024-11-05 ¦ 2026-07-28 ¦ 2025-06-18
mcp-headers - mcp-session-id: a3f1c2d4-0000-4000-8000-000000000000 ¦ ../../etc ¦ $U
authorization - authorization: ∅ ¦ Bearer ¦ Bearer  ¦ Basic dXNlcjpwYXNz ¦ Digest x ¦ Token $U ¦ Bearer $U x ¦ Bearer $U, Bearer $U ¦ Bearer tök ¦ Bearer eyJ.eyJ. ¦ Bearer a.b.c
authorization - authorization: Bearer $F ¦ Bearer $Z ¦ Bearer $W ¦ Bearer $Ux ¦ Bearer $X ¦ Bearer $A ¦ Bearer mcpk_fake_secret ¦ Bearer mcpk_ ¦ bearer $F ¦ Bearer $U | x-api-key: mcpk_abc_def
authorization - authorization: Bearer $F | authorization: Bearer $U ¦ Bearer $U | authorization: Bearer $F ¦ Bearer $U | authorization: Basic dXNlcjpwYXNz ¦ ∅ | x-api-key: garbage ¦ ∅ | x-api-key: mcpk_abc_def
authorization + authorization: bearer $U ¦ BEARER $U ¦ Bearer	$U ¦ Bearer $U | authorization: Bearer $U ¦ Bearer $O0 ¦ Bearer $O1 ¦ Bearer $O2
batch - mcp-protocol-version: 2025-06-18 | :body: [$C,$P] ¦ 2025-11-25 | :body: [$C,$P] ¦ 2026-07-28 | :body: [$C,$P] ¦ 2025-03-26 | mcp-method: tools/call | :body: [$C]
batch + mcp-protocol-version: 2025-03-26 | :body: [$C,$P] ¦ 2024-11-05 | :body: [$C,$P,$P]
http-method - :method: PUT ¦ PATCH ¦ OPTIONS ¦ PROPFIND ¦ SEARCH ¦ LOCK ¦ PURGE ¦ MKCOL ¦ HEAD | :body: ∅ ¦ TRACE | :body: ∅ ¦ GET | :body: ∅ | authorization: ∅ ¦ DELETE | :body: ∅ | authorization: ∅
http-method - :method: DELETE | :body: ∅ | mcp-session-id: ffffffffffffffffffffffffffffffff
http-method + :method: GET | :body: ∅ | accept: text/event-stream ¦ DELETE | :body: ∅
http-method - :path: /mcp?access_token=$U ¦ /mcp?t=$U ¦ /mcp?k=mcpk_abc_def ¦ /mcp?$U ¦ /mcp?a=1&access_token=x
http-method + :path: /mcp?a=1&b&c=%zz ¦ /mcp?
framing - :raw: Content-Length: 10\r\n\r\n$B ¦ Content-Length: abc\r\n\r\n$B ¦ Content-Length: -1\r\n\r\n$B ¦ Content-Length: 2\r\n\r\n{}
framing - :raw: Content-Length: $L\r\nContent-Length: 5\r\n\r\n$B ¦ Content-Length: $L\r\nTransfer-Encoding: chunked\r\n\r\n$B
framing - :raw: Transfer-Encoding: chunked\r\n\r\nzz\r\n$B\r\n0\r\n\r\n ¦ Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n
framing - :raw: X-Bad\r\n\r\n$B ¦ X-Fold: a\r\n b\r\n\r\n$B ¦ X-Nul: a\0b\r\n\r\n$B ¦ !FOO /mcp HTTP/1.1\r\nHost: fuzz\r\n\r\n ¦ !POST /mcp HTTP/9.9\r\n\r\n
framing h :raw: Content-Length: 9999\r\n\r\n$B ¦ Transfer-Encoding: chunked\r\n\r\nfff\r\n$B\r\n0\r\n\r\n
framing + :raw: Transfer-Encoding: chunked\r\n\r\n$H;ext=1\r\n$B\r\n0\r\nX-Trailer: t\r\n\r\n ¦ Content-Length: $L\r\n\r\n$B
`;

export const CATEGORIES =
  `invalid-json non-utf8 deep-nesting numbers strings jsonrpc-shape batch duplicate-keys unknown-method
  tool-name content-type accept oversized framing http-method mcp-headers authorization mutation`.split(
    /\s+/,
  );
/** Tools the `user` role may not run: a forwarded call of one is a violation, however it was spelled. */
export const DENIED_TOOLS = new Set(['run_sql', 'delete_customer']);
export const ALLOWED_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'prompts/list',
  'resources/list',
]);
export const MAX_BODY = 1_048_576;
export const J = JSON.stringify;
export const line = (l: string): [string, string] => [
  l.slice(0, l.indexOf(':', 1)),
  l.slice(l.indexOf(':', 1) + 2),
];

export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generate(tokens: Record<string, string>): Case[] {
  const rnd = mulberry32(0x5eed2026);
  const int = (n: number) => Math.floor(rnd() * n);
  let seq = 0;
  const V = '"jsonrpc":"2.0"';
  const E = '"method":"tools/call","params":{"name":"echo","arguments":{"text":"fuzz"}}';
  const echo = (text = 'fuzz') => `{${V},"id":${++seq},${E.replace('"fuzz"', J(text))}}`;
  const call = (name: string, rest = '"arguments":{}') =>
    `{${V},"id":${++seq},"method":"tools/call","params":{"name":${name},${rest}}}`;
  const ping = () => `{${V},"id":${++seq},"method":"ping"}`;
  const e = echo();
  const macros: Record<string, () => string> = { I: () => String(++seq), V: () => V, E: () => E, B: () => e };
  Object.assign(macros, { C: echo, P: ping, L: () => String(e.length), H: () => e.length.toString(16) });
  const expand = (s: string) => s.replace(/\$([A-Z]\d?)/g, (m, k: string) => macros[k]?.() ?? tokens[k] ?? m);
  const head = `POST /mcp HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer ${tokens.U}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\n`;
  const out: Case[] = [];
  const add = (cat: string, want: Want, body?: string | Buffer, extra: Partial<Case> = {}) =>
    out.push({ cat, want, body, ...extra });
  for (const group of TABLE.trim().split('\n')) {
    const [, cat = '', sign = '', name = '', values = ''] =
      /^(\S+) ([-+h]) ([:\w-]+): (.*)$/.exec(group) ?? [];
    for (const value of values.split(' ¦ ')) {
      const c: Case = { cat, want: sign === '+' ? '+' : '-', headers: [] };
      let body: string | undefined = echo();
      for (const l of `${name}: ${value}`.split(' | ')) {
        const [n, x] = line(l);
        const v = x === '∅' ? undefined : expand(x);
        if (n === ':body') body = v;
        else if (n === ':method' || n === ':path') c[n === ':path' ? 'path' : 'method'] = v;
        else if (n !== ':raw') c.headers?.push([n, v ?? null]);
        else {
          const raw = (v ?? '').replaceAll('\\r\\n', '\r\n').replaceAll('\\0', '\0');
          Object.assign(c, { raw: raw[0] === '!' ? raw.slice(1) : head + raw, framing: sign !== '+' });
          c.halfClose = sign === 'h';
        }
      }
      out.push({ ...c, body });
    }
  }

  // Inputs a table line cannot hold: empty bodies, control and non-UTF-8 bytes, nesting, size.
  const bytes = (s: string, hex: string) =>
    Buffer.from(s.replace('§', Buffer.from(hex, 'hex').toString('latin1')), 'latin1');
  for (const b of ['', ' ', '\n\t', `{${V},"id":1,"method":"p\n"}`, `{${V},"id":1,"method":"p\u0001"}`])
    add('invalid-json', '-', b);
  for (let i = 0; i < 14; i++) add('invalid-json', '-', echo().slice(0, 1 + int(40)));
  for (const hex of 'ff fe c0af eda080 80 e282 f4908080 f8888080'.split(' '))
    add('non-utf8', '-', bytes(echo('a§b'), hex));
  for (const n of 'ec§ho delete_§customer run§_sql'.split(' '))
    add('non-utf8', '-', bytes(call(`"${n}"`), 'ff'));
  for (const b of [Buffer.from(echo('café'), 'latin1'), Buffer.from(e, 'utf16le'), bytes(`§${e}`, 'efbbbf')])
    add('non-utf8', '-', b);
  add('non-utf8', '-', Buffer.concat([Buffer.from('fffe', 'hex'), Buffer.from(echo(), 'utf16le')]));
  add('non-utf8', '+', echo('naïve ✓ 𝄞 \u2028'));
  const deep = (d: number, open: string, close: string) => `${open.repeat(d)}1${close.repeat(d)}`;
  for (const d of [10, 1_000, 10_000]) {
    const [arr, obj] = [deep(d, '[', ']'), deep(d, '{"a":', '}')];
    for (const b of [arr, obj, `{${V},"id":${obj},${E}}`]) add('deep-nesting', '-', b);
    // Past MAX_JSON_DEPTH (128) levels a body is refused.
    const sign = d < 100 ? '+' : '-';
    add('deep-nesting', sign, call('"echo"', `"arguments":{"text":"x","deep":${arr}}`));
    add('deep-nesting', sign, `{${V},"id":${++seq},"method":"ping","params":{"deep":${obj}}}`);
  }
  add('deep-nesting', '-', deep(100_000, '[', ']'));
  const invalid = `42|null|[]|{"id":1}|{${V},"method":"tools/call"}|{"jsonrpc":"1.0","id":1,"method":"ping"}`;
  for (let i = 0; i < 10; i++) {
    const msgs = Array.from({ length: 1 + int(5) }, () => (rnd() < 0.5 ? echo() : ping()));
    msgs.splice(int(msgs.length + 1), 0, invalid.split('|')[int(6)] ?? '0');
    add('batch', '-', `[${msgs.join(',')}]`);
  }
  add('batch', '-', `[${Array.from({ length: 101 }, ping).join(',')}]`);
  add('batch', '+', `[${Array.from({ length: 100 }, ping).join(',')}]`);
  const methods = `tools/execute|tools/call/|Tools/Call|tools//call|rpc.discover|$/cancelRequest|roots/list|sampling/createMessage|elicitation/create|admin/shutdown|__proto__|constructor|toString|tools/*|**|../tools/call|tools/call | tools/call`;
  const random = Array.from({ length: 6 }, () => `x/${'abz/._-*'.repeat(3).slice(int(8), 9 + int(12))}`);
  for (const m of [...methods.split('|'), ...random])
    add('unknown-method', '-', e.replace('"tools/call"', J(m)));
  const names = '7|-1|[]|["echo"]|{}|{"name":"echo"}|null|true|""|"run_sql"|"delete_customer"|"delete_"';
  for (const n of names.split('|'))
    add('tool-name', '-', call(n, '"arguments":{"tenant":"acme","id":"c-1"}'));
  const odd = `../x|../../etc/passwd|echo/../run_sql|ECHO|Echo|echo | echo|еcho|*|**|delete_*|run_sql\0|%72un_sql`;
  for (const n of [...odd.split('|'), 'x'.repeat(10_240)]) add('tool-name', '+', call(J(n)));
  for (const a of '"text"|[]|null|5|{"text":5}|{"text":"x","extra":{"deep":[1,2]}}'.split('|'))
    add('tool-name', '+', call('"echo"', `"arguments":${a}`));
  add('content-type', '-', gzipSync(echo()), { headers: [['content-encoding', 'gzip']] });
  add('accept', '+', echo(), { headers: [['accept', 'a'.repeat(8_000)]] });
  add('framing', '-', echo(), { headers: [['x-junk', 'j'.repeat(20_000)]], framing: true });
  add('framing', '+', undefined, { chunks: [e.slice(0, 5), e.slice(5, 40), e.slice(40)] });
  const sized = (n: number) => echo('§').replace('§', 'x'.repeat(n - echo('').length));
  for (const b of [sized(MAX_BODY + 1), sized(4 * MAX_BODY), ' '.repeat(MAX_BODY) + e])
    add('oversized', '-', b);
  add('oversized', '-', undefined, {
    chunks: ['{"jsonrpc":"2.0","pad":"', ...Array(9).fill('y'.repeat(131_072))],
  });
  add('oversized', '+', sized(MAX_BODY));

  // Random edits of a valid call (delete, insert a JSON-significant or random byte, copy a slice).
  const palette = '{}[]":,\\0-e \u0000\u00ff\u2028';
  for (let i = 0; i < 60; i++) {
    let b = Buffer.from(echo());
    for (let k = 1 + int(3); k > 0; k--) {
      const [op, at, from] = [int(4), int(b.length), int(b.length)];
      const ins = [[], [...Buffer.from(palette[int(15)] ?? '')], [int(256)], [...b.subarray(from, from + 8)]];
      b = Buffer.concat([b.subarray(0, at), Buffer.from(ins[op] ?? []), b.subarray(at + (op % 2 ? 0 : 1))]);
    }
    add('mutation', oracle(b), b);
  }
  return out;
}

/** Whether a mutated body may reach the upstream: only a well-formed, allowed JSON-RPC message in UTF-8. */
export function oracle(b: Buffer): Want {
  let o: Record<string, unknown>;
  try {
    o = Object(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b)));
  } catch {
    return '-';
  }
  const [method, params] = [o.method, o.params as Record<string, unknown> | null | undefined];
  if (Array.isArray(o) || o.jsonrpc !== '2.0') return '-';
  if (!('method' in o)) return '+';
  if (typeof method !== 'string' || !method || params === null || !/^(object|undefined)$/.test(typeof params))
    return '-';
  if (!('id' in o)) return method.startsWith('notifications/') ? '+' : '-';
  if (typeof o.id !== 'string' && !(typeof o.id === 'number' && Number.isFinite(o.id))) return '-';
  if (method !== 'tools/call')
    return ALLOWED_METHODS.has(method) || method.startsWith('notifications/') ? '+' : '-';
  return typeof params?.name === 'string' && params.name !== '' && !DENIED_TOOLS.has(params.name) ? '+' : '-';
}

/** Bytes as text, every byte outside printable ASCII as `\xNN`, cut after `max` bytes. */
export function show(b: string | Buffer, max = 160): string {
  const buf = Buffer.from(b);
  const esc = (x: number) =>
    x > 31 && x < 127 && x !== 92 ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, '0')}`;
  const more = buf.length > max ? `…(+${buf.length - max} bytes)` : '';
  return [...buf.subarray(0, max)].map(esc).join('') + more;
}
