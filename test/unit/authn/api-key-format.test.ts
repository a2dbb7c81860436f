import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateApiKey,
  generateKeyId,
  hashSecret,
  parseApiKey,
  secretMatches,
} from '../../../src/authn/api-key-format.js';

const pepper = Buffer.from('pepper-pepper-pepper');

describe('API key format', () => {
  it('is <prefix>_<12-char base32 id>_<43-char base64url secret>', () => {
    const k = generateApiKey('mcpk');
    expect(k.key).toMatch(/^mcpk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
    expect(k.key).toBe(`mcpk_${k.id}_${k.secret}`);
    expect(Buffer.from(k.secret, 'base64url')).toHaveLength(32);
  });

  it('generates distinct ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, generateKeyId));
    expect(ids.size).toBe(1000);
  });

  it('parses keys whose secret contains underscores', () => {
    const secret = `${'_'.repeat(3)}${'a'.repeat(40)}`;
    expect(parseApiKey(`mcpk_abcdefgh2345_${secret}`, 'mcpk')).toEqual({
      prefix: 'mcpk',
      id: 'abcdefgh2345',
      secret,
    });
  });

  it.each([
    ['wrong prefix', `xxxx_abcdefgh2345_${'a'.repeat(43)}`],
    ['short id', `mcpk_abc_${'a'.repeat(43)}`],
    ['upper-case id', `mcpk_ABCDEFGH2345_${'a'.repeat(43)}`],
    ['short secret', 'mcpk_abcdefgh2345_abc'],
    ['bad secret chars', `mcpk_abcdefgh2345_${'a'.repeat(42)}=`],
    ['no separators', 'mcpkabcdefgh2345'],
    ['long id', `mcpk_abcdefgh23456_${'a'.repeat(43)}`],
    ['id with other characters around it', `mcpk_x:abcdefgh2345*_${'a'.repeat(43)}`],
  ])('rejects a key with %s', (_name, key) => {
    expect(parseApiKey(key, 'mcpk')).toBeNull();
  });
});

describe('API key hashing', () => {
  it('stores HMAC-SHA256(pepper, secret) as hex', () => {
    expect(hashSecret(pepper, 's3cret')).toBe(createHmac('sha256', pepper).update('s3cret').digest('hex'));
    expect(hashSecret(pepper, 's3cret')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches the right secret only', () => {
    const h = hashSecret(pepper, 'right');
    expect(secretMatches(pepper, 'right', h)).toBe(true);
    expect(secretMatches(pepper, 'wrong', h)).toBe(false);
    expect(secretMatches(Buffer.from('other pepper'), 'right', h)).toBe(false);
  });

  it('takes the same constant-time path for unknown ids and malformed hashes', () => {
    expect(secretMatches(pepper, 'right', null)).toBe(false);
    expect(secretMatches(pepper, 'right', 'not-hex')).toBe(false);
    expect(secretMatches(pepper, 'right', '00'.repeat(32))).toBe(false);
  });
});
