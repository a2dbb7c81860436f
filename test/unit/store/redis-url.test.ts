import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors/errors.js';
import { keyLayout } from '../../../src/store/redis-keys.js';
import { parseRedisUrl, redactRedisUrl } from '../../../src/store/redis-url.js';

describe('parseRedisUrl', () => {
  it('parses redis:// with credentials and db', () => {
    expect(parseRedisUrl('redis://user:p%40ss@redis.local:6380/2')).toEqual({
      kind: 'standalone',
      node: { host: 'redis.local', port: 6380 },
      db: 2,
      tls: false,
      username: 'user',
      password: 'p@ss',
    });
  });

  it('parses rediss:// with a password only and default port', () => {
    expect(parseRedisUrl('rediss://:secret@redis.local')).toEqual({
      kind: 'standalone',
      node: { host: 'redis.local', port: 6379 },
      db: 0,
      tls: true,
      password: 'secret',
    });
  });

  it('parses sentinel host lists and the master name', () => {
    expect(parseRedisUrl('redis+sentinel://s1:26379,s2,[::1]:26380/mymaster/1')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'mymaster',
      db: 1,
      tls: false,
    });
  });

  it('parses cluster seed nodes and ?tls=true', () => {
    expect(parseRedisUrl('redis+cluster://:pw@n1:7000,n2:7001?tls=true')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      tls: true,
      password: 'pw',
    });
  });

  it.each([
    'redis+sentinel://s1:26379',
    'redis://a:1,b:2',
    'redis+cluster://n1:7000/0',
    'redis://host:99999',
    'redis://host/db',
    'http://host',
  ])('refuses %s without echoing a password', (url) => {
    expect(() => parseRedisUrl(url)).toThrow(/store\.redisUrl/);
    expect(() => parseRedisUrl(url.replace('://', '://u:hunter2@'))).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('hunter2') }),
    );
  });
});

describe('passwords with unescaped @ or /', () => {
  it.each([
    ['redis://user:pa@ss9Zq@127.0.0.1:31379', 'pa@ss9Zq'],
    ['redis://:pa/ss9Zq@127.0.0.1:31379/2', 'pa/ss9Zq'],
  ])('parses %s up to the last @ and never shows the password', (url, password) => {
    expect(parseRedisUrl(url)).toMatchObject({ node: { host: '127.0.0.1', port: 31379 }, password });
    const shown = redactRedisUrl(url);
    expect(shown).not.toContain('ss9Zq');
    expect(shown).toMatch(/:\*\*\*@127\.0\.0\.1:31379/);
  });
});

describe('passwords with a % not percent-encoded', () => {
  it('are refused with the setting and the fix named, never the password', () => {
    const attempt = () => parseRedisUrl('redis://:pa%zzword9Zq@127.0.0.1:6379');
    expect(attempt).toThrow('store.redisUrl: the password is not percent-encoded (write a % in it as %25)');
    expect(attempt).toThrow(expect.not.objectContaining({ message: expect.stringContaining('9Zq') }));
    expect(parseRedisUrl('redis://:pa%25zz@127.0.0.1:6379')).toMatchObject({ password: 'pa%zz' });
  });
});

describe('query parameters other than tls', () => {
  it('are refused, naming where a password and a database go, never the value', () => {
    const attempt = () => parseRedisUrl('redis://redis:6379?password=s3cret-pw');
    expect(attempt).toThrow(
      'store.redisUrl: the query parameter "password" is not read (the only one read is tls, as tls=true or tls=false): give a password in the userinfo',
    );
    // A configuration error, printed under "invalid configuration:" as the others are.
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(expect.not.objectContaining({ message: expect.stringContaining('s3cret') }));
    expect(() => parseRedisUrl('redis://redis:6379?db=2&tls=true')).toThrow(
      'the query parameter "db" is not read',
    );
    expect(parseRedisUrl('redis://redis:6379?tls=true')).toMatchObject({ tls: true });
    expect(parseRedisUrl('redis://redis:6379?tls=TRUE')).toMatchObject({ tls: true });
    expect(parseRedisUrl('redis://redis:6379?tls=false')).toMatchObject({ tls: false });
    // Read as false before: the password went in plain text with the URL asking for TLS.
    for (const bad of ['tls=1', 'tls=yes', 'tls=', 'tls=true&tls=false'])
      expect(() => parseRedisUrl(`redis://:secret-pw@redis:6379?${bad}`)).toThrow(
        'store.redisUrl: tls takes true or false, once (or use rediss://)',
      );
    expect(() => parseRedisUrl('rediss://redis:6379?tls=false')).toThrow('tls=false contradicts it');
  });
});

describe('passwords with a line break (a secret written with echo)', () => {
  it.each([
    'redis://:s3cret-pw\n@redis:6379',
    'redis://:s3cret-pw\r\n@redis:6379',
    'redis+sentinel://:s3cret-pw\n@s1,s2/m',
  ])('are refused with the cause named, never the password: %j', (url) => {
    const attempt = () => parseRedisUrl(url);
    expect(attempt).toThrow('store.redisUrl: contains a line break or another control character');
    expect(attempt).toThrow(expect.not.objectContaining({ message: expect.stringContaining('s3cret') }));
    expect(redactRedisUrl(url)).not.toContain('s3cret');
  });
});

describe('redactRedisUrl', () => {
  it('hides the password only', () => {
    expect(redactRedisUrl('redis://user:hunter2@h:6379/0')).toBe('redis://user:***@h:6379/0');
    expect(redactRedisUrl('redis+sentinel://:hunter2@s1,s2/m')).toBe('redis+sentinel://:***@s1,s2/m');
    expect(redactRedisUrl('redis://h:6379')).toBe('redis://h:6379');
  });

  it('hides the values of query parameters but tls (a password a client library would read there)', () => {
    expect(redactRedisUrl('redis://h:6379/0?password=hunter2')).toBe('redis://h:6379/0?password=***');
    expect(redactRedisUrl('redis+sentinel://s1,s2/m?tls=true&sentinelPassword=hunter2')).toBe(
      'redis+sentinel://s1,s2/m?tls=true&sentinelPassword=***',
    );
    expect(redactRedisUrl('redis+cluster://:pw@n1,n2?tls=true')).toBe('redis+cluster://:***@n1,n2?tls=true');
  });
});

describe('keyLayout', () => {
  it('puts every key in the {authz} hash slot after the prefix', () => {
    const k = keyLayout('mcp-authz:');
    expect([k.key('abc'), k.keyIds, k.revokedTokens, k.revokedKeys, k.version]).toEqual([
      'mcp-authz:{authz}:key:abc',
      'mcp-authz:{authz}:keys',
      'mcp-authz:{authz}:revocation:tokens',
      'mcp-authz:{authz}:revocation:keys',
      'mcp-authz:{authz}:revocation:version',
    ]);
  });
});
