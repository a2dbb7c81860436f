/**
 * The process logger's redaction (src/telemetry/logger.ts, log-secrets.ts), the second line of defence:
 * each secret field name and the credential headers at any depth (bounded), and secrets found by their
 * value; a line with nothing to redact is written from the object it was given.
 *
 * @module
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MAX_CREDENTIAL_NAME_CHARS } from '../../../src/audit/credential-keys.js';
import { REDACTED } from '../../../src/audit/secret-values.js';
import {
  MAX_LOG_SCAN_DEPTH,
  MAX_LOG_SCAN_NODES,
  redactLogObject,
} from '../../../src/telemetry/log-secrets.js';
import { createLogger, SECRET_FIELDS } from '../../../src/telemetry/logger.js';
import { expectCostLike } from '../../helpers/linear-time.js';
import { lineCollector } from '../../helpers/log-lines.js';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTQyIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

/** `leaf` under `levels` nested objects. */
function nest(levels: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { [`l${i}`]: v };
  return v;
}

describe('createLogger redaction', () => {
  it('never writes a secret-named field, at the top or one level down, nor credential headers', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const secret = (where: string) => `SECRET-${where}-0b5e`;
    for (const f of ['authorization', 'token', 'apiKey', 'secret', 'password']) {
      expect(SECRET_FIELDS).toContain(f);
      logger.info({ [f]: secret(`top-${f}`) }, 'top');
      logger.info({ err: { [f]: secret(`nested-${f}`) } }, 'nested');
    }
    logger.info(
      {
        headers: {
          authorization: secret('h-authz'),
          'x-api-key': secret('h-key'),
          cookie: secret('h-cookie'),
          accept: 'text/event-stream',
        },
      },
      'request',
    );
    logger.warn(
      {
        err: {
          response: { data: { client_secret: secret('oauth-cs'), access_token: secret('oauth-at') } },
          refresh_token: secret('oauth-rt'),
          id_token: secret('oauth-it'),
          private_key: secret('pk'),
          headers: { 'X-Auth-Token': secret('h-auth-token') },
        },
        secret_name: 'authn.jwt.hsSecret',
      },
      'oauth',
    );
    const text = raw.join('');
    expect(text).not.toMatch(/SECRET-/);
    // A field naming a secret (not holding one) is kept.
    expect(text).toContain('authn.jwt.hsSecret');
    expect(text).toContain('text/event-stream');
    expect(text.match(/\[redacted\]/g)).toHaveLength(19);
  });
});

describe('the logger backstop at any depth', () => {
  it('redacts secret-named fields and credential headers deeper than pino paths reach, in arrays and errors', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const err = Object.assign(new Error('upstream refused'), {
      request: { options: { headers: { Authorization: 'SECRET-err-header' } } },
    });
    const caused = new Error('wrapped', { cause: { config: { auth: { password: 'SECRET-cause' } } } });
    logger.info(nest(5, { token: 'SECRET-depth-5', kept: 'visible-5' }), 'deep');
    logger.info(
      { calls: [{ args: [{ apiKey: 'SECRET-in-array' }] }], 'X-Api-Key': 'SECRET-top-header' },
      'arr',
    );
    logger.error({ err }, 'failed');
    logger.error({ err: caused }, 'failed again');
    const child = logger.child({ component: 'x', conn: { db: { secret: 'SECRET-binding' } } });
    child.info('from a child');
    child.child({ stage: 'y' }).info('from a grandchild');
    const text = raw.join('');
    expect(JSON.parse(raw.at(-1) as string)).toMatchObject({
      service: 'mcp-authz',
      component: 'x',
      conn: { db: { secret: REDACTED } },
      stage: 'y',
      msg: 'from a grandchild',
    });
    expect(text).not.toMatch(/SECRET-/);
    expect(text).toContain('visible-5');
    // The error is still written as one (its type and stack), with the field replaced.
    const failed = JSON.parse(raw[2] as string) as { err: { type: string; stack: string; request: unknown } };
    expect(failed.err.type).toBe('Error');
    expect(failed.err.stack).toContain('upstream refused');
    expect(failed.err.request).toEqual({ options: { headers: { Authorization: REDACTED } } });
  });

  it("keeps every field of a child rebuilt for a secret in its bindings: the root's, and a pid or hostname", () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    logger.info('from the root');
    // pino's own `bindings()` leaves out `pid` and `hostname` (its default base fields): a rebuild from it lost
    // them, the root's and a child's alike.
    const child = logger.child({ hostname: 'db.internal', pid: 4242, password: 'SECRET-pw' });
    child.info('from a child');
    child.child({ stage: 'y' }).info('from a grandchild');
    logger.child({ hostname: 'plain.internal' }).info('from a child with nothing to redact');
    const [root, ...children] = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    const base = Object.fromEntries(
      Object.entries(root as Record<string, unknown>).filter(([k]) => k !== 'time' && k !== 'msg'),
    );
    for (const line of children) expect(line).toMatchObject(base);
    expect(children.map(({ hostname, pid, password }) => ({ hostname, pid, password }))).toEqual([
      { hostname: 'db.internal', pid: 4242, password: REDACTED },
      { hostname: 'db.internal', pid: 4242, password: REDACTED },
      { hostname: 'plain.internal', pid: undefined, password: undefined },
    ]);
  });

  it("redacts what a child's setBindings adds later, as its bindings when it was made", () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const child = logger.child({ stage: 'x' });
    child.setBindings({ token: 'SECRET-tok', note: `sent ${JWT}` });
    child.info('after setBindings');
    const grandchild = child.child({ step: 1 }, { level: 'debug' });
    grandchild.setBindings({ password: 'SECRET-pw' });
    grandchild.info('grandchild');
    expect(raw.join('')).not.toContain('SECRET');
    expect(raw.join('')).not.toContain(JWT);
    expect(JSON.parse(raw[0] as string)).toMatchObject({
      stage: 'x',
      token: REDACTED,
      note: `sent ${REDACTED}`,
    });
    expect(JSON.parse(raw[1] as string)).toMatchObject({ stage: 'x', step: 1, password: REDACTED });
  });

  it('replaces secrets found by value in any string of the object', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    logger.warn(
      {
        upstream: 'postgres://app:s3cret-pw@db/x',
        detail: { sent: `Bearer ${JWT}`, pairs: [['Accept', 'text/plain']] },
        err: new Error(`could not reach https://u:pw-in-message@h.example/x`),
      },
      'store down',
    );
    const text = raw.join('');
    for (const secret of ['s3cret-pw', JWT.slice(0, 20), 'pw-in-message']) expect(text).not.toContain(secret);
    expect(text).toContain('postgres://app:[redacted]@db/x');
    expect(text).toContain('text/plain');
  });

  it("scrubs the message too: the call's text, its %s arguments, an error's message pino takes for it", () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    logger.error(new Error('connect to postgres://app:SECRET-msg-1@db/x failed'));
    logger.error({ err: new Error(`upstream refused Bearer ${JWT}`) });
    logger.warn('retrying with Authorization: Basic U0VDUkVULW1zZy0z');
    logger.info('reached %s', 'redis://:SECRET-msg-4@cache:6379');
    const text = raw.join('');
    for (const secret of ['SECRET-msg', JWT.slice(0, 20), 'U0VDUkVULW1zZy0z'])
      expect(text).not.toContain(secret);
    expect(JSON.parse(raw[0] as string)).toMatchObject({
      level: 'error',
      msg: 'connect to postgres://app:[redacted]@db/x failed',
      err: { type: 'Error', message: 'connect to postgres://app:[redacted]@db/x failed' },
    });
    expect(JSON.parse(raw[3] as string).msg).toBe('reached redis://:[redacted]@cache:6379');
  });

  it('walks the objects %o, %O and %j write into the message as it walks the log object', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const conn = () => ({ host: 'db', password: 'SECRET-pw', nested: { token: 'SECRET-token' } });
    logger.info('o %o', conn());
    logger.info('O %O', conn());
    logger.warn('j %j', conn());
    logger.info({ step: 1 }, 'after a log object %o', conn());
    logger.child({ component: 'x' }).error('in a child %j', [conn()]);
    logger.info('err %o', Object.assign(new Error('boom'), { token: 'SECRET-err' }));
    // Objects where the message goes (untyped, as from JavaScript): pino writes them joined as JSON.
    Reflect.apply(logger.info, logger, [{ step: 2 }, conn(), conn()]);
    const text = raw.join('');
    expect(raw).toHaveLength(7);
    expect(text).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string).msg).toBe(
      'o {"host":"db","password":"[redacted]","nested":{"token":"[redacted]"}}',
    );
    expect(JSON.parse(raw[3] as string)).toMatchObject({
      step: 1,
      msg: expect.stringContaining('"host":"db"'),
    });
    // Values that hold no secret are formatted as before, and are not copied.
    const plain = { host: 'db', port: 5432 };
    logger.info('plain %o and %d', plain, 3);
    expect(JSON.parse(raw[7] as string).msg).toBe('plain {"host":"db","port":5432} and 3');
  });

  it('writes the line, without the value, when an object %o writes cannot be looked at', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const unreadable = new Proxy(
      { password: 'SECRET-pw' },
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(() => logger.info('values %o and %d', unreadable, 3)).not.toThrow();
    expect(raw).toHaveLength(1);
    expect(JSON.parse(raw[0] as string).msg).toBe("values '[truncated]' and 3");
  });

  it('writes the line, marked [unreadable], when the log object itself cannot be read', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const noKeys = new Proxy(
      { password: 'SECRET-pw' },
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    const noGet = new Proxy(
      { password: 'SECRET-pw' },
      {
        get() {
          throw new Error('no get');
        },
      },
    );
    expect(() => logger.info(noKeys, 'no keys')).not.toThrow();
    expect(() => logger.info(noKeys)).not.toThrow();
    expect(() => logger.info(noGet)).not.toThrow();
    expect(raw).toHaveLength(3);
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string)).toMatchObject({ msg: 'no keys', log_object: '[unreadable]' });
    expect(JSON.parse(raw[1] as string)).toMatchObject({ log_object: '[unreadable]' });
    // A field whose getter throws is replaced (`[truncated]`, then `[redacted]` by its name).
    expect(JSON.parse(raw[2] as string)).toHaveProperty('password');
  });

  it('writes a readable Proxy log object as what it wraps: an error keeps its message and stack', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const err = new Error('boom, nothing secret');
    logger.error(new Proxy(err, {}));
    logger.error(new Proxy(err, {}), 'with a message');
    logger.info(new Proxy({ a: 1, note: 'kept' }, {}), 'plain');
    expect(raw).toHaveLength(3);
    for (const line of raw.slice(0, 2)) {
      expect(JSON.parse(line)).toMatchObject({
        err: { type: 'Error', message: 'boom, nothing secret', stack: expect.stringContaining('boom') },
      });
    }
    expect(JSON.parse(raw[0] as string).msg).toBe('boom, nothing secret');
    expect(JSON.parse(raw[1] as string).msg).toBe('with a message');
    expect(JSON.parse(raw[2] as string)).toMatchObject({ a: 1, note: 'kept', msg: 'plain' });
  });

  it('redacts the value of a header pair or {name, value} entry naming a credential, as audit records do', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    logger.warn(
      {
        request: {
          headers: [
            ['Authorization', 'SECRET-pair-opaque'],
            ['X-Api-Key', 'SECRET-pair-key'],
            ['Accept', 'text/event-stream'],
          ],
        },
        har: [
          { name: 'Cookie', value: 'SECRET-har-cookie' },
          { name: 'Accept', value: 'application/json' },
        ],
        env: [
          { name: 'DB_PASSWORD', value: { from: 'SECRET-env' } },
          { key: 'client-secret', value: 'SECRET-key-entry' },
          { name: 'REGION', value: 'eu-west-1' },
        ],
        tags: [
          { Key: 'api_key', Value: 'SECRET-aws-tag' },
          { Key: 'team', Value: 'payments' },
        ],
        counts: ['max_tokens', 4096],
        argv: ['psql', '--password', 'SECRET-argv', '-h', 'db'],
      },
      'upstream call failed',
    );
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string)).toMatchObject({
      request: {
        headers: [
          ['Authorization', REDACTED],
          ['X-Api-Key', REDACTED],
          ['Accept', 'text/event-stream'],
        ],
      },
      argv: ['psql', '--password', REDACTED, '-h', 'db'],
      har: [
        { name: 'Cookie', value: REDACTED },
        { name: 'Accept', value: 'application/json' },
      ],
      env: [
        { name: 'DB_PASSWORD', value: REDACTED },
        { key: 'client-secret', value: REDACTED },
        { name: 'REGION', value: 'eu-west-1' },
      ],
      tags: [
        { Key: 'api_key', Value: REDACTED },
        { Key: 'team', Value: 'payments' },
      ],
      counts: ['max_tokens', 4096],
    });
    // Bounded as the rest: a pair past the values looked at is cut, not written.
    const wide = redactLogObject({
      items: [...Array.from({ length: MAX_LOG_SCAN_NODES }, (_, i) => i), ['Authorization', 'SECRET-late']],
    });
    expect(JSON.stringify(wide)).not.toContain('SECRET');
    // A name whose getter throws names no credential: the value is kept (the name cannot be written).
    const trap = {
      value: 'kept',
      get name(): string {
        throw new Error('getter failed');
      },
    };
    expect(redactLogObject({ trap }).trap).toEqual({ value: 'kept', name: '[truncated]' });
  });

  it("redacts a JWK's private members, in an object with a kty and in JSON text", () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: 'public-x', d: 'SECRET-jwk-d' };
    logger.warn(
      { key: jwk, text: JSON.stringify({ keys: [{ kty: 'oct', k: 'SECRET-jwk-k' }] }), d: 'kept' },
      'jwk',
    );
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string)).toMatchObject({ key: { ...jwk, d: REDACTED }, d: 'kept' });
  });

  it('scans other objects as JSON writes them: class fields, what toJSON returns, errors of another realm', () => {
    class Connection {
      host = 'db.internal';
      password = 'SECRET-field';
    }
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const foreign = runInNewContext(
      'Object.assign(new Error("vm failed"), { token: "SECRET-vm" })',
    ) as object;
    logger.info(
      {
        conn: new Connection(),
        nested: { conn: new Connection() },
        upstream: new URL('https://app:SECRET-url@h.example/x'),
        at: new Date(0),
        bytes: Buffer.from('hi'),
        err: foreign,
      },
      'objects',
    );
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string)).toMatchObject({
      conn: { host: 'db.internal', password: REDACTED },
      nested: { conn: { host: 'db.internal', password: REDACTED } },
      upstream: 'https://app:[redacted]@h.example/x',
      at: '1970-01-01T00:00:00.000Z',
      bytes: { type: 'Buffer', data: [104, 105] },
      err: { type: 'Error', message: 'vm failed', token: REDACTED },
    });
  });

  it('never makes the log call throw: a frozen error holding a secret, a getter that throws', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const frozen = Object.freeze(
      Object.assign(new Error('reach postgres://app:SECRET-frozen@db/x'), { code: 'E1' }),
    );
    const trap = new Error('trap');
    Object.defineProperty(trap, 'detail', {
      get() {
        throw new Error('getter failed');
      },
    });
    const fields = {
      host: 'db',
      get password(): string {
        throw new Error('getter failed');
      },
    };
    expect(() => logger.error({ err: frozen }, 'frozen')).not.toThrow();
    expect(() => logger.error({ err: trap, fields }, 'trap')).not.toThrow();
    expect(raw).toHaveLength(2);
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string).err).toMatchObject({
      type: 'Error',
      message: 'reach postgres://app:[redacted]@db/x',
      code: 'E1',
    });
    expect(JSON.parse(raw[1] as string)).toMatchObject({ err: { message: 'trap' }, fields: { host: 'db' } });
  });

  it('is bounded: what lies past the depth or the values it looks at is not written, nor a cycle', () => {
    const deep = redactLogObject(nest(MAX_LOG_SCAN_DEPTH + 3, { password: 'SECRET-too-deep' }));
    expect(JSON.stringify(deep)).not.toContain('SECRET');
    expect(JSON.stringify(deep)).toContain('[truncated]');
    const wide = { items: Array.from({ length: MAX_LOG_SCAN_NODES + 10 }, (_, i) => `item-${i}`) };
    const cut = redactLogObject(wide).items;
    expect(cut[0]).toBe('item-0');
    expect(cut.at(-1)).toBe('[truncated]');
    const cyclic: Record<string, unknown> = { name: 'loop', password: 'SECRET-cyclic' };
    cyclic.self = cyclic;
    const out = redactLogObject(cyclic);
    expect(out.password).toBe(REDACTED);
    // Not the original: the line would write it, unredacted, below the redacted copy.
    expect(out.self).toBe('[Circular]');
    const raw: string[] = [];
    createLogger('info', lineCollector(raw)).info({ cyclic, list: [cyclic] }, 'cycle');
    expect(raw.join('')).not.toContain('SECRET');
    expect(JSON.parse(raw[0] as string)).toMatchObject({
      cyclic: { name: 'loop', password: REDACTED, self: '[Circular]' },
      list: [{ name: 'loop', password: REDACTED, self: '[Circular]' }],
    });
  });

  it('reads no long text as a name: a pair or entry whose name is 4 MiB of words costs its scan by value', () => {
    // Read word by word, such a name took ~3 s (0.7 µs a character); scanned by value, ~40 ms.
    const name = 'aA '.repeat(1_400_000);
    const out = redactLogObject({ pair: [name, 'kept'], entry: { name, value: 'kept' } });
    expect(out.pair[1]).toBe('kept');
    expect(out.entry.value).toBe('kept');
    // As long as the same text as the values, scanned by value both times.
    expectCostLike(
      () => redactLogObject({ pair: [name, 'kept'], entry: { name, value: 'kept' } }),
      () => redactLogObject({ pair: ['kept', name], entry: { name: 'kept', value: name } }),
    );
    // A name of the longest length read still names a credential.
    const long = `${'x'.repeat(MAX_CREDENTIAL_NAME_CHARS - 9)}_password`;
    expect(redactLogObject({ pair: [long, 'SECRET'] }).pair[1]).toBe(REDACTED);
  });

  it('leaves an object with nothing to redact as it is (no copy)', () => {
    const obj = {
      request_id: 'a1b2c3d4-e5f6-7788-9900-aabbccddeeff',
      upstream: 'http://127.0.0.1:8081/mcp',
      files: ['a.rego', 'data.json'],
      err: new Error('connect ECONNREFUSED 127.0.0.1:6379'),
      when: new Date(0),
      conn: new (class {
        host = 'db.internal';
      })(),
      target: new URL('http://127.0.0.1:8081/mcp'),
      bytes: Buffer.from('hi'),
    };
    expect(redactLogObject(obj)).toBe(obj);
  });
});
