/**
 * Other vendors' keys found by their shapes (src/audit/vendor-keys.ts), as the value scrub
 * (`scrubSecretValue`) applies them: each vendor's key replaced, words and near misses kept, a private key's
 * body replaced between its armour lines (to the end of a cut block), linear time on hostile text.
 *
 * The keys are put together at run time, so no secret scanner takes this file for a leak.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { auditArguments } from '../../../src/audit/mask.js';
import { REDACTED, scrubSecretValue } from '../../../src/audit/secret-values.js';
import { expectLinearTime, fill } from '../../helpers/linear-time.js';

const KEY = Buffer.alloc(32, 7);
const rep = (unit: string, n: number) => unit.repeat(n);
const KEYS: Record<string, string> = {
  'OpenAI legacy': `sk-${rep('Ab3d', 12)}`,
  'OpenAI project': `sk-proj-${rep('aB9_x-', 26)}`,
  'OpenAI service account': `sk-svcacct-${rep('Qw7e', 30)}`,
  'OpenAI admin': `sk-admin-${rep('Zt4_', 20)}`,
  "Another vendor's sk- (32 hex)": `sk-${rep('0f3a9c1e', 4)}`,
  Anthropic: `sk-ant-api03-${rep('Xy7-', 23)}zAA`,
  'Anthropic admin': `sk-ant-admin01-${rep('p_Q8', 23)}zAA`,
  'GitHub classic': `ghp_${rep('a1B2', 9)}`,
  'GitHub OAuth': `gho_${rep('c3D4', 9)}`,
  'GitHub user-to-server': `ghu_${rep('e5F6', 9)}`,
  'GitHub server-to-server': `ghs_${rep('g7H8', 9)}`,
  'GitHub refresh': `ghr_${rep('i9J0', 9)}`,
  'GitHub fine-grained': `github_pat_11${rep('ABCD0', 4)}_${rep('x9Yz', 15)}`,
  'AWS access key id': `AKIA${'IOSFODNN7EXAMPLE'}`,
  'AWS temporary key id': `ASIA${rep('Q2W3', 4)}`,
  'Slack bot': `xoxb-${rep('1', 12)}-${rep('2', 13)}-${rep('aB3', 8)}`,
  'Slack user': `xoxp-${rep('4', 11)}-${rep('5', 11)}-${rep('6', 12)}-${rep('c', 32)}`,
  'Slack app-level': `xapp-1-A0${rep('7', 9)}-${rep('4', 13)}-${rep('0f9e', 16)}`,
  'Slack rotating': `xoxe.xoxp-1-${rep('Mi0yLTQ5', 18)}`,
  'Slack refresh': `xoxe-1-${rep('My0xLTk2', 18)}`,
  'Google API key': `AIza${rep('Sy0_', 8)}abc`,
  'Stripe live': `sk_live_${rep('51Hq', 6)}`,
  'Stripe test': `sk_test_${rep('4eC3', 6)}`,
  'Stripe restricted': `rk_live_${rep('9Zx', 9)}`,
};

describe('vendor keys', () => {
  it.each(Object.entries(KEYS))('replaces a %s key, alone or in text', (_vendor, key) => {
    expect(scrubSecretValue(key)).toBe(REDACTED);
    expect(scrubSecretValue(`export API_KEY=${key}; run`)).toBe(`export API_KEY=${REDACTED}; run`);
    expect(scrubSecretValue(`{"key":"${key}"}`)).toBe(`{"key":"${REDACTED}"}`);
  });

  it.each(Object.entries(KEYS))('replaces a %s key right after an escape (JSON, a URL)', (_vendor, key) => {
    // `\n`, `\t`, `\u0020` in a string holding JSON, `%20` in a URL: the character before the key is the
    // escape's, not a word's.
    expect(scrubSecretValue(`{"env":"A=1\\n${key}\\t${key}"}`)).toBe(
      `{"env":"A=1\\n${REDACTED}\\t${REDACTED}"}`,
    );
    expect(scrubSecretValue(`x\\u0020${key}`)).toBe(`x\\u0020${REDACTED}`);
    expect(scrubSecretValue(`/search?q=my%20${key}%0A`)).toBe(`/search?q=my%20${REDACTED}%0A`);
  });

  it('keeps words and near misses: a prefix inside a word, too short, too long, or no digit where words fit', () => {
    for (const text of [
      'sk-learn and scikit-learn',
      'sk-release-notes-for-the-annual-meeting',
      // `sk-` slugs with digits: no real key's shape (one run of letters and digits, or a capital too).
      'sk-release-notes-2024-for-the-annual-meeting-x',
      `sk-${rep('a1', 20)}_draft`,
      `sk-proj-release-2024-${rep('notes-', 8)}`,
      `sk-ant-api03-${rep('lowercase-words-2024-', 5)}`,
      `sk-proj-${rep('Ab3', 13)}`,
      `risk-${rep('0123456789', 4)}`,
      // A key's prefix inside a word (`sk-`, `sk_live_`, `ghp_`, `AKIA`, `AIza`, `xoxb-` after a letter).
      `task_live_${rep('a1B2', 9)}`,
      `xghp_${rep('a1B2', 9)}`,
      `X${'AKIAIOSFODNN7EXAMPLE'}`,
      `MAIza${rep('Sy0_', 8)}abc`,
      `axoxb-${rep('1', 12)}-abc`,
      `ghp_${rep('a1B2', 9).slice(1)}`,
      'ghp_settings and gh_pages',
      `github_pat_${rep('a', 30)}`,
      `AKIA${'IOSFODNN7EXAMPL'}`,
      `AKIA${'IOSFODNN7EXAMPLE'}X`,
      'ASIAPACIFIC and AKIA',
      'xoxb-not-a-token-at-all',
      'xapp-store-listing-page',
      'xoxe-is-not-a-token-either',
      `AIza${rep('Sy0_', 8)}ab`,
      'sk_test_helpers, sk_test_internationalization',
      'rk_live_ and sk_live_abc123',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('is applied to kept argument strings of an audit record', () => {
    const out = auditArguments(
      { env: `OPENAI=${KEYS['OpenAI project']}`, region: 'eu-west-1' },
      { mode: 'plain', paths: [], key: KEY },
    );
    expect(out).toEqual({ env: `OPENAI=${REDACTED}`, region: 'eu-west-1' });
  });
});

describe('PEM private keys', () => {
  const body = `\n${rep('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 3)}\n${rep('xY', 20)}==\n`;

  it.each([
    'PRIVATE KEY',
    'RSA PRIVATE KEY',
    'EC PRIVATE KEY',
    'ENCRYPTED PRIVATE KEY',
    'OPENSSH PRIVATE KEY',
    'PGP PRIVATE KEY BLOCK',
  ])('replaces the body of a %s block, its armour lines kept', (label) => {
    const block = `-----BEGIN ${label}-----${body}-----END ${label}-----`;
    expect(scrubSecretValue(`key:\n${block}\nend`)).toBe(
      `key:\n-----BEGIN ${label}-----${REDACTED}-----END ${label}-----\nend`,
    );
  });

  it('replaces a block written with escaped line breaks, and several blocks', () => {
    const escaped = `-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n-----END PRIVATE KEY-----`;
    expect(scrubSecretValue(`{"pem":"${escaped}","n":"${escaped}"}`)).toBe(
      `{"pem":"-----BEGIN PRIVATE KEY-----${REDACTED}-----END PRIVATE KEY-----","n":"-----BEGIN PRIVATE KEY-----${REDACTED}-----END PRIVATE KEY-----"}`,
    );
  });

  it('replaces everything after the first line of a block cut short (no end)', () => {
    expect(scrubSecretValue(`see -----BEGIN RSA PRIVATE KEY-----${body}`)).toBe(
      `see -----BEGIN RSA PRIVATE KEY-----${REDACTED}`,
    );
  });

  it('keeps certificates, public keys and text that only mentions a private key', () => {
    for (const text of [
      `-----BEGIN CERTIFICATE-----${body}-----END CERTIFICATE-----`,
      `-----BEGIN PUBLIC KEY-----${body}-----END PUBLIC KEY-----`,
      'the -----BEGIN line of a PRIVATE KEY----- file',
      `-----BEGIN ${rep('X', 80)} PRIVATE KEY-----${body}`,
    ]) {
      expect(scrubSecretValue(text), text.slice(0, 40)).toBe(text);
    }
  });
});

describe('PuTTY private key files', () => {
  const publicLines = `Public-Lines: 2\n${rep('AAAAC3NzaC1lZDI1NTE5', 3)}\n${rep('AAAAIBp', 4)}\n`;
  const header = 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy-key\n';
  const file = `${header}${publicLines}Private-Lines: 1\n${rep('AAAAIHs3cr3t', 4)}\nPrivate-MAC: 0d1f2e3c\n`;

  it('replaces the private lines, keeping the header, the public lines and the MAC', () => {
    expect(scrubSecretValue(`key:\n${file}end`)).toBe(
      `key:\n${header}${publicLines}Private-Lines:${REDACTED}Private-MAC: 0d1f2e3c\nend`,
    );
    // Written with escaped line breaks (a file in a JSON string), and two files in one text.
    const escaped = file.replaceAll('\n', '\\n');
    const out = scrubSecretValue(`{"a":"${escaped}","b":"${escaped}"}`);
    expect(out).not.toContain('s3cr3t');
    expect(out.split(`Private-Lines:${REDACTED}Private-MAC: 0d1f2e3c`)).toHaveLength(3);
  });

  it('replaces everything after Private-Lines: in a file cut before its MAC', () => {
    const cut = file.slice(0, file.indexOf('Private-MAC'));
    expect(scrubSecretValue(cut)).toBe(`${header}${publicLines}Private-Lines:${REDACTED}`);
  });

  it('keeps a file cut before its private lines, and Private-Lines: without a PuTTY header', () => {
    for (const text of [
      `${header}${publicLines}`,
      `the Private-Lines: field holds ${rep('AAAAIHs3cr3t', 4)}`,
    ]) {
      expect(scrubSecretValue(text), text.slice(0, 30)).toBe(text);
    }
  });
});

describe('cost on hostile text', () => {
  // One regex whose candidates cannot overlap and one pass per block: 0.1 to 2 times benign text's time. A
  // candidate that may start inside another and looks ahead past it (no lookbehind, a lookahead for the
  // digit) makes `sk-` repeated take minutes.
  const MIB = 1 << 20;

  it.each([
    'sk-',
    'sk-1',
    ' sk-aaaa1',
    ' sk-a1_',
    'sk-proj-',
    ' sk-proj-a1-',
    'sk-ant-api03-',
    ' sk-ant-api03-a1-',
    'ghp_',
    'AKIA',
    'xoxb-1',
    'xoxe.xoxp-1',
    'xapp-1',
    'AIza',
    'sk_live_',
    '-----BEGIN ',
    '-----BEGIN PRIVATE KEY-----',
    '-----BEGIN PRIVATE KEY----------END ',
    '-----BEGIN x',
    '-----',
    'PuTTY-User-Key-File-',
    'PuTTY-User-Key-File-Private-Lines:',
    'PuTTY-User-Key-File-Private-Lines:Private-MAC:',
    'Private-Lines:',
  ])('scrubs 1 MiB of %j in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, fill(unit, MIB));
  });
});
