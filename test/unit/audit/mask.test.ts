import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ARGUMENT_TEXT, newRequestBudget } from '../../../src/audit/argument-budget.js';
import { isSensitiveKey } from '../../../src/audit/credential-keys.js';
import {
  auditArguments,
  auditArgumentsSize,
  deriveAuditKey,
  hmacTag,
  MAX_ARGUMENT_DEPTH,
  MAX_ARGUMENT_LEAVES,
  MAX_ARGUMENT_TEXT,
  MAX_PLAIN_STRING,
  maskArguments,
  REDACTED,
  TRUNCATED,
} from '../../../src/audit/mask.js';
import { expectCostLike } from '../../helpers/linear-time.js';

const KEY = Buffer.alloc(32, 1);
const TAG = /^hmac-sha256:[0-9a-f]{16}$/;
const tag = (v: unknown) => hmacTag(v, KEY);

describe('hmacTag', () => {
  it('is a keyed HMAC of the JSON value, not a plain hash', () => {
    const ssn = '123-45-6789';
    expect(tag(ssn)).toMatch(TAG);
    expect(tag(ssn)).toBe(
      `hmac-sha256:${createHmac('sha256', KEY).update('"123-45-6789"').digest('hex').slice(0, 16)}`,
    );
    // What an attacker without the key could compute for every candidate SSN: none of it matches.
    for (const text of [ssn, JSON.stringify(ssn)]) {
      expect(tag(ssn)).not.toContain(createHash('sha256').update(text).digest('hex').slice(0, 16));
    }
    expect(hmacTag(ssn, Buffer.alloc(32, 2))).not.toBe(tag(ssn));
    expect(tag(ssn)).toBe(tag(ssn));
    expect(tag(1)).not.toBe(tag('1'));
  });

  it('derives a 32-byte key from a server secret, stable and different from it', () => {
    const k = deriveAuditKey('pepper-pepper-pepper-pepper-pepper');
    expect(k).toHaveLength(32);
    expect(k.equals(deriveAuditKey('pepper-pepper-pepper-pepper-pepper'))).toBe(true);
    expect(k.toString('utf8')).not.toContain('pepper');
  });
});

describe('maskArguments', () => {
  const args = {
    tenant: 'acme',
    ssn: '123-45-6789',
    customer: { name: 'Ada', ssn: '987-65-4321', address: { city: 'Berlin', zip: '10115' } },
    items: [
      { sku: 'a', card: '4111111111111111' },
      { sku: 'b', card: '5500000000000004' },
    ],
  };

  it('hashes the named paths, leaves the rest, and does not touch the input', () => {
    const before = structuredClone(args);
    const out = maskArguments(args, ['ssn', 'customer.ssn', 'items.card'], 'hash', KEY);
    expect(out).toEqual({
      tenant: 'acme',
      ssn: tag('123-45-6789'),
      customer: { name: 'Ada', ssn: tag('987-65-4321'), address: { city: 'Berlin', zip: '10115' } },
      items: [
        { sku: 'a', card: tag('4111111111111111') },
        { sku: 'b', card: tag('5500000000000004') },
      ],
    });
    expect(args).toEqual(before);
  });

  it('hashes every leaf of a named object, keeping its keys', () => {
    expect(maskArguments(args, ['customer.address'], 'hash', KEY).customer).toEqual({
      name: 'Ada',
      ssn: '987-65-4321',
      address: { city: tag('Berlin'), zip: tag('10115') },
    });
  });

  it('redacts or drops instead of hashing', () => {
    expect(maskArguments(args, ['ssn', 'customer'], 'redact', KEY)).toMatchObject({
      ssn: REDACTED,
      customer: REDACTED,
    });
    const dropped = maskArguments(args, ['ssn', 'customer.ssn'], 'drop', KEY);
    expect(dropped).not.toHaveProperty('ssn');
    expect(dropped.customer).toEqual({ name: 'Ada', address: { city: 'Berlin', zip: '10115' } });
  });

  it('supports * and array indexes', () => {
    expect(maskArguments(args, ['*.ssn'], 'redact', KEY).customer).toMatchObject({ ssn: REDACTED });
    expect(maskArguments(args, ['items.1.card'], 'redact', KEY).items).toEqual([
      { sku: 'a', card: '4111111111111111' },
      { sku: 'b', card: REDACTED },
    ]);
    expect(maskArguments({ tags: ['x', 'y'] }, ['tags.*'], 'redact', KEY)).toEqual({
      tags: [REDACTED, REDACTED],
    });
    expect(maskArguments(args, [], 'hash', KEY)).toEqual(args);
  });

  it('masks a one-key path at any depth, a dotted path only where it points, ** any number of levels', () => {
    const nested = { id: 'c-1', fields: { ssn: '111' }, history: [{ change: { ssn: '222' } }], ssn: '333' };
    expect(maskArguments(nested, ['ssn'], 'redact', KEY)).toEqual({
      id: 'c-1',
      fields: { ssn: REDACTED },
      history: [{ change: { ssn: REDACTED } }],
      ssn: REDACTED,
    });
    expect(maskArguments(nested, ['fields.ssn'], 'redact', KEY)).toEqual({
      ...nested,
      fields: { ssn: REDACTED },
    });
    expect(maskArguments(nested, ['history.**.ssn'], 'redact', KEY)).toEqual({
      ...nested,
      history: [{ change: { ssn: REDACTED } }],
    });
    // A doubled ** is one; a path ending in ** masks everything below it.
    expect(maskArguments(nested, ['**.**.ssn'], 'redact', KEY)).toEqual(
      maskArguments(nested, ['ssn'], 'redact', KEY),
    );
    expect(maskArguments(nested, ['fields.**'], 'redact', KEY)).toEqual({
      ...nested,
      fields: { ssn: REDACTED },
    });
    expect(maskArguments({ a: { b: 1 }, c: 2 }, ['**'], 'redact', KEY)).toEqual({ a: REDACTED, c: REDACTED });
    // The caller picks the shape: `card.**` masks a card sent as a plain value too, as `a.**.b` masks `a.b`.
    for (const card of ['4111111111111111', 4111111111111111, ['4111'], { number: '4111' }]) {
      expect(JSON.stringify(maskArguments({ card }, ['card.**'], 'redact', KEY)), String(card)).not.toContain(
        '4111',
      );
    }
    // A one-key * or index stays at the top: ["0"] is not the first element of every array.
    expect(maskArguments({ list: ['x', 'y'] }, ['0'], 'redact', KEY)).toEqual({ list: ['x', 'y'] });
  });
});

describe('auditArguments', () => {
  const args = {
    query: 'unpaid invoices',
    limit: 10,
    max_tokens: 200,
    filters: { status: ['open', 'late'], owner: { id: 'u-7' } },
    password: 'hunter2',
    apiKey: 'mcpk_abc_def',
    client_secret: 's3',
    'X-Auth-Token': 't0k',
  };

  it('hash (default): every leaf value hashed, nested ones too', () => {
    const out = auditArguments(args, { mode: 'hash', paths: [], key: KEY });
    expect(out).toEqual({
      query: tag('unpaid invoices'),
      limit: tag(10),
      max_tokens: tag(200),
      filters: { status: [tag('open'), tag('late')], owner: { id: tag('u-7') } },
      password: tag('hunter2'),
      apiKey: tag('mcpk_abc_def'),
      client_secret: tag('s3'),
      'X-Auth-Token': tag('t0k'),
    });
  });

  it('plain: values kept, but listed paths and credential-named keys are still masked', () => {
    const out = auditArguments(args, { mode: 'plain', paths: ['filters.owner'], key: KEY });
    expect(out).toEqual({
      query: 'unpaid invoices',
      limit: 10,
      max_tokens: 200,
      filters: { status: ['open', 'late'], owner: { id: tag('u-7') } },
      password: tag('hunter2'),
      apiKey: tag('mcpk_abc_def'),
      client_secret: tag('s3'),
      'X-Auth-Token': tag('t0k'),
    });
    const redacted = auditArguments(args, {
      mode: 'plain',
      paths: ['query'],
      listedMode: 'redact',
      key: KEY,
    });
    expect(redacted).toMatchObject({ query: REDACTED, password: REDACTED, limit: 10 });
  });

  it('plain: keeps the boolean of a key that says something about a credential, as the text scrub does', () => {
    const args = {
      passwordless: true,
      has_password: false,
      options: { requireToken: 'yes', no_secret: 0, isTokenSet: null },
      // A credential's name keeps nothing, nor does such a key with a value that is no switch's state.
      password: true,
      has_password_hint: 'hunter2',
      other: { passwordless: 'abc' },
    };
    expect(auditArguments(args, { mode: 'plain', paths: [], listedMode: 'redact', key: KEY })).toEqual({
      passwordless: true,
      has_password: false,
      options: { requireToken: 'yes', no_secret: 0, isTokenSet: null },
      password: REDACTED,
      has_password_hint: REDACTED,
      other: { passwordless: REDACTED },
    });
  });

  it('plain: an argument vector keeps no value after a credential flag (exec tools take argv arrays)', () => {
    const argv = [
      'psql',
      '--password',
      'hunter2',
      '-h',
      'db',
      '--api-key',
      'k-1',
      '--password',
      '--host',
      'x',
    ];
    const out = auditArguments({ argv }, { mode: 'plain', paths: [], listedMode: 'redact', key: KEY });
    expect(out).toEqual({
      argv: ['psql', '--password', REDACTED, '-h', 'db', '--api-key', REDACTED, '--password', '--host', 'x'],
    });
    // Not a credential's flag, a switch naming one, or a flag with its value in the same element.
    const kept = ['--password-file', 'p.txt', '--no-password', 'db', '--user', 'alice', '--token=abc'];
    expect(auditArguments({ kept }, { mode: 'plain', paths: [], key: KEY })).toEqual({
      kept: ['--password-file', 'p.txt', '--no-password', 'db', '--user', 'alice', '--token=[redacted]'],
    });
    // Docker's `--secret` takes a reference to a secret, not the secret; a bare word there may be one.
    const build = ['docker', 'build', '--secret', 'id=npmrc,src=/home/a/.npmrc', '--secret', 's3cr3t'];
    expect(auditArguments({ build }, { mode: 'plain', paths: [], listedMode: 'redact', key: KEY })).toEqual({
      build: ['docker', 'build', '--secret', 'id=npmrc,src=/home/a/.npmrc', '--secret', REDACTED],
    });
  });

  it('listed paths win over hash mode too (redact, drop)', () => {
    expect(
      auditArguments(args, { mode: 'hash', paths: ['query'], listedMode: 'drop', key: KEY }),
    ).not.toHaveProperty('query');
    expect(
      auditArguments(args, { mode: 'hash', paths: ['limit'], listedMode: 'redact', key: KEY })?.limit,
    ).toBe(REDACTED);
  });

  it('drop, or no arguments: null', () => {
    expect(auditArguments(args, { mode: 'drop', paths: [], key: KEY })).toBeNull();
    expect(auditArguments(undefined, { mode: 'plain', paths: [], key: KEY })).toBeNull();
  });

  it('bounds depth and plain string length', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < MAX_ARGUMENT_DEPTH + 4; i++) deep = { d: deep };
    const plain = JSON.stringify(auditArguments(deep, { mode: 'plain', paths: [], key: KEY }));
    expect(plain).toContain(TRUNCATED);
    expect(plain).not.toContain('leaf');
    expect(JSON.stringify(auditArguments(deep, { mode: 'hash', paths: [], key: KEY }))).toMatch(
      /hmac-sha256:/,
    );
    const long = auditArguments(
      { s: 'a'.repeat(MAX_PLAIN_STRING * 2) },
      { mode: 'plain', paths: [], key: KEY },
    );
    expect(String(long?.s).length).toBeLessThan(MAX_PLAIN_STRING + 20);
  });

  it('spends a budget of values and text per call: a huge argument is cut, not hashed leaf by leaf', () => {
    const zeros = new Array(300_000).fill(0);
    const hashed = auditArguments({ a: zeros, b: 'after' }, { mode: 'hash', paths: [], key: KEY });
    const list = hashed?.a as string[];
    expect(list).toHaveLength(MAX_ARGUMENT_LEAVES + 1);
    expect(list[MAX_ARGUMENT_LEAVES]).toBe(`[truncated: ${300_000 - MAX_ARGUMENT_LEAVES} more items]`);
    // The object holding it is cut too: its next key is counted, not written.
    expect(hashed?.b).toBeUndefined();
    expect(hashed?.[TRUNCATED]).toBe('1 more keys');
    expect(JSON.stringify(hashed).length).toBeLessThan(MAX_ARGUMENT_LEAVES * 40);

    const manyKeys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]));
    const plain = auditArguments(manyKeys, { mode: 'plain', paths: [], key: KEY }) ?? {};
    expect(JSON.stringify(plain).length).toBeLessThan(MAX_ARGUMENT_TEXT + 4_000);
    expect(String(plain[TRUNCATED])).toMatch(/^\d+ more keys$/);
    // Listed values are masked however little budget is left: a cut never shows a value it should hide.
    const late = { ...manyKeys, ssn: '123-45-6789' };
    expect(JSON.stringify(auditArguments(late, { mode: 'plain', paths: ['ssn'], key: KEY }))).not.toContain(
      '123-45-6789',
    );
  });

  it('charges empty arrays and objects too: 300,000 of them are cut like values', () => {
    const args = { rows: Array.from({ length: 300_000 }, (_, i) => (i % 2 ? [] : {})) };
    for (const mode of ['hash', 'plain'] as const) {
      const out = auditArguments(args, { mode, paths: [], key: KEY });
      const text = JSON.stringify(out);
      expect(text.length, mode).toBeLessThan(MAX_ARGUMENT_TEXT + 200);
      expect(text, mode).toMatch(/\[truncated: \d+ more items\]/);
      // The size estimate bounds the real size, so the audit queue's byte bound holds.
      expect(auditArgumentsSize(out), mode).toBeGreaterThanOrEqual(text.length - 100);
    }
  });

  it('estimates at least the JSON bytes written, whatever the text: escapes, non-ASCII, redacted values', () => {
    const shapes: [string, Record<string, unknown>][] = [
      [
        'control characters',
        Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, '\u0001'.repeat(1000)])),
      ],
      ['CJK', Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`漢${i}`, '漢'.repeat(1000)]))],
      ['redacted', { a: Array.from({ length: 5000 }, () => ({ pwd: 'x' })) }],
      ['empty arrays', { rows: Array.from({ length: 300_000 }, () => []) }],
    ];
    for (const [what, args] of shapes) {
      const out = auditArguments(args, { mode: 'plain', paths: [], listedMode: 'redact', key: KEY });
      const actual = Buffer.byteLength(JSON.stringify(out));
      expect(auditArgumentsSize(out), what).toBeGreaterThanOrEqual(actual - 100);
      expect(actual, what).toBeLessThan(MAX_ARGUMENT_TEXT + 300);
    }
  });

  it('keeps an argument named __proto__ as an ordinary key (JSON.parse makes it one)', () => {
    const args = JSON.parse('{"__proto__":{"cmd":"rm -rf /"},"x":1}') as Record<string, unknown>;
    for (const mode of ['hash', 'plain'] as const) {
      const out = auditArguments(args, { mode, paths: [], key: KEY }) ?? {};
      expect(Object.keys(out), mode).toEqual(['__proto__', 'x']);
      expect(Object.getPrototypeOf(out), mode).toBe(Object.prototype);
    }
    expect(JSON.stringify(auditArguments(args, { mode: 'plain', paths: [], key: KEY }))).toBe(
      '{"__proto__":{"cmd":"rm -rf /"},"x":1}',
    );
  });

  it('masks a key with dots in it, named whole', () => {
    const args = { card: { 'pan.number': '4111111111111111' }, 'a.b': 'secret' };
    const out = JSON.stringify(
      auditArguments(args, { mode: 'plain', paths: ['pan.number', 'a.b'], key: KEY }),
    );
    expect(out).not.toContain('4111111111111111');
    expect(out).not.toContain('"secret"');
  });
});

describe('isSensitiveKey', () => {
  it('matches credential names as words or written as one word, not counts or look-alikes', () => {
    for (const k of [
      'password',
      'PASSWD',
      'apiKey',
      'api_key',
      'X-API-Key',
      'client_secret',
      'accessToken',
      'authorization',
      'private_key',
      'sessionCookie',
      'accesstoken',
      'refreshtoken',
      'clientsecret',
      'privatekey',
      'secretkey',
      'cookies',
      'jwt',
      'id_token',
      'api_keys',
      'apiKeys',
      'privateKeys',
      'access_keys',
      'secret_keys',
      'access_tokens',
      'refresh_tokens',
      'refreshTokens',
      'apikeys',
      'privatekeys',
      'passWord',
      'dbPassWord',
      'passPhrase',
      'PassWord',
    ]) {
      expect(isSensitiveKey(k), k).toBe(true);
    }
    for (const k of [
      'max_tokens',
      'maxtokens',
      'keyword',
      'author',
      'secretary_name',
      'passenger',
      'monkey',
      'tokens',
      'max_completion_tokens',
      'keys',
    ]) {
      expect(isSensitiveKey(k), k).toBe(false);
    }
  });
});

describe('isSensitiveKey: names only one rule catches', () => {
  // Each of these is caught by one part of isSensitiveKey alone (the single words, the word pairs, the
  // camel-case split): without that part its value would be written in plain mode.
  it('matches bare credential words, word pairs whose joined form the one-word list misses, camel case', () => {
    for (const k of [
      'bearer',
      'pwd',
      'id_tokens',
      'session_tokens',
      'auth_tokens',
      'sessionTokens',
      'idTokens',
    ]) {
      expect(isSensitiveKey(k), k).toBe(true);
      const out = JSON.stringify(
        auditArguments({ [k]: 'SECRET-VALUE-42' }, { mode: 'plain', paths: [], key: KEY }),
      );
      expect(out, k).not.toContain('SECRET-VALUE-42');
    }
  });
});

describe('names that are long text', () => {
  it('are not read word by word: a pair or entry naming nothing costs no more than its budget', () => {
    // A tool argument `[name, value]` or `{name, value}` whose name is 4 MiB of words took ~3 s to judge.
    const name = 'aA '.repeat(1_400_000);
    for (const mode of ['hash', 'plain'] as const) {
      // As long as the same text as the values, which no one reads as a name.
      expectCostLike(
        () =>
          auditArguments({ pair: [name, 'v'], entry: { name, value: 'v' } }, { mode, paths: [], key: KEY }),
        () =>
          auditArguments(
            { pair: ['v', name], entry: { name: 'v', value: name } },
            { mode, paths: [], key: KEY },
          ),
        { label: mode },
      );
    }
  });
});

describe('masked values below the depth bound', () => {
  it('a listed value nested deeper than MAX_ARGUMENT_DEPTH is hashed whole, never written', () => {
    let deep: Record<string, unknown> = { pin: 'SECRET-PIN-9876' };
    for (let i = 0; i < MAX_ARGUMENT_DEPTH + 4; i++) deep = { d: deep };
    for (const out of [
      maskArguments({ card: deep }, ['card'], 'hash', KEY),
      auditArguments({ password: deep }, { mode: 'plain', paths: [], key: KEY }),
    ]) {
      const text = JSON.stringify(out);
      expect(text).not.toContain('SECRET-PIN-9876');
      expect(text).toMatch(/hmac-sha256:[0-9a-f]{16}/);
    }
  });
});

describe("a request's shared argument budget", () => {
  it('bounds the text its calls keep together, not only the values they hash', () => {
    const shared = newRequestBudget();
    let written = 0;
    for (let i = 0; i < 20; i++) {
      const out = auditArguments(
        { s: Array.from({ length: 10 }, () => 'a'.repeat(1_000)) },
        { mode: 'plain', paths: [], key: KEY, requestBudget: shared },
      );
      written += JSON.stringify(out).length;
    }
    // 20 calls of 8 KiB each without it; with it the request's 32 KiB, plus each call's cut markers.
    expect(written).toBeLessThan(MAX_REQUEST_ARGUMENT_TEXT + 20 * 100);
  });
});
