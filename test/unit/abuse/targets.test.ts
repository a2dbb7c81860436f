import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../../src/abuse/rules.js';
import {
  abuseIpTarget,
  forwardedAddress,
  ipv6Prefix64,
  normalizeIp,
  parseSubjectArg,
  subjectBlockValue,
} from '../../../src/abuse/targets.js';

describe('block targets', () => {
  it('writes subjects as tenant/subject with encoded parts', () => {
    expect(subjectBlockValue('acme', 'alice')).toBe('acme/alice');
    expect(subjectBlockValue(null, 'alice')).toBe('/alice');
    expect(subjectBlockValue('acme', 'user/1')).toBe('acme/user%2F1');
    expect(subjectBlockValue('*', 'alice')).toBe('%2A/alice');
  });

  it('parses an operator subject argument', () => {
    expect(parseSubjectArg('acme/alice')).toBe('acme/alice');
    expect(parseSubjectArg('alice')).toBe('*/alice');
    expect(parseSubjectArg('*/alice')).toBe('*/alice');
    expect(parseSubjectArg('/alice')).toBe('/alice');
    expect(parseSubjectArg('acme/user/1')).toBe('acme/user%2F1');
    expect(() => parseSubjectArg('acme/')).toThrow(/no subject/);
    expect(() => parseSubjectArg('')).toThrow(/empty/);
  });

  it('normalises addresses', () => {
    expect(normalizeIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeIp(' 192.0.2.1 ')).toBe('192.0.2.1');
    expect(normalizeIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeIp('unknown')).toBe('unknown');
  });

  it('gives an IPv4-mapped address in hex its IPv4 form, as in dotted form', () => {
    expect(normalizeIp('::ffff:a00:1')).toBe('10.0.0.1');
    expect(normalizeIp('0:0:0:0:0:FFFF:C000:0209')).toBe('192.0.2.9');
    expect(normalizeIp('::ffff:c000:209')).toBe(normalizeIp('::ffff:192.0.2.9'));
  });

  it('matches tool globs', () => {
    expect(globToRegExp('query_*').test('query_customer_data')).toBe(true);
    expect(globToRegExp('query_*').test('xquery_a')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a.c').test('abc')).toBe(false);
    expect(globToRegExp('*').test('anything/at all')).toBe(true);
  });
});

describe('forwardedAddress', () => {
  it.each([
    ['203.0.113.7:50123', '203.0.113.7'],
    ['203.0.113.7', '203.0.113.7'],
    ['[2001:db8:1:2::7]:443', '2001:db8:1:2::7'],
    ['[2001:db8:1:2::7]', '2001:db8:1:2::7'],
    ['2001:db8:1:2::7', '2001:db8:1:2::7'],
    [' 198.51.100.2:8080 ', '198.51.100.2'],
    ['unknown', 'unknown'],
  ])('reads %s as %s', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address);
  });
});

describe('ipv6Prefix64 / abuseIpTarget', () => {
  it.each([
    ['2001:db8:0:1::a', '2001:db8:0:1::/64'],
    ['2001:0DB8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80:1:2:3:4:5:6:7', 'fe80:1:2:3::/64'],
  ])('%s is in %s', (ip, prefix) => {
    expect(ipv6Prefix64(ip)).toBe(prefix);
    expect(abuseIpTarget(ip)).toBe(prefix);
  });

  it('leaves IPv4 (mapped or not) and non-addresses alone', () => {
    expect(ipv6Prefix64('192.0.2.1')).toBeUndefined();
    expect(ipv6Prefix64('::ffff:192.0.2.1')).toBeUndefined();
    expect(abuseIpTarget('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipv6Prefix64('unknown')).toBeUndefined();
  });

  it("counts a client behind a NAT64 gateway (64:ff9b::/96) as its IPv4 address, not the gateway's /64", () => {
    expect(abuseIpTarget('64:ff9b::192.0.2.1')).toBe('192.0.2.1');
    expect(abuseIpTarget('64:ff9b::c000:202')).toBe('192.0.2.2');
    expect(abuseIpTarget('64:ff9b:0:0:0:1:c000:202')).toBe('64:ff9b:0:0::/64');
  });
});
