/**
 * Redis connection errors in words an operator can act on, the same words for the same cause: an outage is
 * logged again only when they change, so a changing retry delay must not read as a new cause.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { explain, FOLLOW_ON_ERROR, safeMessage } from '../../../src/store/redis-errors.js';

describe('explain', () => {
  it('names another protocol on the port, without ioredis asking for a bug report', () => {
    expect(explain('Protocol error, got "H" as reply type byte. Please report this.')).toBe(
      'no Redis protocol on this port (another service? a TLS port needs rediss://): Protocol error, got "H" as reply type byte.',
    );
  });

  it('says the same of one cause behind Sentinel whatever the retry delay, and explains its last error', () => {
    const at = (ms: number, last: string) =>
      explain(`All sentinels are unreachable. Retrying from scratch after ${ms}ms. Last error: ${last}`);
    const wrongpass = 'WRONGPASS invalid username-password pair or user is disabled.';
    expect(at(79, wrongpass)).toBe(`All sentinels are unreachable. Last error: ${wrongpass}`);
    expect(at(392, wrongpass)).toBe(at(79, wrongpass));
    expect(at(169, 'Protocol error, got "H" as reply type byte. Please report this.')).toMatch(
      /^All sentinels are unreachable\. Last error: no Redis protocol on this port/,
    );
  });

  it("cuts OpenSSL's source path from a TLS error, and names a plain port", () => {
    const openssl = (what: string) =>
      `803C2A2B6E7F0000:error:0A00010B:SSL routines:ssl3_get_record:${what}:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n`;
    expect(explain(openssl('wrong version number'))).toBe(
      'no TLS on this port (a plain Redis port needs redis://)',
    );
    expect(explain(openssl('bad record mac'))).toBe('TLS: bad record mac');
  });

  it('leaves other reasons as they are; the retry-limit message is a consequence, not a cause', () => {
    expect(explain('connect ECONNREFUSED 127.0.0.1:6379')).toBe('connect ECONNREFUSED 127.0.0.1:6379');
    expect(
      FOLLOW_ON_ERROR.test(
        'Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.',
      ),
    ).toBe(true);
  });
});

describe('safeMessage', () => {
  it("keeps a command error's first line and never the password of a Redis URL it starts with", () => {
    const msg = safeMessage(new Error('redis://app:pw-0b5e-secret@redis:6379/0 refused\n  at stack'));
    expect(msg).toBe('redis://app:***@redis:6379/0 refused');
  });

  it('redacts every URL in the message, wherever it stands, user info and query passwords alike', () => {
    const msg = safeMessage(
      new Error(
        'connect to redis://app:pw-0b5e-secret@redis:6379/0 failed; sentinel rediss://s:pw-2@[::1]:26379 and redis://redis:6379?password=pw-3 too',
      ),
    );
    expect(msg).toBe(
      'connect to redis://app:***@redis:6379/0 failed; sentinel rediss://s:***@[::1]:26379 and redis://redis:6379?password=*** too',
    );
    expect(msg).not.toMatch(/pw-/);
  });

  it("redacts a password holding a quote (RFC 3986 allows ' unencoded in user info)", () => {
    expect(safeMessage(new Error("redis://app:it's-secret@redis:6379/0 refused"))).toBe(
      'redis://app:***@redis:6379/0 refused',
    );
  });
});
