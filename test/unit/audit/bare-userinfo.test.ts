/**
 * Passwords in connection strings written without a scheme (src/audit/bare-userinfo.ts), as the value
 * scrub (`scrubSecretValue`) applies it: the password replaced, user and host kept; e-mail addresses, times
 * and SCP-style remotes left alone; linear time on hostile text.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { auditArguments } from '../../../src/audit/mask.js';
import { REDACTED, scrubSecretValue } from '../../../src/audit/secret-values.js';
import { expectLinearTime, fill } from '../../helpers/linear-time.js';

const KEY = Buffer.alloc(32, 5);

describe('scheme-less user information', () => {
  it.each([
    ['user:pass@db.internal:5432/app', 'user:[redacted]@db.internal:5432/app'],
    ['user:pass@tcp(host:3306)/db', 'user:[redacted]@tcp(host:3306)/db'],
    ['root:pw@unix(/var/run/mysqld.sock)/app', 'root:[redacted]@unix(/var/run/mysqld.sock)/app'],
    // Go's mysql DSN with the default address.
    ['{"dsn":"app:s3cret@/sales"}', '{"dsn":"app:[redacted]@/sales"}'],
    ['cache at :hunter2@redis:6379, ok', 'cache at :[redacted]@redis:6379, ok'],
    ['DATABASE_URL=app:p@ss:w0rd@db:5432/x', 'DATABASE_URL=app:[redacted]@db:5432/x'],
    ['u:pw@[fd00::1]:5432/x', 'u:[redacted]@[fd00::1]:5432/x'],
    ['replicas a:1x@h1:5432,h2:5432/db', 'replicas a:[redacted]@h1:5432,h2:5432/db'],
    // A scheme whose URIs name a user without `//` is no user: the password after the user is.
    ['sip:alice:pw-9@pbx.example:5060', 'sip:alice:[redacted]@pbx.example:5060'],
    ['first u:a@h:1 then v:b@tcp(h:2)/d', 'first u:[redacted]@h:1 then v:[redacted]@tcp(h:2)/d'],
    ['use u:pw@db:5432.', 'use u:[redacted]@db:5432.'],
    ['u:pw@db:5432?sslmode=require', 'u:[redacted]@db:5432?sslmode=require'],
    // A word that is a time has no user; one with a user before the time has.
    ['u:2026-12-07T10:30@db:5432/x', 'u:[redacted]@db:5432/x'],
  ])('replaces the password in %s', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('leaves alone what only looks like user information', () => {
    for (const text of [
      'alice@example.com',
      'write to alice@example.com:',
      'mailto:alice@example.com',
      'Note:alice@example.com',
      'sip:alice@pbx.example:5060',
      'at 10:30@home',
      'meet at 10:30@home/office, or 9:05:59@lab:2',
      'git@github.com:org/repo.git',
      'origin:git@github.com:org/repo.git',
      'user:@db:5432/x',
      'ratio a:b@c, then @d:1',
      '@alice: see @bob:1',
      'ssh://git@github.com/org/repo',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('keeps an ISO 8601 time before an @ and an image reference pinned by its digest', () => {
    const digest = `sha256:${'0b1c2d3e'.repeat(8)}`;
    for (const text of [
      '2026-12-07T10:30:00Z@host/x',
      'logged 2026-12-07T10:30:00.123+01:00@worker-1:8080/q',
      'at 20261207t10:30:00,5z@lab:2',
      `image: nginx:1.25@${digest}`,
      `registry.example:5000/team/app:v1.2@${digest}`,
      `nginx:1.25@sha256:${'0123456789'.repeat(6)}abcd`,
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('keeps a URL to the URL redaction: scheme, user and host stay, the password goes once', () => {
    expect(scrubSecretValue('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:[redacted]@db:5432/x');
    expect(scrubSecretValue('a://u@h/x and b:pw@h:1/y')).toBe('a://u@h/x and b:[redacted]@h:1/y');
  });

  it('reads what follows a URL in the same word: its query, its path, a list after it', () => {
    for (const [text, scrubbed] of [
      ['https://h.example/cb?dsn=u:pw@db:5432/x', 'https://h.example/cb?dsn=u:[redacted]@db:5432/x'],
      ['see https://h.example/docs,app:pw@db:5432/x', 'see https://h.example/docs,app:[redacted]@db:5432/x'],
      ['a://h/x;app:pw@tcp(db:3306)/y', 'a://h/x;app:[redacted]@tcp(db:3306)/y'],
      // The URL's own user information is the URL redaction's, once.
      ['a://b:c@d:1/e;f:g@h:2/i', 'a://b:[redacted]@d:1/e;f:[redacted]@h:2/i'],
    ]) {
      expect(scrubSecretValue(text as string), text).toBe(scrubbed);
    }
    for (const text of [
      'https://mastodon.example/@alice:1234/',
      'https://h.example/x?to=alice@example.com',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('is applied to kept argument strings of an audit record', () => {
    const out = auditArguments(
      { dsn: 'app:s3cret@db.internal:5432/sales', owner: 'alice@example.com' },
      { mode: 'plain', paths: [], key: KEY },
    );
    expect(out).toEqual({ dsn: `app:${REDACTED}@db.internal:5432/sales`, owner: 'alice@example.com' });
  });
});

describe('cost on hostile text', () => {
  // One pass: 0.1 to 2 times benign text's time. A scan back from each `@` to the start of its word, or a
  // regex that backtracks over it, takes minutes on the first units (a single word of 2^18 `@`).
  const MIB = 1 << 20;

  it.each([
    'a:b@',
    'a:1@',
    ' u:p@h:1',
    'u:p@h:1/',
    '1:11@h/',
    'x:y@tcp(',
    ' u:p@[::1]:1',
    '@[::::::',
    'mailto:a@',
    '://@',
    ':@/',
    'a://h/u:p@h:1/',
    'a://b:c@',
  ])('scrubs 1 MiB of %j in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, fill(unit, MIB));
  });
});
