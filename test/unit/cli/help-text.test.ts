/**
 * What `--help` says of `tokens`, `keys create` and `config check` matches what they do: `tokens revoke`
 * revokes opaque tokens too (by the jti the introspection endpoint names), `--expires-at` takes epoch seconds
 * as well as ISO 8601, as `parseTime` does, and `--schema-only` checks the Redis URL too.
 *
 * @module
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as configCheck } from '../../../src/cli/config-check.js';
import { register as keys } from '../../../src/cli/keys.js';
import type { CliIo } from '../../../src/cli/table.js';
import { register as tokens } from '../../../src/cli/tokens.js';
import { parseTime } from '../../../src/iso-time.js';

const io: CliIo = { out: () => undefined, err: () => undefined, exit: () => undefined };

function help(...path: string[]): string {
  const program = new Command('mcp-authz');
  keys(program, io);
  tokens(program, io);
  configCheck(program, io);
  let cmd = program;
  for (const name of path) {
    const next = cmd.commands.find((c) => c.name() === name);
    if (!next) throw new Error(`no command ${path.join(' ')}`);
    cmd = next;
  }
  // One line per option, however wide the help is wrapped.
  return cmd.helpInformation({ error: false }).replace(/\s+/g, ' ');
}

describe('CLI help texts', () => {
  it('tokens: revocations of JWTs and of opaque tokens (introspection), not of JWTs only', () => {
    const group = help();
    expect(group).not.toContain('manage JWT revocations');
    expect(group).toContain('tokens revoke JWTs and opaque tokens (introspection) in the shared Redis store');
    expect(help('tokens', 'revoke')).toContain(
      'or, with authn.introspection, an opaque token (the endpoint names its jti and exp)',
    );
  });

  it('keys create: says a key made without --expires-in or --expires-at never expires', () => {
    // Such a key's record has expiresAt null and is accepted until revoked: a default an operator should
    // choose knowingly, as the help said nothing of it.
    expect(help('keys', 'create')).toContain(
      '--expires-in <duration> lifetime, e.g. 30d, 12h (without it or --expires-at: never expires)',
    );
  });

  it('config check --schema-only: says it checks the Redis URL too, as it does', () => {
    // It parses store.redisUrl (a URL the store would refuse at start fails the check): the help said the
    // schema and the overrides only, so a CI job's failure on the URL read as a bug of the option.
    expect(help('config', 'check')).toContain(
      '--schema-only check the schema, the AUTHZ_* overrides and the Redis URL only,',
    );
  });

  it('keys create --expires-at: ISO 8601 or epoch seconds, both of which it takes', () => {
    expect(help('keys', 'create')).toContain(
      '--expires-at <time> expiry as an ISO 8601 time or epoch seconds',
    );
    expect(parseTime('1798761600').toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(parseTime('2027-01-01T00:00:00Z').toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('--expires-at takes ISO 8601 with its zone, not what Date reads its own way', () => {
    // `01/02/2027` was read as January 2 (US order), `2027-01-01 10:00` and `2027-01-01T10:00` as this
    // machine's local time: a key or a revocation ending at another time than the operator wrote.
    expect(parseTime('2027-01-01T10:00:00+01:00').toISOString()).toBe('2027-01-01T09:00:00.000Z');
    expect(parseTime(' 2027-01-01T10:00Z ').toISOString()).toBe('2027-01-01T10:00:00.000Z');
    expect(parseTime('2027-01-01').toISOString()).toBe('2027-01-01T00:00:00.000Z');
    for (const text of ['01/02/2027', 'Jan 2 2027', '2027-01-02  10:00:00Z', 'tomorrow']) {
      expect(() => parseTime(text), text).toThrow(/use ISO 8601 .* or epoch seconds/);
    }
    for (const text of ['2027-01-01T10:00', '2027-01-01T10:00:00.5', '2027-01-01 10:00']) {
      expect(() => parseTime(text), text).toThrow(/has no time zone/);
    }
  });

  it('--expires-at refuses a day its month does not have, rather than roll it into the next month', () => {
    // `Date` reads 2027-02-30 as March 2 and 2027-04-31 as May 1: a key or a revocation ending days after the
    // time the operator wrote (a typo'd day, or a month's length misremembered), without a word.
    for (const text of ['2027-02-29', '2027-02-30T10:00:00Z', '2027-04-31', '2027-06-31T00:00+02:00']) {
      expect(() => parseTime(text), text).toThrow(/no such day/);
    }
    expect(parseTime('2028-02-29').toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseTime('2027-12-31T23:59:59Z').toISOString()).toBe('2027-12-31T23:59:59.000Z');
    // A time shifted by its offset into another day is still that day, as written.
    expect(parseTime('2027-03-01T00:30+01:00').toISOString()).toBe('2027-02-28T23:30:00.000Z');
  });

  it('--expires-at takes a zone offset without its colon, and a space for the T, as date(1) prints them', () => {
    // `date +%FT%T%z` prints +0000 and `date --rfc-3339=seconds` a space (RFC 3339 allows it): both were read
    // right before times had to carry a zone, and are as unambiguous as the forms taken.
    expect(parseTime('2027-01-02T10:00:00+0100').toISOString()).toBe('2027-01-02T09:00:00.000Z');
    expect(parseTime('2027-01-02 10:00:00+01:00').toISOString()).toBe('2027-01-02T09:00:00.000Z');
    expect(parseTime('2027-01-02 10:00:00Z').toISOString()).toBe('2027-01-02T10:00:00.000Z');
  });
});
