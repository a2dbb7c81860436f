import { describe, expect, it } from 'vitest';
import { scrubSecretValue } from '../../../src/audit/secret-values.js';
import { redactAndCut, redactUriSecrets } from '../../../src/audit/uri-secrets.js';
import { cutText } from '../../../src/cut-text.js';
import { expectCostLike, expectLinearTime } from '../../helpers/linear-time.js';

describe('redactUriSecrets', () => {
  it.each([
    [
      's3://bucket/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261206&X-Amz-Signature=abc123',
      's3://bucket/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED',
    ],
    [
      'https://acct.blob.core.windows.net/c/f.txt?sv=2024-01-01&se=2026-12-07&sig=Zm9vYmFy%3D',
      'https://acct.blob.core.windows.net/c/f.txt?sv=2024-01-01&se=2026-12-07&sig=REDACTED',
    ],
    ['docs://handbook?page=2&access_token=eyJhbGc#top', 'docs://handbook?page=2&access_token=REDACTED#top'],
    ['https://alice:s3cret@files.example/a', 'https://REDACTED@files.example/a'],
    ['crm://acme/c-1?apiKey=k1;session_token=t2', 'crm://acme/c-1?apiKey=REDACTED;session_token=REDACTED'],
    ['x://h/p?%74oken=abc', 'x://h/p?%74oken=REDACTED'],
    // An OAuth redirect carries its token in the fragment.
    [
      'https://app.example/cb#access_token=S3KRET&token_type=bearer',
      'https://app.example/cb#access_token=REDACTED&token_type=REDACTED',
    ],
    ['https://a/cb?x=1#id_token=S2', 'https://a/cb?x=1#id_token=REDACTED'],
  ])('keeps the URI and replaces its secrets: %s', (uri, redacted) => {
    expect(redactUriSecrets(uri)).toBe(redacted);
  });

  it('leaves what holds no secret as it is', () => {
    for (const text of [
      'crm://acme/customers/c-1',
      'docs://search?q=tokens&max_tokens=5&page=',
      'echo',
      'resource docs://a?x=1 needs clearance confidential, you have internal',
      'mailto:alice@example.com',
    ]) {
      expect(redactUriSecrets(text)).toBe(text);
    }
  });

  it('reads a password holding /, ? or # to its @, where a URL parser would end the authority early', () => {
    for (const [uri, redacted, kept] of [
      ['https://u:pa/ss@host/', 'https://REDACTED@host/', 'https://u:[redacted]@host/'],
      ['redis://:p#ss@cache:6379/0', 'redis://REDACTED@cache:6379/0', 'redis://:[redacted]@cache:6379/0'],
      ['mongodb://u:p?ss@h/db', 'mongodb://REDACTED@h/db', 'mongodb://u:[redacted]@h/db'],
      [
        'postgres://app:abc/def+g=@db:5432/x',
        'postgres://REDACTED@db:5432/x',
        'postgres://app:[redacted]@db:5432/x',
      ],
      // A password holding `@` and `/`: up to the last `@` before the host's end.
      [
        'https://u:p/a@ss@host/x?to=a@b.example',
        'https://REDACTED@host/x?to=a@b.example',
        'https://u:[redacted]@host/x?to=a@b.example',
      ],
      // A password of digits holding `/` (a URL parser reads `12` as a port): an `@` in the first segment.
      ['https://u:12/34@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      // More than one `/`, a `?` or `#` in it, or a `/` first (an empty port): digits and those only.
      ['https://u:12/34/56@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      ['https://u:12?34@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      ['https://u:12#34@h/x', 'https://REDACTED@h/x', 'https://u:[redacted]@h/x'],
      ['https://u:/12@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      // Digits ending in `/`, `?` or `#` (the run's first): the password ends in it.
      ['https://u:1234/@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      ['https://u:1234?@h/x', 'https://REDACTED@h/x', 'https://u:[redacted]@h/x'],
      ['https://u:1234#@h', 'https://REDACTED@h', 'https://u:[redacted]@h'],
      // A digit anywhere before the `@`, whatever separators follow it: a path of digits ending in `/` before
      // an `@` cannot be told from such a password (`http://h:1/2/@x` goes too).
      ['https://u:1234//@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      ['https://u:12/34/@h/', 'https://REDACTED@h/', 'https://u:[redacted]@h/'],
      ['https://u:1/?#/@h', 'https://REDACTED@h', 'https://u:[redacted]@h'],
      ['http://h:1/2/@x', 'http://REDACTED@x', 'http://h:[redacted]@x'],
      // A dotted user before a password of digits alone: read as written, in the authority.
      ['https://first.last:1234@h/', 'https://REDACTED@h/', 'https://first.last:[redacted]@h/'],
      ['redis://:1/2@10.0.0.1:6379', 'redis://REDACTED@10.0.0.1:6379', 'redis://:[redacted]@10.0.0.1:6379'],
      [
        'see https://u:12/34@h.example/x now',
        'see https://REDACTED@h.example/x now',
        'see https://u:[redacted]@h.example/x now',
      ],
      [
        'see a://b:c/d and e://f:g/h@i/j',
        'see a://b:c/d and e://REDACTED@i/j',
        'see a://b:c/d and e://f:[redacted]@i/j',
      ],
    ] as const) {
      expect(redactUriSecrets(uri), uri).toBe(redacted);
      expect(scrubSecretValue(uri), uri).toBe(kept);
    }
  });

  it('keeps a port, an IPv6 host and an @ in a path, and a colon with no @ after it', () => {
    for (const text of [
      'http://localhost:3000/api/@me',
      'http://[::1]:8080/@x',
      'https://h.example:8443/a@b',
      'http://h:/x@y',
      'https://host:abc/x',
      'https://u:pa/ss, mail alice@example.com',
      // A port, then an `@` past the first segment, at its start, or after a dotted host.
      'https://h.example:8080/users/bob@example.com/p',
      'https://mastodon.social:443/@alice',
      'https://h.example:8443/bob@example.com',
      'https://u:12/34@',
      // A path holding a letter is no password of digits, nor is `/@handle` one.
      'http://localhost:8080/a@b',
      'http://localhost:8080/v1/users/a@b.example',
      'http://localhost:3000/2024/@me',
      'http://localhost:3000//@me',
      // `localhost` is a host with its port, as a dotted name is: development servers' paths.
      'http://localhost:3000/@me',
      'http://localhost:5173/@vite/client',
      'http://LOCALHOST:4873/@scope/pkg',
      'http://localhost:8080/2024@b',
      // An image's scale in its name.
      'http://localhost:8080/12@2x.png',
      'see https://cdn:443/img/1@1.5x.webp ok',
      // No digit before the `@`.
      'https://u:/@h/',
    ]) {
      expect(redactUriSecrets(text), text).toBe(text);
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('reads user information up to the last @, as a URL parser does', () => {
    expect(redactUriSecrets('https://user:p@ss@host/x')).toBe('https://REDACTED@host/x');
    expect(redactUriSecrets('a https://u:p@h/ and s3://k@b/o?x=1')).toBe(
      'a https://REDACTED@h/ and s3://REDACTED@b/o?x=1',
    );
    expect(redactUriSecrets('mail me@host://@')).toBe('mail me@host://@');
  });

  it('takes time linear in its input, whatever the input (a caller chooses the URI)', () => {
    const hostile = [
      `x://h/${'a.'.repeat(200_000)}@`,
      `${'a://'.repeat(100_000)}@`,
      `x://${'a'.repeat(400_000)}@`,
      `?${'a'.repeat(400_000)}`,
      '?a'.repeat(200_000),
      // A colon with no port after it: the password may run past the authority, to the word's end (an `@`
      // at the end, or user information is not looked for).
      `${'a://b:c/'.repeat(50_000)}@`,
      'a://b:c/@'.repeat(50_000),
      `a://b:c/${'d/'.repeat(200_000)}@`,
      `a://b:c/${'@'.repeat(400_000)}`,
      `a://b:c/d@${'e'.repeat(400_000)}`,
      `${'a://b:1/'.repeat(50_000)}@`,
      'a://b:1/c@'.repeat(40_000),
      `a://b:1/${'@'.repeat(400_000)}`,
      `a://b:1/${'2/?#'.repeat(100_000)}@`,
      'a://b:1/2?3#4@'.repeat(30_000),
      'a://b:/1@'.repeat(40_000),
      'a://b:1/@'.repeat(40_000),
      'a://b:1/2@2x.'.repeat(30_000),
      `a://b:1/${'@'.repeat(400_000)}x`,
    ];
    // Quadratic work on 400 k characters takes minutes; linear, about the time of benign text.
    for (const text of hostile) expectLinearTime(redactUriSecrets, text, { label: text.slice(0, 12) });
  });

  it('reads no long text as a parameter name: a 4 MiB name costs its scan, not a word-by-word read', () => {
    // Judged word by word as a credential's name, such a name took ~2 s (in a log line, say).
    const name = 'aA'.repeat(2 << 20);
    expect(redactUriSecrets(`x://h/p?${name}=v&sig=S`)).toBe(`x://h/p?${name}=v&sig=REDACTED`);
    // As long as the same text as a value, which is scanned, not read word by word.
    expectCostLike(
      () => redactUriSecrets(`x://h/p?${name}=v&sig=S`),
      () => redactUriSecrets(`x://h/p?v=${name}&sig=S`),
    );
  });

  it('redacts URIs inside a policy reason', () => {
    expect(redactUriSecrets('resource s3://b/k?Signature=xyz needs clearance secret')).toBe(
      'resource s3://b/k?Signature=REDACTED needs clearance secret',
    );
  });

  it('redacts before it cuts: a long password keeps the @ that marks it', () => {
    const uri = `https://alice:${'p'.repeat(1_100)}@files.example/report.pdf`;
    expect(redactAndCut(uri, 512)).toBe('https://REDACTED@files.example/report.pdf');
    expect(redactAndCut(`tool?access_token=${'t'.repeat(600)}`, 40)).toBe('tool?access_token=REDACTED');
  });
});

describe('cutText', () => {
  it('never cuts a surrogate pair in two', () => {
    expect(cutText(`${'a'.repeat(9)}😀tail`, 10)).toBe(`${'a'.repeat(9)}…`);
    expect(cutText(`${'a'.repeat(8)}😀tail`, 10)).toBe(`${'a'.repeat(8)}😀…`);
    expect(cutText('short', 10)).toBe('short');
  });
});
