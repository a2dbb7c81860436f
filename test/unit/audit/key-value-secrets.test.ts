/**
 * Credentials written as `name=value` outside a URL's query (src/audit/key-value-secrets.ts), as the value
 * scrub (`scrubSecretValue`) applies them: libpq connection strings, environment listings, command lines;
 * names that only mention a credential kept; linear time on hostile text.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { auditArguments } from '../../../src/audit/mask.js';
import { REDACTED, scrubSecretValue } from '../../../src/audit/secret-values.js';
import { expectLinearTime, fill } from '../../helpers/linear-time.js';

const KEY = Buffer.alloc(32, 9);

describe('credential name=value pairs', () => {
  it.each([
    // libpq: pairs separated by spaces, a value holding spaces quoted, `=` with spaces around it.
    [
      "host=db port=5432 user=app password='p w' dbname=x",
      'host=db port=5432 user=app password=[redacted] dbname=x',
    ],
    ['host=db password=pw dbname=x', 'host=db password=[redacted] dbname=x'],
    ["password = 'it\\'s a \\\\ secret' sslmode=require", 'password = [redacted] sslmode=require'],
    ['{"dsn":"host=db sslpassword=k3y dbname=x"}', '{"dsn":"host=db sslpassword=[redacted] dbname=x"}'],
    // A quote left open (text cut short) runs to the end.
    ["host=db password='p w dbname=x", 'host=db password=[redacted]'],
    // Environment listings and command lines.
    ['export DB_PASSWORD=hunter2; run', 'export DB_PASSWORD=[redacted]; run'],
    ['PGPASSWORD=abc psql -h db', 'PGPASSWORD=[redacted] psql -h db'],
    ['psql --password=s3cret -h db', 'psql --password=[redacted] -h db'],
    // A flag whose value is a pair of its own.
    [
      'kubectl create secret generic x --from-literal=password=x --from-literal=user=bob',
      'kubectl create secret generic x --from-literal=password=[redacted] --from-literal=user=bob',
    ],
    ["helm upgrade --set=db.password='p w' x", 'helm upgrade --set=db.password=[redacted] x'],
    // `''` inside single quotes: a shell joins the two strings, so the value goes on.
    ["sh -c \"PGPASSWORD='it''s x' psql\"", 'sh -c "PGPASSWORD=[redacted] psql"'],
    ["password='' user=bob", 'password=[redacted] user=bob'],
    // A pair inside quotes: its value runs to the closing quote (escaped as the opening one is).
    [
      'kubectl create secret generic x --from-literal="password=p w" --from-literal=user=bob',
      'kubectl create secret generic x --from-literal="password=[redacted]" --from-literal=user=bob',
    ],
    ['{"env":["DB_PASSWORD=p w x","USER=bob"]}', '{"env":["DB_PASSWORD=[redacted]","USER=bob"]}'],
    ['"cmd":"run -e \\"TOKEN=a b\\" img"', '"cmd":"run -e \\"TOKEN=[redacted]\\" img"'],
    ["run 'password=a\\'b c' x", "run 'password=[redacted]' x"],
    // The quote may stand before the name's dashes or its flag: an argument vector (`args:`, `CMD [...]`).
    ['args: ["--password=p w", "--user=bob"]', 'args: ["--password=[redacted]", "--user=bob"]'],
    ['run "-e=DB_PASSWORD=p w" x', 'run "-e=DB_PASSWORD=[redacted]" x'],
    // A quoted message that opens with a pair: its words cannot be told from a password's (documented).
    ['"token=abc is the value" said x', '"token=[redacted]" said x'],
    // No closing quote on the line: to the line's end (the value may hold a space).
    ['"password=p w\nnext', '"password=[redacted]\nnext'],
    ['x "password=p w', 'x "password=[redacted]'],
    ["x '--token=a b\r\nnext", "x '--token=[redacted]\r\nnext"],
    ["x '--from-literal=api_key=a b' y", "x '--from-literal=api_key=[redacted]' y"],
    // Helm's paths with indices, the pair after a space or a flag's `=`.
    ['helm install --set a.b[0].password=x y', 'helm install --set a.b[0].password=[redacted] y'],
    ['helm install --set-string env[12].apiKey=x y', 'helm install --set-string env[12].apiKey=[redacted] y'],
    ['helm --set=db[0][1].token=x', 'helm --set=db[0][1].token=[redacted]'],
    // An assignment's operator before its `=`: make's `:=`, `::=`, `?=`, `+=`, Go's `:=`.
    ['TOKEN := s3cr3t\nall: x', 'TOKEN := [redacted]\nall: x'],
    ['API_KEY ?= s3cr3t', 'API_KEY ?= [redacted]'],
    ['DB_PASSWORD::=s3cr3t x', 'DB_PASSWORD::=[redacted] x'],
    ['TOKEN += s3cr3t', 'TOKEN += [redacted]'],
    ['func f() {\n\tpassword := "hunter2"\n}', 'func f() {\n\tpassword := [redacted]\n}'],
    // A character a shell or Helm escapes is part of a bare value (Helm's `\,` in a list, the shell's `\$`,
    // `\ `); a JSON escape (`\n`, `\"`, `\\`) ends it.
    ['helm install --set db.password=s3cr\\,et y', 'helm install --set db.password=[redacted] y'],
    ['PGPASSWORD=p\\$w\\ x psql', 'PGPASSWORD=[redacted] psql'],
    ['{"cmd":"x TOKEN=abc\\ndef"}', '{"cmd":"x TOKEN=[redacted]\\ndef"}'],
    ['{"cmd":"x \\"TOKEN=abc\\" y"}', '{"cmd":"x \\"TOKEN=[redacted]\\" y"}'],
    // Helm's escaped dot inside a key (`\\.` in JSON text), after a space or a flag's `=`.
    ['helm install --set a\\.b.password=x y', 'helm install --set a\\.b.password=[redacted] y'],
    ['helm --set-string=a\\.b[0].apiKey=x y', 'helm --set-string=a\\.b[0].apiKey=[redacted] y'],
    ['{"cmd":"helm --set a\\\\.b.token=x y"}', '{"cmd":"helm --set a\\\\.b.token=[redacted] y"}'],
    // Indices after the name: an entry of a list of credentials (Bitnami's `auth.passwords`).
    [
      'helm install --set auth.passwords[0]=p1 --set-string auth.passwords[1]=p2 --set auth.usernames[0]=bob',
      'helm install --set auth.passwords[0]=[redacted] --set-string auth.passwords[1]=[redacted] --set auth.usernames[0]=bob',
    ],
    ['--set=apiKeys[0][1]=x', '--set=apiKeys[0][1]=[redacted]'],
    // A short flag with `=`, as `-e TOKEN=x` is read after its space.
    ['docker run -e=TOKEN=x img', 'docker run -e=TOKEN=[redacted] img'],
    ['run "-e=DB_PASSWORD=p" x', 'run "-e=DB_PASSWORD=[redacted]" x'],
    [
      'env: api_key=abc apiKey=def client-secret=ghi',
      'env: api_key=[redacted] apiKey=[redacted] client-secret=[redacted]',
    ],
    // A bare value runs to a space, quote, `;` or `&` (a password may hold `)` or `,`).
    ['(authToken="a b", refresh_tokens=t1)', '(authToken=[redacted], refresh_tokens=[redacted]'],
    // An ADO.NET string's first pair (the rest start after `;`, as query parameters do).
    ['Password=x;Server=db;Database=y', 'Password=[redacted];Server=db;Database=y'],
    // Right after an escape.
    ['"cmd":"run\\npassword=abc"', '"cmd":"run\\npassword=[redacted]"'],
    ['q=run%20token=abc&y=1', 'q=run%20token=[redacted]&y=1'],
    // A connection string inside JSON text: its quotes escaped.
    ['{"dsn":"host=db password=\\"p w\\" dbname=x"}', '{"dsn":"host=db password=[redacted] dbname=x"}'],
    ['{"dsn":"password=\\"p w', '{"dsn":"password=[redacted]'],
    // Two words whose first alone names a credential (Django's SECRET_KEY).
    [
      'export SECRET_KEY=abc; JWT_SECRET_KEY=def secretKeys=ghi token_key=jkl',
      'export SECRET_KEY=[redacted]; JWT_SECRET_KEY=[redacted] secretKeys=[redacted] token_key=[redacted]',
    ],
  ])('replaces the value in %s', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps pairs whose name only mentions a credential, and words that are no pair', () => {
    for (const text of [
      'secret_name=authn.jwt.hsSecret',
      'max_tokens=5 tokens=10 tokenizer=bpe',
      'private_key_id=abc123 password_file=/run/secrets/pw',
      'auth=basic key=value keyspace=sales',
      'a=b token=',
      'password=;',
      'password_policy=strict secret_version=3 token_count=5',
      'token_type := bearer; x ?= 1',
      'items[x].password_file=/run/pw tokens[0]=5',
      // No closing quote on the line and no value before its end.
      '"password=\n',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it('replaces a quoted value whose closing quote is more than 1 KiB on up to that bound', () => {
    const text = `run "password=a ${'b '.repeat(1_000)}"`;
    expect(scrubSecretValue(text)).toBe(`run "password=${REDACTED}${text.slice(15 + 1_024)}`);
  });

  it("keeps the scheme of a header's value the header rule replaced", () => {
    expect(scrubSecretValue('Authorization=Bearer abc123XYZ')).toBe('Authorization=Bearer [redacted]');
  });

  it('is applied to kept argument strings of an audit record', () => {
    const out = auditArguments(
      { dsn: "host=db user=app password='p w'", region: 'eu-west-1' },
      { mode: 'plain', paths: [], key: KEY },
    );
    expect(out).toEqual({ dsn: `host=db user=app password=${REDACTED}`, region: 'eu-west-1' });
  });
});

describe('credential name: value pairs and JSON members in text', () => {
  it.each([
    // JSON in a log message, its value's quotes kept; escaped JSON inside JSON; Python's single quotes.
    ['body={"user":"a","password":"hunter2"}', 'body={"user":"a","password":"[redacted]"}'],
    ['{\\"password\\":\\"x\\"}', '{\\"password\\":\\"[redacted]\\"}'],
    ['"{\\"password\\":\\"x y\\",\\"n\\":1}"', '"{\\"password\\":\\"[redacted]\\",\\"n\\":1}"'],
    // A level deeper (JSON in a JSON string in a JSON string): three backslashes before each quote.
    [String.raw`{\\\"password\\\":\\\"x y\\\"}`, String.raw`{\\\"password\\\":\\\"[redacted]\\\"}`],
    [String.raw`\\\"token\\\": \\\"a\\\\\\\"b\\\", n`, String.raw`\\\"token\\\": \\\"[redacted]\\\", n`],
    [String.raw`\\\"token\\\":\\\"cut`, String.raw`\\\"token\\\":[redacted]`],
    ['msg {"api_key": "abc def", "n": 1} end', 'msg {"api_key": "[redacted]", "n": 1} end'],
    ["{'password': 'p w', 'user': 'bob'}", "{'password': '[redacted]', 'user': 'bob'}"],
    // YAML writes an apostrophe in single quotes as `''`: the value goes on after it.
    ["password: 'it''s x', user: bob", 'password: [redacted], user: bob'],
    ["{'password': '', 'user': 'bob'}", "{'password': '[redacted]', 'user': 'bob'}"],
    ['{"password": 12345, "n": 1}', '{"password": [redacted], "n": 1}'],
    [
      '{"client_secret":"s","access_token":"t"}',
      '{"client_secret":"[redacted]","access_token":"[redacted]"}',
    ],
    ['{"password":"cut sho', '{"password":[redacted]'],
    // An object or array: all of it, written as a string (brackets and quotes inside strings are text).
    ['{"password":{"value":"x"},"n":1}', '{"password":"[redacted]","n":1}'],
    ['log {"token":["a","b"]} end', 'log {"token":"[redacted]"} end'],
    ['{"secret": {"a": ["}", "x\\\\"]}, "n": 1}', '{"secret": "[redacted]", "n": 1}'],
    ["{'password': {'v': 'it}s'}, 'n': 1}", "{'password': '[redacted]', 'n': 1}"],
    ['{\\"api_key\\":{\\"v\\":\\"a}\\\\\\"b\\"},\\"n\\":1}', '{\\"api_key\\":\\"[redacted]\\",\\"n\\":1}'],
    ['{"password":{"value":"cut sho', '{"password":"[redacted]"'],
    // After a bare name too: Node's inspect (console.log of an object), YAML's flow style, an env value.
    ["{ password: { value: 'hunter2' }, n: 1 }", '{ password: [redacted], n: 1 }'],
    ["{ token: [ 'a', 'b}' ] }", '{ token: [redacted] }'],
    ['password: [a, hunter2]\nuser: bob', 'password: [redacted]\nuser: bob'],
    ['DB_PASSWORD={"v":"x"} next', 'DB_PASSWORD=[redacted] next'],
    // A scheme another rule kept stays.
    ['{"authorization":"Bearer changeme"}', '{"authorization":"Bearer [redacted]"}'],
    // `name: value` where the value stands alone (the end, `,`, the next field) or looks like a credential.
    ['db password: x', 'db password: [redacted]'],
    ['password: hunter, user: bob', 'password: [redacted], user: bob'],
    ['token: abc user: bob', 'token: [redacted] user: bob'],
    ['db password: hunter2 next', 'db password: [redacted] next'],
    // A word that is no state's, after a name and a colon, is taken for the value.
    ['invalid token: expiredx', 'invalid token: [redacted]'],
    ['token: expired2', 'token: [redacted]'],
    // Capitals that are no state's word may be base32 (RFC 4648's alphabet is capitals and 2-7).
    ['token: ABCDEFGH', 'token: [redacted]'],
    ['token: JBSWY3DPEHPK3PXP', 'token: [redacted]'],
    // A status may write these, but people pick them as passwords: no state's words.
    ['password: hidden', 'password: [redacted]'],
    ['password: unknown, user: bob', 'password: [redacted], user: bob'],
    ['token: masked', 'token: [redacted]'],
    ['password: Forbidden', 'password: [redacted]'],
    ['api_key: provided', 'api_key: [redacted]'],
  ])('replaces the value in %s', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps prose after a name and a colon, and members that only mention a credential', () => {
    for (const text of [
      'no introspection client secret: opaque tokens are refused (503)',
      'the password: use a manager for it',
      '{"token_type":"bearer","max_tokens":5,"secret_name":"x","key":"value"}',
      '{"password_policy": "strict"}',
      'see https://token:x',
      // A word that says what state the credential is in.
      'invalid token: expired',
      'refresh token: revoked, user: bob',
      'password: required.',
      'token: MISSING',
      'API_KEY: Unset, user: bob',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe('a YAML value on the lines after its key', () => {
  it.each([
    ['password:\n  hunter2', 'password:\n  [redacted]'],
    ['db:\n  password:\n    hunter2\n  user: bob\n', 'db:\n  password:\n    [redacted]\n  user: bob\n'],
    // A block scalar: all its lines, blank ones between them too, up to a line indented no more than the key.
    ['token: |\n  abc\n\n  def\nnext: 1', 'token: |\n  [redacted]\nnext: 1'],
    ['api_key: >-\n  a\n  b\n', 'api_key: >-\n  [redacted]\n'],
    ['token: |2 # note\n   abc\nx: 1', 'token: |2 # note\n   [redacted]\nx: 1'],
    ['password:\r\n  hunter2\r\nuser: bob', 'password:\r\n  [redacted]\r\nuser: bob'],
    // A mapping under a credential's name, as the audit walk masks an object's value: whole.
    ['credentials:\n  user: bob\n  pass: x\nother: y', 'credentials:\n  [redacted]\nother: y'],
    // The key's column is its indentation: a sequence's entry counts its `- `.
    ['- password:\n    hunter2\n- user: x', '- password:\n    [redacted]\n- user: x'],
    // A tag or an anchor before it: kept before a block header, taken with the lines without one; a comment too.
    ['password: !!binary |\n  aHVudGVyMg==\nx: 1', 'password: !!binary |\n  [redacted]\nx: 1'],
    ['password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6231\n', 'password: !vault |\n  [redacted]\n'],
    ['password: &pw\n  hunter2\nx: 1', 'password: [redacted]\nx: 1'],
    ['password: # set below\n  hunter2', 'password: [redacted]'],
    // A quoted key (YAML allows one; JSON printed with its value on the next line), its column its quote's.
    ['"password":\n  hunter2\nuser: bob', '"password":\n  [redacted]\nuser: bob'],
    ["'token': |\n  abc\n'n': 1", "'token': |\n  [redacted]\n'n': 1"],
    // A JSON string, object or array there is read as JSON: what follows its closing quote or bracket stays.
    ['{\n  "password":\n    {"v": "x"}\n}', '{\n  "password":\n    "[redacted]"\n}'],
    ['{"a": {"password":\n      "x"},\n "b": 1}', '{"a": {"password":\n      "[redacted]"},\n "b": 1}'],
    ['{"token":\n    ["a", "b"]],\n "b": 1}', '{"token":\n    "[redacted]"],\n "b": 1}'],
    // A JSON member's value on the next line indented no more than its name, as a tool that does not indent
    // prints JSON: read as on the name's line, its quotes kept.
    ['{\n"api_key":\n"abc123"\n}', '{\n"api_key":\n"[redacted]"\n}'],
    ["'password':\n  'it''s x'\nuser: bob", "'password':\n  '[redacted]'\nuser: bob"],
    // A string a `:` follows is no JSON value but a YAML mapping's key: the mapping goes whole.
    ['"passwords":\n  "alice": hunter2\n  "bob": s3cret\nuser: x', '"passwords":\n  [redacted]\nuser: x'],
    ["'secrets':\n  'db' : hunter2\n", "'secrets':\n  [redacted]\n"],
    ['  "password":\n  "x y",\n  "n": 1', '  "password":\n  "[redacted]",\n  "n": 1'],
    ['"token":\r\n\r\n12345,', '"token":\r\n\r\n[redacted],'],
    ['{"a": {"password":\n    {"v": "x"}}, "b": 1}', '{"a": {"password":\n    "[redacted]"}, "b": 1}'],
    // Indented by a tab (no YAML's, but text may be written so): a tab reaches the next multiple of 8 columns.
    ['password:\n\thunter2\nuser: bob', 'password:\n\t[redacted]\nuser: bob'],
    // Only a stack's frame is no value: `at home` is one.
    ['password:\n  at home\nuser: bob', 'password:\n  [redacted]\nuser: bob'],
    // A recipe's line that opens with no expansion may be a value: all go; so do such lines under an indented key.
    ['rotate-token:\n\t$(MAKE) x\n\thunter2', 'rotate-token:\n\t[redacted]'],
    ['  token:\n\t$(MAKE) x', '  token:\n\t[redacted]'],
    ['token:\n  $(MAKE) x', 'token:\n  [redacted]'],
    ['token: |\n  at a (b:1:2)\n', 'token: |\n  [redacted]\n'],
    ['  token:\n\tabc\n\tdef', '  token:\n\t[redacted]'],
    ['\tpassword:\n\t  hunter2\n\tuser: bob', '\tpassword:\n\t  [redacted]\n\tuser: bob'],
  ])('replaces the value in %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps the next line when it is indented no more than the key, and a stack after an error message', () => {
    for (const text of [
      'password:\nuser: bob',
      // A JSON member's value on the next line is read as on its name's line, but not the next key.
      '"password":\n"user": bob',
      '"password":\nuser: bob',
      "{\n  'token':\n  'user' : bob\n}",
      // A make recipe under a target named like a credential, each line opening with an expansion.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: make's expansion, in the text scrubbed
      'rotate-token:\n\t$(MAKE) -C infra rotate\n\t@${KUBECTL} apply -f x\n\nall: rotate-token',
      '  password:\n  user: bob',
      'Error: invalid token:\n    at verify (/app/a.js:1:2)',
      // A stack indented more than the key: its frames are no value.
      'No token:\n    at verify (/app/a.js:1:2)\n    at run (node:internal/x:3:4)',
      'missing password:\n\tat com.example.Auth.check(Auth.java:42)',
      'no api_key:\n  File "/app/x.py", line 3, in main\n    run()',
      '  token:\n    at /app/a.js:10',
      'password:',
      '\tpassword:\n\tuser: bob',
      '{"password":\n}',
      '        password:\n\tuser: bob',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe('a stack trace after a credential name and a colon', () => {
  it('keeps it when every indented line is a frame, as Node, Java, .NET, Ruby and Python write one', () => {
    for (const text of [
      'Error: no token:\n    at verify (/app/a.js:1:2)\n    at <anonymous>\n    at async run (file:///app/b.mjs:3:4)',
      'no token:\n    at Layer.handle [as handle_request] (/app/x.js:95:5)\n    at new Promise (<anonymous>) {',
      'missing token:\n   at Auth.Check(String t) in C:\\src\\Auth.cs:line 12\n   at Auth.<Run>d__3.MoveNext()\n' +
        '--- End of stack trace from previous location ---',
      'missing password:\n\tat com.example.Auth.check(Auth.java:42)\n\t... 12 more',
      "no token:\n  /app/x.rb:5:in 'check'\n\tfrom /app/x.rb:12:in 'Auth#verify'\n\tfrom /app/x.rb:20:in `<main>'",
      'no api_key:\n  File "/app/x.py", line 3, in main\n    run()\n    ~~~^^\n  File "/app/y.py", line 9, in run\n    x()',
      // A syntax error's frame has no `, in name`; its source line has the marks under it.
      'no token:\n  File "/app/x.py", line 3\n    x = (\n        ^\nSyntaxError: \'(\' was never closed',
      '"token":\n    at verify (/app/a.js:1:2)',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it.each([
    // One line that is no frame: the value may be any of them, and all go.
    ['password:\n  at x)\n  hunter2', 'password:\n  [redacted]'],
    ['No token:\n    at verify (/app/a.js:1:2)\n    hunter2\nnext', 'No token:\n    [redacted]\nnext'],
    ['password:\n  File "a.py", line 1\n    run()\n    hunter2', 'password:\n  [redacted]'],
    // A line under a frame with no `, in name` (a syntax error's) is its source only with the marks under it.
    ['password:\n  File "a", line 1\n    hunter2', 'password:\n  [redacted]'],
    ['password:\n  File "a", line 1\n    hunter2\n  File "b", line 2, in f', 'password:\n  [redacted]'],
    // A Python function's name holds no space.
    ['token:\n  File "a", line 1, in two words', 'token:\n  [redacted]'],
    // A frame's shape only: `at` and text, a call's name with a space in it, a bare path.
    ['password:\n  at x)', 'password:\n  [redacted]'],
    ['token:\n  at my home:12', 'token:\n  [redacted]'],
    ['token:\n  /app/x.rb:12', 'token:\n  [redacted]'],
  ])('replaces the lines of %j', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });
});

describe('a boolean of a name that says something about a credential, not one', () => {
  it('keeps it: passwordless=true, has_password: no, a JSON member, --no-password', () => {
    for (const text of [
      'passwordless=true has_password=yes password_set=1 token_count=0',
      'isTokenSet=1 no_password=on requires_token: no tokenless=off',
      '{"has_password": true, "passwordless":"false", "use_secret": null}',
      'pg_dump --no-password mydb',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });

  it("replaces a credential name's boolean-ish value, and another value of such a name", () => {
    expect(scrubSecretValue('password=true token=null secret: 0')).toBe(
      'password=[redacted] token=[redacted] secret: [redacted]',
    );
    expect(scrubSecretValue('{"password": false}')).toBe('{"password": [redacted]}');
    expect(scrubSecretValue('has_password=hunter2 passwordless=abc')).toBe(
      'has_password=[redacted] passwordless=[redacted]',
    );
  });
});

describe('a credential flag and its value after a space', () => {
  it.each([
    ['--password x', '--password [redacted]'],
    ['psql --password hunter2 -h db', 'psql --password [redacted] -h db'],
    ["psql --password 'it''s x' -h db", 'psql --password [redacted] -h db'],
    ["run --api-key 'k y' --verbose", 'run --api-key [redacted] --verbose'],
    ['mysql --db-password\ts3cret', 'mysql --db-password\t[redacted]'],
    ['mysql --password p\\$w\\ x -h db', 'mysql --password [redacted] -h db'],
    ['"cmd":"run\\n--token abc"', '"cmd":"run\\n--token [redacted]"'],
    // A flag inside quotes: a bare value runs to the closing quote, or the line's end without one.
    ['args: ["--password p w", "-h"]', 'args: ["--password [redacted]", "-h"]'],
    ['args: ["--password p w\n  next', 'args: ["--password [redacted]\n  next'],
    ["sh -c '--api-key k y' x", "sh -c '--api-key [redacted]' x"],
    ['"cmd":"\\"--token a b\\" run"', '"cmd":"\\"--token [redacted]\\" run"'],
    // `--secret` with no reference's key first: a secret, maybe.
    ['podman run --secret s3cr3t x', 'podman run --secret [redacted] x'],
  ])('replaces the value in %s', (text, scrubbed) => {
    expect(scrubSecretValue(text)).toBe(scrubbed);
  });

  it('keeps a flag that asks for it, names no credential, or is no flag', () => {
    for (const text of [
      'psql --password --host db',
      'pg_dump --password-file /run/pw db',
      'use --token-count 5 and --max-tokens 9',
      'a--password x',
      'mysql -p secret',
      'ends with --password',
      // A reference to a secret, as Docker's and Podman's `--secret` take one.
      'docker build --secret id=npmrc,src=/home/a/.npmrc .',
      'docker buildx build --secret type=env,id=GH_TOKEN .',
    ]) {
      expect(scrubSecretValue(text), text).toBe(text);
    }
  });
});

describe('cost on hostile text', () => {
  // A pair starts only at a word's start: 0.2 to 2 times benign text's time. A name that could start after
  // any `-` or `.` of a word would be read again from each: minutes for the first units. Each text ends in
  // `!=`, so it holds the `=` the rule looks for and no name reaches it.
  it.each([
    'a-',
    'a.',
    '--a-',
    ' password=',
    " password='",
    " password='\\",
    ' password="\\"',
    ' password=\\"',
    ' password=\\"\\',
    ' password=\\"\\\\',
    ' SECRET_KEY=',
    ' a  =',
    '"a"=',
    ' token = ',
    '%20token=',
    ' passwordpasswordpassword',
    // A name is read back from each `=`: never past the last one, nor past 135 characters.
    '=',
    ' =',
    `${'a'.repeat(134)}=`,
    `${'a'.repeat(140)}=`,
    '%20=',
    '\\u0020--a=',
    '--a=',
    ' --a=password=',
    ' -a=password=',
    '[0]',
    '"password=a ',
    '\'password=a "',
    '\\"password=a ',
    '"--password=a ',
    '"-e=token=a \'-e=token=a ',
    `'password=a${' b'.repeat(600)}`,
    ' a[0]',
    '][0].token=',
    `${'[1]'.repeat(50)}password=`,
    ' password[0]=',
    `${'[1]'.repeat(50)}=`,
    ' -=password=',
    // An escaped dot is read back over once, bounded as the rest of the run.
    'a\\.b=',
    ' a\\\\.b=',
    ' a\\.b.password=',
    `${'a\\.'.repeat(50)}password=`,
    `${'\\'.repeat(200)}.password=`,
    `--${'a'.repeat(134)}=password=`,
    // A name before `:` or a quoted one: read back no further than the last `=` or `:`.
    '"password":"',
    '"password":',
    '\\"password\\":\\"',
    "'password': '",
    // An object or array a credential names: read once to its closing bracket, or to the end.
    '"password":{',
    '"password":[],',
    ' password: {',
    'password=[],',
    // YAML: the key's line read back once, the value's lines once.
    'password:\n',
    '"password":\n',
    ' "password":\n  ',
    '"password":\n\n',
    '"password":\n}',
    '"token":\n ["a"',
    'token:\n  at a (b:1:2)\n',
    `token:\n  at ${'a'.repeat(300)}\n`,
    // A key and a stack's short lines, each read once (one line of 1 MiB: below).
    'token:\n  at a((((',
    '"token":\n "a',
    '"token":\n"a":',
    '"token":\na: ',
    'token:\n\t$(A) ',
    'token:\n\t @+-${',
    `token:\n\t$(${'a'.repeat(70)}`,
    '"token":\n"a" :\n',
    '"token":\n \'a\' :',
    '"token":\n\t{',
    'password: |\n',
    'password:\n\n',
    'password:\n  ',
    'password:\n a\n',
    'password:\n\t',
    '\tpassword:\n\t\t a\n',
    ' password:\n',
    'a\npassword:\n  b\n',
    String.raw`\\\"token\\\":\\\"`,
    String.raw`\\\"token\\\":\\\"a\\\", `,
    '"token":["a"',
    '\\"token\\":{\\"',
    ' password: ',
    ' password: a ',
    ':',
    '"a":',
    '":',
    '\\":',
    `"${'a'.repeat(134)}":`,
    ` password: ${'a'.repeat(70)} `,
    // A flag's name is read forward once, a `--` inside it skipped.
    '--',
    '--a',
    ' --a ',
    ' --password ',
    ' --password -',
    " --password '",
    " --password ''",
    " password=''",
    "'password':'''",
    '--password--password ',
    ` --${'a'.repeat(140)} `,
    // An assignment's operator: read back over once, at most two `:` or one `?` or `+` and the spaces.
    ' token := ',
    ' token::=',
    'token:=:=',
    ' api_key ?= ?',
    '+= token +=',
    // A bare value's shell escapes: read once, each a backslash and one character.
    ' password=a\\ \\,',
    ' --password \\$\\',
    ' token=\\\\ ',
    // Flags inside quotes whose closing quote never comes: each looks for it at most 1 KiB on.
    '"--password p ',
    '"--password p \'--token q ',
  ])('scrubs 1 MiB of %j in about the time of benign text', (unit) => {
    expectLinearTime(scrubSecretValue, `${fill(unit, (1 << 20) - 2)}!=`);
  });

  // One run with no space: a bare value after `name:` that is prose (no credential's look, and a word, not a
  // field, after it) holds the next name's `:`; a value after `=` or `:` runs to a marker another rule wrote,
  // with a space before it, as a scheme's. Each `:` or `=` read the run to its end again: 4 s and 1.3 s for
  // 128 KiB, minutes for 1 MiB.
  it.each([
    ['token:(', ' y z'],
    ['password:{', ' y z'],
    ['secret:[', ' y z'],
    ['token:`', ' y z'],
    ['token=(', ' [redacted]'],
    ['token:(', ' [redacted]'],
  ])('scrubs 1 MiB of %j ending in %j in about the time of benign text', (unit, end) => {
    expectLinearTime(scrubSecretValue, `${fill(unit, (1 << 20) - end.length)}${end}`);
  });

  // Many keys on one line, each followed by what may open a YAML value on the next lines (a block header, a
  // comment, a tag or an anchor): each was read to the line's end (2.2 s for 128 KiB; minutes for 1 MiB).
  it.each(['(token: | #', '(token: |2 #', '(token:&', '(token: !', '(token: &a !b |', '(token: #'])(
    'scrubs 256 KiB of %j in about the time of benign text',
    (unit) => {
      expectLinearTime(scrubSecretValue, fill(unit, 1 << 18));
    },
  );

  // One key, then a line of 1 MiB that opens as a frame: read once, by patterns anchored at both ends. Text
  // with no key is not read as a stack at all.
  it.each([
    ['  ', 'at a (b:1:2) in :line 1 ) in '],
    ['  ', 'at a((((b) '],
    ['  at a (', '[as b] ('],
    ['  ', 'at a:1:1:1'],
    ['  ', 'at async <anonymous> '],
    ['  from ', "a:1:in 'b:1:in "],
    ['  ', 'File "a", line 1, in '],
    ['  File "a", line 1\n    x\n    ', '^~ ~'],
    ['  ', '--- End of a '],
    ['  ', '... 1 more '],
  ])('scrubs a key, then %j and 1 MiB of %j, in about the time of benign text', (head, unit) => {
    expectLinearTime(scrubSecretValue, `token:\n${head}${fill(unit, 1 << 20)}`);
  });

  // A key on a Python frame's line of source, the next frame indented more than the key: a stack's keys
  // are not read for lines again (each read the rest of the stack: 4 s for 2 MiB, the cost growing as the
  // size's power 1.5, so a smaller text is no test). A tab indents 8 columns. Read so, the text costs 0.1 times
  // the benign text's time; read again, 12 to 40 times, too close to the default bound to fail each time.
  it('scrubs a stack nested under keys in about the time of benign text', () => {
    let text = 'token:\n';
    for (let i = 1; text.length < 1 << 21; i++)
      text += `${'\t'.repeat(i)}File "", line 1, in f\n${'\t'.repeat(i)} token:\n`;
    expectLinearTime(scrubSecretValue, text, { maxSlowdown: 4 });
  });

  it('still reads a pair inside a value read as prose, after a space', () => {
    expect(scrubSecretValue('token:(token: hunter2 now')).toBe(`token:(token: ${REDACTED} now`);
    expect(scrubSecretValue('note:(x=1 y z password: s3cret')).toBe(`note:(x=1 y z password: ${REDACTED}`);
  });
});
