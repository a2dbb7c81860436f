/**
 * HTTP credentials written with their scheme (src/audit/scheme-credentials.ts), as the value scrub
 * (`scrubSecretValue`) applies them: a token a person picked where a value stands, prose kept; linear time on
 * hostile text. The base rules (a token68 that looks like one) are tested with the other shapes in
 * secret-values.test.ts.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { scrubSecretValue } from '../../../src/audit/secret-values.js';
import { expectLinearTime, fill } from '../../helpers/linear-time.js';

describe('a picked bearer token where a value stands', () => {
  it.each([
    ['Bearer changeme', '[redacted]'],
    ['  bearer changeme. ', '[redacted]'],
    ['Bearer test', '[redacted]'],
    ['auth: Bearer changeme', 'auth: Bearer [redacted]'],
    ['auth: Bearer changeme\nnext: x', 'auth: Bearer [redacted]\nnext: x'],
    ['auth: Bearer changeme user: bob', 'auth: Bearer [redacted] user: bob'],
    ['auth: bearer dev1', 'auth: bearer [redacted]'],
    ['{"auth":"Bearer changeme"}', '{"auth":"Bearer [redacted]"}'],
    ['{\\"auth\\":\\"Bearer changeme\\"}', '{\\"auth\\":\\"Bearer [redacted]\\"}'],
    ['AUTH=bearer test; next', 'AUTH=bearer [redacted]; next'],
    ["curl -H 'Bearer changeme' h", "curl -H 'Bearer [redacted]' h"],
    ['"headers":"x\\nBearer changeme\\n"', '"headers":"x\\nBearer [redacted]\\n"'],
    ['[Bearer letmein, other]', '[Bearer [redacted], other]'],
  ])('replaces the token in %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps prose: running text, a word prose puts after the scheme, a title, a short word, Basic', () => {
    for (const text of [
      'Bearer token required',
      'Bearer tokens',
      '"Bearer Token"',
      'type: bearer',
      'auth: bearer authentication',
      '{"description":"Bearer auth only"}',
      'sent as bearer changeme to x',
      'Bearer changeme please',
      'The bearer of this letter is trusted.',
      'Bearer of bad news',
      'BEARER SUBSCRIPTION',
      '(bearer bonds)',
      'Bearer dev',
      'plan: Basic plan',
      '"Basic changeme"',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe('the scheme in any case (RFC 9110: case-insensitive)', () => {
  it.each([
    ['x BeArEr abcdEFG123 y', 'x BeArEr [redacted] y'],
    ['auth: BaSiC YWxpY2U6c2VjcmV0', 'auth: BaSiC [redacted]'],
    ['auth: BeArEr changeme', 'auth: BeArEr [redacted]'],
    ['bEaReR abc-def-ghi', '[redacted]'],
    ['BaSiC alice:s3cret', 'BaSiC alice:[redacted]'],
  ])('replaces the credential in %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });
});

describe('a credential URL-encoded or quoted after the scheme', () => {
  it.each([
    ['q=a%20Bearer%20abcdEFG123&x=1', 'q=a%20Bearer%20[redacted]&x=1'],
    ['u?auth=Bearer%20abc%2Fdef%3D%3D&x', 'u?auth=Bearer%20[redacted]&x'],
    ['auth=Bearer%20changeme&x=1', 'auth=Bearer%20[redacted]&x=1'],
    ['h=%20Bearer%20changeme%20', 'h=%20Bearer%20[redacted]%20'],
    // Form-encoded, as URLSearchParams writes a space: `+`.
    ['u?auth=Bearer+abc123XYZdef456&x=1', 'u?auth=Bearer+[redacted]&x=1'],
    ['u?auth=Bearer+abc%2B123XYZ%3D&x', 'u?auth=Bearer+[redacted]&x'],
    ['auth=Bearer+changeme&x=1', 'auth=Bearer+[redacted]&x=1'],
    ['h=Authorization%3A+Basic+YWxpY2U6c2VjcmV0', 'h=Authorization%3A+Basic+[redacted]'],
    ['Authorization: Bearer "abcDEF123"', 'Authorization: Bearer "[redacted]"'],
    ['Authorization: Bearer "abc"', 'Authorization: Bearer "[redacted]"'],
    ['{"h":"Authorization: Bearer \\"abc\\""}', '{"h":"Authorization: Bearer \\"[redacted]\\""}'],
    ['auth: Bearer "changeme"', 'auth: Bearer "[redacted]"'],
    ['sent Bearer "abcDEF123" on', 'sent Bearer "[redacted]" on'],
  ])('replaces the credential in %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps prose: a quoted word after the scheme, a URL-encoded sentence', () => {
    for (const text of [
      'the bearer "tokens" here',
      'q=the%20bearer%20of%20this%20letter',
      'Basic "plan"',
      'q=the+bearer+of+this+letter',
      'q=sent+as+bearer+changeme+to+x',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe("a challenge's parameters after the scheme", () => {
  it('keeps them: a name, `=` and a value are no token68', () => {
    for (const text of [
      'WWW-Authenticate: Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"',
      'www-authenticate: Bearer realm="mcp", error="invalid_token", error_description="expired"',
      'token_type=bearer max_tokens=5',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('still replaces a token68 that ends in padding', () => {
    expect(scrubSecretValue('{"auth":"Bearer dGVzdDEyMw="}')).toBe('{"auth":"Bearer [redacted]"}');
    expect(scrubSecretValue('sent Basic YWxpY2U6c2VjcmV0= then')).toBe('sent Basic [redacted] then');
  });
});

describe('Basic with user information written raw', () => {
  it.each([
    ['Basic alice:secret', 'Basic alice:[redacted]'],
    ['use Basic alice@example.com:s3cr3t now.', 'use Basic alice@example.com:[redacted] now.'],
    ['Authorization: Basic alice:secret', 'Authorization: Basic [redacted]'],
    ['{"auth":"basic  svc:p@ss:w0rd"}', '{"auth":"basic  svc:[redacted]"}'],
    ['sent:\nBasic bob:hunter2.', 'sent:\nBasic bob:[redacted].'],
    // Where a value stands, the password runs to the value's end, spaces included.
    ['Basic alice:s3cret words', 'Basic alice:[redacted]'],
    ['Basic admin:Admin', 'Basic admin:[redacted]'],
    ['Basic guest:guest now', 'Basic guest:[redacted]'],
    ['  Basic alice:P@ss', '  Basic alice:[redacted]'],
    // A string that is only `Basic user:word`: a credential's shape, whatever the word.
    ['Basic alice:bluebird', 'Basic alice:[redacted]'],
    [' Basic setup:done \n', ' Basic setup:[redacted] \n'],
    ['Basic alice:bluebird.', 'Basic alice:[redacted].'],
    ['auth: Basic alice:two words\nnext: x', 'auth: Basic alice:[redacted]\nnext: x'],
    ['{"auth":"Basic alice:two words "}', '{"auth":"Basic alice:[redacted] "}'],
    ['{\\"auth\\":\\"Basic alice:two words\\"}', '{\\"auth\\":\\"Basic alice:[redacted]\\"}'],
    ['Authorization: Basic alice:two words', 'Authorization: Basic [redacted]'],
    // A string of one line that is only `Basic user:…`: a value, whatever follows the `:`, to its end.
    ['Basic alice:two words', 'Basic alice:[redacted]'],
    ['Basic setup:done in 2s', 'Basic setup:[redacted]'],
    ['  Basic alice:a,b "c" d.', '  Basic alice:[redacted].'],
    // In running text, a password that looks like one, up to a space.
    ['ran Basic deploy:s3cr3t in 2s', 'ran Basic deploy:[redacted] in 2s'],
    // A quoted password: a value anywhere, whole, to its closing quote (escaped as the opening one) or the line's end.
    ['Basic alice:"p w"', 'Basic alice:[redacted]'],
    ["auth: Basic alice:'p w', user: bob", 'auth: Basic alice:[redacted], user: bob'],
    ['{"auth":"Basic alice:\\"p w\\""}', '{"auth":"Basic alice:[redacted]"}'],
    ['ran Basic alice:"p w" ok', 'ran Basic alice:[redacted] ok'],
    ['Basic alice:"p w\r\nnext', 'Basic alice:[redacted]\r\nnext'],
    // A quote escaped inside it (`"p\"w"`, `\"p\\\"w\"` in JSON text) is part of it, an escaped backslash not.
    ['Basic alice:"p\\"w x" y', 'Basic alice:[redacted] y'],
    ['{"auth":"Basic alice:\\"p\\\\\\"w x\\" y"}', '{"auth":"Basic alice:[redacted] y"}'],
    ["Basic alice:'p\\'w x' y", 'Basic alice:[redacted] y'],
    ['Basic alice:"p\\\\" y', 'Basic alice:[redacted] y'],
  ])('replaces the password in %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps a time or ratio, a URL, a colon that opens prose, and words in running text', () => {
    for (const text of [
      'Basic 10:30 schedule',
      'Basic https://docs.example/auth',
      'Basic auth: use it',
      'basic: yes',
      // Running text: a password that looks like a word is prose.
      'ran Basic setup:done in 2s',
      'the Basic setup:done step',
      // A string of more lines that starts with it is judged as running text is: a label as often as a value.
      'Basic setup:done in 2s\nnext step',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe('cost on hostile text', () => {
  // Each candidate looks at most 16 spaces and one field name around it: 0.2 to 2 times benign text's time.
  it.each([
    ': bearer abcd ',
    '"bearer abcd"',
    'bearer ',
    `:${' '.repeat(40)}bearer abcd${' '.repeat(40)}`,
    ` bearer abcd ${'x'.repeat(70)}`,
    ' bearer abcd x:',
    'basic a:',
    'basic a',
    'basic basic:',
    `basic ${'a'.repeat(64)}`,
    'bearer%20%20',
    ': bearer%20"abcd%20',
    'bearer %2F',
    `bearer%20${'%2B'.repeat(30)}`,
    'bearer+',
    ': bearer+abcd+',
    `=bearer+${'+a'.repeat(30)}`,
    ': basic a:b ',
    'x basic a:....',
    `x basic a:b${' '.repeat(40)}`,
    `"basic a:${'. '.repeat(40)}`,
    // A string that starts with `Basic user:` is read to its end once, on one line or more.
    'Basic a:b basic c:d ',
    'Basic a:b\n basic c:d\n',
    // A quoted password is read once, to its closing quote or its line's end.
    'x basic a:"b ',
    "x basic a:'b\n",
    'x basic a:\\"b"',
    // Each quote's backslashes read back once, at most 127.
    `x basic a:"${'\\'.repeat(200)}"`,
    'x basic a:\\"b\\\\\\"',
  ])('scrubs 1 MiB of %j in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, fill(unit, 1 << 20));
  });
});
