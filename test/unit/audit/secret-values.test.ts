/**
 * Secrets found by their value (src/audit/secret-values.ts) and where the audit walk applies them
 * (src/audit/mask.ts): each shape replaced, what only looks like one left alone, header pairs and
 * `{name, value}` entries naming a credential, and a secret near the cut of a long string.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { newRequestBudget } from '../../../src/audit/argument-budget.js';
import { auditArguments, MAX_PLAIN_STRING, REDACTED, SCRUB_WINDOW } from '../../../src/audit/mask.js';
import { MIN_SECRET_CHARS, scrubSecretValue } from '../../../src/audit/secret-values.js';
import { generateApiKey } from '../../../src/authn/api-key-format.js';
import { BENIGN_UNIT, expectCostLike, expectLinearTime, fill } from '../../helpers/linear-time.js';

const KEY = Buffer.alloc(32, 3);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** A JWS with a real header and payload (HS256-shaped signature). */
const JWT = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'u-42', exp: 2_000_000_000 })}.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U`;
const UNSECURED_JWT = `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`;
/** A JWE (five segments) whose header has whitespace (`{ "alg"` → `eyAi`). */
const JWE = `${Buffer.from('{ "alg": "RSA-OAEP", "enc": "A256GCM" }').toString('base64url')}.a2V5.aXY.Y2lwaGVy.dGFn`;
const API_KEY = generateApiKey('mcpk').key;
const OTHER_PREFIX_KEY = generateApiKey('acme2').key;

describe('scrubSecretValue', () => {
  it.each([
    ['postgres://app:s3cret@db/x', 'postgres://app:[redacted]@db/x'],
    ['redis://:hunter2@cache:6379/0', 'redis://:[redacted]@cache:6379/0'],
    [
      'dsn: mysql://u:p@ss@h/db, then https://k:v@x.example',
      'dsn: mysql://u:[redacted]@h/db, then https://k:[redacted]@x.example',
    ],
    [
      'https://app.example/cb?x=1&access_token=S3KRET-1',
      'https://app.example/cb?x=1&access_token=[redacted]',
    ],
    ['Bearer abc.def-ghi', REDACTED],
    ['  bearer tok_123  ', REDACTED],
    ['Basic dXNlcjpwYXNz', REDACTED],
    ['BEARER XYZ123==', REDACTED],
    ['Authorization: Bearer s3cr3t-0123456789, then go', 'Authorization: Bearer [redacted], then go'],
    ['use Basic YWxhZGRpbjpvcGVuc2VzYW1l.', 'use Basic [redacted].'],
    // After a credential header's name the value is one, whatever it looks like.
    ['send Authorization: Bearer x please', 'send Authorization: Bearer [redacted] please'],
    ['authorization:\tbearer opaquelowercase', 'authorization:\tbearer [redacted]'],
    ['Authorization: opaque-value, next', 'Authorization: [redacted], next'],
    ['{"headers":{"Authorization":"Bearer opaque"}}', '{"headers":{"Authorization":"Bearer [redacted]"}}'],
    ['{\\"authorization\\":\\"Token opaque\\"}', '{\\"authorization\\":\\"Token [redacted]\\"}'],
    [
      'curl -H "PROXY-AUTHORIZATION: Basic dXNlcjpw" -H "X-Api-Key: k-opaque" h',
      'curl -H "PROXY-AUTHORIZATION: Basic [redacted]" -H "X-Api-Key: [redacted]" h',
    ],
    [JWT, REDACTED],
    [UNSECURED_JWT, REDACTED],
    [JWE, REDACTED],
    [`token=${JWT}; next`, `token=${REDACTED}; next`],
    [API_KEY, REDACTED],
    [`key ${OTHER_PREFIX_KEY} for acme`, `key ${REDACTED} for acme`],
  ])('replaces the secret in %s', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('finds a secret right after an escape of text that holds JSON or a URL, as after a space', () => {
    // The character before it is the escape's (`\n`, `\u0020`, `%0A`), not a word's.
    expect(scrubSecretValue(`{"log":"token:\\n${JWT}"}`)).toBe(`{"log":"token:\\n${REDACTED}"}`);
    expect(scrubSecretValue('"GET / HTTP/1.1\\r\\nAuthorization: Bearer opaque\\r\\n"')).toBe(
      '"GET / HTTP/1.1\\r\\nAuthorization: Bearer [redacted]\\r\\n"',
    );
    expect(scrubSecretValue('"sent:\\nBearer Zm9vOmJhcjEyMzQ1Ng=="')).toBe('"sent:\\nBearer [redacted]"');
    expect(scrubSecretValue('q=1%0AX-Api-Key:%20opaque')).toBe('q=1%0AX-Api-Key:[redacted]');
    // This sidecar's API key too, whatever the escape's last character (a capital or digit of `%0A`, `%20`).
    for (const esc of ['%0A', '%0a', '%20', '\\u000A', '\\t']) {
      expect(scrubSecretValue(`q=1${esc}${API_KEY}`), esc).toBe(`q=1${esc}${REDACTED}`);
    }
    // An escape is no licence to split a word: `ey` inside one still starts no JWT.
    expect(scrubSecretValue(`key${JWT}`)).toBe(`key${JWT}`);
  });

  it('keeps the user and host of a URL, and a user without a password', () => {
    expect(
      scrubSecretValue(`x ${JWT.length} postgres://report:pw@db.internal:5432/sales?sslmode=require`),
    ).toContain('postgres://report:[redacted]@db.internal:5432/sales?sslmode=require');
    expect(scrubSecretValue('ssh://git@github.com/org/repo')).toBe('ssh://git@github.com/org/repo');
  });

  it('leaves alone what only looks like a secret', () => {
    for (const text of [
      'https://example.com/a/b?page=2&q=tokens#top',
      'https://host.example:8443/path',
      'mailto:alice@example.com',
      'The bearer of this letter is trusted.',
      'authorization failed for user 42 (the authorization server said no)',
      'an authorization_code grant, x-api-keys-count: 3',
      'Basic authentication is enough for well-known steps. Bearer tokens are not.',
      // Base64 that is no JWT: no dots; dots but a first segment that is no JSON object; a JSON array.
      'SGVsbG8gd29ybGQhIHRoaXMgaXMgYmFzZTY0',
      `${b64({ alg: 'HS256' })}`,
      'aGVsbG8.d29ybGQ.Zm9v',
      `${b64(['not', 'an', 'object'])}.${b64({})}.c2ln`,
      // A JSON object naming no `alg` is no JOSE header (a pagination cursor, say).
      `${b64({ page: 2 })}.${b64({})}.c2ln`,
      'eyes.example.com and www.example.org',
      // An API key's shape with a secret one character short.
      `mcpk_abcdefghijkl_${'A'.repeat(42)}`,
      'mcpk_abcdefghijkl',
    ]) {
      expect(scrubSecretValue(text)).toBe(text);
    }
  });

  it('keeps a string that is Bearer or Basic and a word: prose, not a header value', () => {
    for (const text of [
      'Basic plan',
      'BASIC PLAN',
      'Basic authentication',
      'Bearer tokens',
      'Bearer of bad news',
      ' basic Subscription ',
      'BEARER SUBSCRIPTION',
      'Basic 101',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
    // A token68 that is no word is one, short or lower case (a header value on its own).
    for (const text of ['Bearer dev-token', 'basic YTpiYzEy', 'Bearer abc_12', `Bearer ${JWT}`]) {
      expect(scrubSecretValue(text), text).toBe(REDACTED);
    }
  });

  it('returns short strings at once: none of the shapes fits', () => {
    expect(MIN_SECRET_CHARS).toBe('Bearer x'.length);
    expect(scrubSecretValue('Bearer')).toBe('Bearer');
    expect(scrubSecretValue('a://b:c')).toBe('a://b:c');
  });
});

describe('JWK private members', () => {
  const RSA = { kty: 'RSA', kid: 'k1', n: 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri', e: 'AQAB' };
  const PRIVATE = {
    d: 'SECRETd-4Z',
    p: 'SECRETp_9Q',
    q: 'SECRETq',
    dp: 'SECRETdp',
    dq: 'SECRETdq',
    qi: 'SECRETqi',
  };

  it('replaces their values in JSON text that names a kty, escaped too; public members stay', () => {
    const json = JSON.stringify({ ...RSA, ...PRIVATE });
    const out = scrubSecretValue(`key: ${json}`);
    expect(out).not.toContain('SECRET');
    expect(out).toContain('"n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri","e":"AQAB"');
    expect(out).toContain(`"d":"${REDACTED}","p":"${REDACTED}"`);
    for (const text of [
      JSON.stringify({ keys: [{ kty: 'oct', kid: 'pub-1', k: 'SECRET-GawgguFyGrWKav7AX4VKUg' }] }),
      JSON.stringify(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'pub', d: 'SECRET-ed' })),
      '{ "kty" : "EC", "d" : "SECRET-spaced", "x": "pub" }',
      JSON.stringify({ kty: 'AKP', alg: 'ML-DSA-44', pub: 'pub', priv: 'SECRET-mldsa' }),
    ]) {
      const scrubbed = scrubSecretValue(text);
      expect(scrubbed, text).not.toContain('SECRET');
      expect(scrubbed, text).toContain('pub');
    }
  });

  it('keeps a public JWK, and members of that name in text naming no kty', () => {
    for (const text of [JSON.stringify(RSA), '{"d":"2026-12-07","k":"v1","p":"page-2"}']) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it("replaces them in a single-quoted JWK (Python's dict), and in an object whose kty comes after them", () => {
    expect(scrubSecretValue("{'kty':'RSA','n':'pub','d':'SECRET-d','p':'SECRET-p'}")).toBe(
      `{'kty':'RSA','n':'pub','d':'${REDACTED}','p':'${REDACTED}'}`,
    );
    expect(scrubSecretValue('{"d":"SECRET-d","kty":"EC","x":"pub"}')).toBe(
      `{"d":"${REDACTED}","kty":"EC","x":"pub"}`,
    );
    // Text cut inside the JWK: what it holds so far.
    expect(scrubSecretValue('{"kty":"EC","d":"SECRET-cu')).toBe(`{"kty":"EC","d":"${REDACTED}`);
    // Python's bytes: `b'…'`, escapes and all.
    expect(scrubSecretValue("{'kty': 'RSA', 'n': b'pub', 'd': b'SECRET\\x8a\\'d'}")).toBe(
      `{'kty': 'RSA', 'n': b'pub', 'd': b'${REDACTED}'}`,
    );
    expect(scrubSecretValue("{'kty': 'oct', 'k': b'SECRET-cu")).toBe(`{'kty': 'oct', 'k': b'${REDACTED}`);
    // Bytes holding a `'` and no `"` are printed in double quotes.
    expect(scrubSecretValue(`{'kty': 'oct', 'k': b"SECRET'\\x8a"}`)).toBe(
      `{'kty': 'oct', 'k': b"${REDACTED}"}`,
    );
  });

  it("replaces the members of a multi-prime RSA key's oth entries (r, d, t), which hold no kty of their own", () => {
    const key = {
      kty: 'RSA',
      n: 'pub',
      e: 'AQAB',
      d: 'SECRET-d',
      oth: [{ r: 'SECRET-r', d: 'SECRET-d2', t: 'SECRET-t' }],
    };
    for (const text of [
      JSON.stringify(key),
      JSON.stringify({ oth: key.oth, kty: 'RSA', n: 'pub' }),
      JSON.stringify(JSON.stringify({ keys: [key] })),
      "{'kty':'RSA','n':'pub','oth':[{'r':'SECRET-r','d':'SECRET-d2','t':'SECRET-t'}]}",
    ]) {
      const scrubbed = scrubSecretValue(text);
      expect(scrubbed, text).not.toContain('SECRET');
      expect(scrubbed, text).toContain('pub');
    }
    // An oth in an object without a kty is no key's.
    const other = '{"oth":[{"d":"2026-12-07","t":"10:30"}]}';
    expect(scrubSecretValue(other)).toBe(other);
  });

  it('reads a brace inside a string as text, not as the end of the object', () => {
    for (const [text, scrubbed] of [
      ['{"kty":"RSA","kid":"a}b","d":"SECRET-d"}', `{"kty":"RSA","kid":"a}b","d":"${REDACTED}"}`],
      [`{'kty':'oct','kid':'{x','k':'SECRET-k'}`, `{'kty':'oct','kid':'{x','k':'${REDACTED}'}`],
      [
        JSON.stringify(JSON.stringify({ kid: 'a}{b"}', kty: 'EC', d: 'SECRET-d' })),
        JSON.stringify(JSON.stringify({ kid: 'a}{b"}', kty: 'EC', d: REDACTED })),
      ],
      // An apostrophe before the JWK, in a string of it, and one that opens no string (in no JSON's place).
      [`Bob's key: {"kty":"oct","k":"SECRET-k"}`, `Bob's key: {"kty":"oct","k":"${REDACTED}"}`],
      [`{"kty":"oct","note":"Bob's","k":"SECRET-k"}`, `{"kty":"oct","note":"Bob's","k":"${REDACTED}"}`],
      [`{Bob's key, "kty":"oct","k":"SECRET-k"}`, `{Bob's key, "kty":"oct","k":"${REDACTED}"}`],
    ]) {
      expect(scrubSecretValue(text as string), text).toBe(scrubbed);
    }
    // A brace in another object's string does not make its members the JWK's.
    const other = '{"kty":"RSA","n":"x"} {"note":"}{","d":"2026-12-07"}';
    expect(scrubSecretValue(other)).toBe(other);
  });

  it('keeps members of that name in another object than the one with the kty', () => {
    for (const text of [
      '{"kty":"RSA","n":"x","e":"AQAB"} {"d":"2026-12-07","k":"v1"}',
      '{"keys":[{"kty":"oct","kid":"a"},{"p":"page-2"}]}',
      '{"kty":"oct","meta":{"d":"2026-12-07"}}',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
    expect(scrubSecretValue('[{"kty":"oct","k":"SECRET-k"},{"k":"v1"}]')).toBe(
      `[{"kty":"oct","k":"${REDACTED}"},{"k":"v1"}]`,
    );
  });

  it('masks them in an object with a kty, as credential-named keys are, at any depth', () => {
    const out = auditArguments(
      {
        jwks: { keys: [{ ...RSA, ...PRIVATE, oth: [{ r: 'SECRETr', d: 'SECRETd2', t: 'SECRETt' }] }] },
        d: 'kept',
      },
      { mode: 'plain', paths: [], listedMode: 'redact', key: KEY },
    );
    expect(out).toEqual({
      jwks: {
        keys: [
          {
            ...RSA,
            ...Object.fromEntries(Object.keys(PRIVATE).map((k) => [k, REDACTED])),
            oth: REDACTED,
          },
        ],
      },
      d: 'kept',
    });
    const secret = auditArguments(
      { key: { kty: 'oct', k: 'SECRET-oct', alg: 'HS256' } },
      { mode: 'plain', paths: [], listedMode: 'redact', key: KEY },
    );
    expect(secret).toEqual({ key: { kty: 'oct', k: REDACTED, alg: 'HS256' } });
  });
});

describe('the audit walk (auditArguments)', () => {
  const plain = (args: Record<string, unknown>, listedMode: 'hash' | 'redact' = 'redact') =>
    auditArguments(args, { mode: 'plain', paths: [], listedMode, key: KEY });

  it('scrubs kept strings at any depth, in objects and arrays', () => {
    const out = plain({
      db: 'postgres://app:s3cret@db/x',
      nested: { deeper: [{ note: `call it with ${API_KEY}` }, JWT] },
      region: 'eu-west-1',
    });
    expect(out).toEqual({
      db: 'postgres://app:[redacted]@db/x',
      nested: { deeper: [{ note: `call it with ${REDACTED}` }, REDACTED] },
      region: 'eu-west-1',
    });
  });

  it('masks the value of a header pair or a {name, value} entry naming a credential', () => {
    const out = plain({
      headers: [
        ['Authorization', 'opaque-token-value'],
        ['X-Api-Key', 'k-123'],
        ['Accept', 'text/event-stream'],
      ],
      env: [
        { name: 'DB_PASSWORD', value: 'pw-9' },
        { key: 'Cookie', value: { session: 'c-1' } },
        { name: 'REGION', value: 'eu' },
        { Name: 'Authorization', Value: 'opaque-aws-style' },
        { Key: 'x-api-key', Value: 'k-456' },
        { Key: 'Region', Value: 'eu' },
      ],
      words: ['token', 'bucket'],
    });
    expect(out).toEqual({
      headers: [
        ['Authorization', REDACTED],
        ['X-Api-Key', REDACTED],
        ['Accept', 'text/event-stream'],
      ],
      env: [
        { name: 'DB_PASSWORD', value: REDACTED },
        { key: 'Cookie', value: REDACTED },
        { name: 'REGION', value: 'eu' },
        { Name: 'Authorization', Value: REDACTED },
        { Key: 'x-api-key', Value: REDACTED },
        { Key: 'Region', Value: 'eu' },
      ],
      // A pair is masked on its name: a two-word list naming a credential loses its second word (the safe side).
      words: ['token', REDACTED],
    });
    // In arguments, masked as a credential-named key is: by the listed mode (a keyed hash by default).
    const hashed = plain({ headers: [['authorization', 'opaque-token-value']] }, 'hash');
    expect(hashed).toEqual({ headers: [['authorization', expect.stringMatching(/^hmac-sha256:/)]] });
  });

  it('finds a secret that straddles the cut of a long string, before cutting', () => {
    const long = `${'x'.repeat(MAX_PLAIN_STRING - 40)} postgres://app:${'p'.repeat(60)}@db/x ${'y'.repeat(5_000)}`;
    const out = JSON.stringify(plain({ long }));
    expect(out).not.toContain('ppppp');
    expect(out).toContain('postgres://app:[redacted]@db');
  });

  it('leaves hashed arguments alone (a tag holds no text) and plain ones without secrets as they were', () => {
    const args = { url: 'https://example.com/a?page=2', note: 'The bearer of this letter', n: 3 };
    expect(plain(args)).toEqual(args);
    const hashed = auditArguments(
      { db: 'postgres://app:s3cret@db/x' },
      { mode: 'hash', paths: [], key: KEY },
    );
    expect(hashed?.db).toMatch(/^hmac-sha256:/);
  });
});

describe('cost on hostile text', () => {
  // Each text costs 0.2 to 2.5 times benign text's; candidates JSON.parse refused, one after another, cost
  // 20 to 40 times it for the first text (0.6-1.8 s), so the bound is lower than elsewhere.
  const batch = (text: string) => {
    const requestBudget = newRequestBudget();
    // Each call scans a string before its budget says the string does not fit: one per call.
    for (let i = 0; i < 128; i++) {
      auditArguments({ text }, { mode: 'plain', paths: [], key: KEY, requestBudget });
    }
  };

  it('scrubs the kept strings of a 1 MB batch of calls in about the time of benign text, whatever they repeat', () => {
    const benign = fill(BENIGN_UNIT, SCRUB_WINDOW);
    batch(benign.slice(0, 1_024));
    for (const unit of [
      'eyJ9.. ',
      'eyJhbGcifQ.. ',
      'eyA.',
      '?password=x&',
      'a://b:c@',
      'bearer Abcdefgh1 ',
      'authorization: bearer ',
      'authorization: bearer "',
      '"password":"a",',
      'x: basic a:b ',
    ]) {
      const text = fill(unit, SCRUB_WINDOW);
      batch(text.slice(0, 1_024));
      expectCostLike(
        () => batch(text),
        () => batch(benign),
        { maxSlowdown: 12, label: unit },
      );
    }
  });

  it.each([
    '%0Amcpk_',
    '%0amcpk_abcdefghijkl_',
    '\\tmcpk_abcdefghijkl_',
    '\\',
    `%20${'a'.repeat(16)}_${'b'.repeat(12)}_`,
  ])('scrubs 1 MiB of %j (API key candidates after escapes) in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, fill(unit, 1 << 20));
  });

  it.each([
    'kty"d":"a',
    'kty"d"',
    'kty\\"dq\\" : \\"',
    ' "kty" "k" : ',
    'kty"d"   ',
    '{',
    '}',
    '{"kty":"a","d":"b"',
    '{"d":"b"}"kty":',
    "{'kty':'d':'",
    '{"oth":{"d":"a",',
    '"oth":{"kty":{"r":"a"}',
    '{"kty":"oth":{',
    // Strings inside an object: each read once, a quote that opens none skipped.
    '{"kty":\'a',
    '{kty x"',
    '{kty\\"a"',
    '{kty \'"\\"',
    '{"kty":"a}","d":"',
    '{"d": x "kty":',
    "{'kty': b'",
    '{"kid":"',
  ])('scrubs 1 MiB of %j (JWK members) in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, fill(unit, 1 << 20));
  });

  // Quotes that open no string (after no `{`, `[`, `,` or `:`), each before text escaped up to the end: each was
  // read as a string to the end, then passed by one character (7 s for 128 KiB; minutes for 1 MiB).
  it.each(['\\"', "\\'", 'x\\"', "b\\'"])(
    'scrubs 256 KiB of %j in one object with a kty in about the time of benign text',
    (unit) => {
      expectLinearTime(scrubSecretValue, `{"kty":"RSA", x${fill(unit, 1 << 18)}`);
    },
  );

  it('takes text that decodes to a header naming its alg for one, parsed or not (the safe side)', () => {
    expect(scrubSecretValue(`x ${b64({ alg: 'RS256', kid: 'k1' })}.e30.c2ln y`)).toBe(`x ${REDACTED} y`);
    expect(scrubSecretValue('eyJhbGcifQ.. eyJhbGcifQ..')).toBe(`${REDACTED} ${REDACTED}`);
  });
});
