/**
 * Bundle signature verification against bundles signed by OPA's own code (tools/policyc, built from OPA
 * 1.4.2's Go sources, signs exactly as `opa build --signing-key`): the canonical JSON hash must equal the
 * one OPA computed, and every way a bundle can fail its signature must be refused.
 */
import { constants, createHash, sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CompactSign, importPKCS8 } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SigningAlgorithm } from '../../../src/config/schema-verification.js';
import { compileGlob, globMatch } from '../../../src/go-glob.js';
import { BundleError, readBundle } from '../../../src/policy/bundle.js';
import type { BundleVerification } from '../../../src/policy/bundle-signature.js';
import { canonicalJson } from '../../../src/policy/canonical-json.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { PolicyReloader } from '../../../src/policy/reloader.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, ROOT } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const SRC = 'test/fixtures/policies/signed';
const keys = tempDir('signing-keys');
const HS_SECRET = 'an HMAC secret of at least 32 bytes!';

function pemPair(type: 'rsa' | 'ec', name: string) {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = join(keys, `${name}.pem`);
  writeFileSync(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { priv, pub: Buffer.from(pair.publicKey.export({ type: 'spki', format: 'pem' }) as string) };
}

const rsa = pemPair('rsa', 'rsa');
const otherRsa = pemPair('rsa', 'other');
const ec = pemPair('ec', 'ec');
const claims = join(keys, 'claims.json');
writeFileSync(claims, JSON.stringify({ scope: 'write' }));

let rs256: string; // folder of a bundle signed with rsa, kid "default"
let es256: string;
let ps256: string; // Go signs PSS with the longest salt; WebCrypto (jose) expects hash-length salt
let hs256: string;
let scoped: string; // claims {"scope": "write"}, no kid
let otherKid: string; // kid "other"
let unsigned: string;

beforeAll(async () => {
  [rs256, es256, hs256, scoped, otherKid, unsigned, ps256] = await Promise.all([
    buildBundle(SRC, { signing: { key: rsa.priv } }),
    buildBundle(SRC, { signing: { key: ec.priv, alg: 'ES256' } }),
    buildBundle(SRC, { signing: { key: HS_SECRET, alg: 'HS256' } }),
    buildBundle(SRC, { signing: { key: rsa.priv, claimsFile: claims } }),
    buildBundle(SRC, { signing: { key: rsa.priv, keyId: 'other' } }),
    buildBundle(SRC),
    buildBundle(SRC, { signing: { key: rsa.priv, alg: 'PS256' } }),
  ]);
}, 300_000);

function verification(
  over: Partial<BundleVerification> & { pub?: Buffer | string } = {},
): BundleVerification {
  const { pub = rsa.pub, ...rest } = over;
  const key = Buffer.from(pub);
  return { algorithm: 'RS256', key: () => key, keyId: 'default', scope: '', excludeFiles: [], ...rest };
}

/** A writable copy of a built bundle folder. */
function copy(dir: string): string {
  const to = join(tempDir('signed-copy'), 'bundle');
  cpSync(dir, to, { recursive: true });
  return to;
}

/** The files and hashes OPA signed in the bundle at `dir`. */
function signedFiles(dir: string): Map<string, { hash: string; algorithm: string }> {
  const token = JSON.parse(readFileSync(join(dir, '.signatures.json'), 'utf8')).signatures[0] as string;
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'));
  return new Map(payload.files.map((f: { name: string }) => [f.name, f]));
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

async function refusal(dir: string, v: BundleVerification): Promise<string> {
  const err = await readBundle(dir, undefined, v).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  return (err as Error).message;
}

describe('canonical JSON hash, against hashes OPA computed', () => {
  it('hashes the source data.json (literal numbers, duplicate keys, unicode keys, escapes) as OPA signed it', () => {
    const want = signedFiles(rs256).get('data.json')?.hash;
    const source = readFileSync(join(ROOT, SRC, 'data.json'));
    expect(sha256(canonicalJson(source))).toBe(want);
    // The bundle's own data.json (OPA's re-encoding, with \u003c and no duplicates) hashes the same.
    expect(sha256(canonicalJson(readFileSync(join(rs256, 'data.json'))))).toBe(want);
    expect(sha256(canonicalJson(readFileSync(join(rs256, '.manifest'))))).toBe(
      signedFiles(rs256).get('.manifest')?.hash,
    );
  });

  it('the fixture tells a naive re-encoding apart (JSON.stringify, UTF-16 key order, reformatted numbers)', () => {
    const want = signedFiles(rs256).get('data.json')?.hash;
    const sortDeep = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sortDeep)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
            )
          : v;
    const naive = JSON.stringify(sortDeep(JSON.parse(readFileSync(join(ROOT, SRC, 'data.json'), 'utf8'))));
    expect(sha256(naive)).not.toBe(want);
  });

  it('writes numbers as written, keys in UTF-8 byte order, strings as Go does', () => {
    const c = (s: string) => canonicalJson(Buffer.from(s)).toString('utf8');
    expect(c(' { "b" : 1.0 , "a" : [ -0 , 1e2, 12345678901234567890123 ] } ')).toBe(
      '{"a":[-0,1e2,12345678901234567890123],"b":1.0}',
    );
    expect(c('{"a":1,"a":{"x":2}}')).toBe('{"a":{"x":2}}');
    expect(c('{"😀":1,"\uffff":2,"é":3,"z":4}')).toBe('{"z":4,"é":3,"\uffff":2,"😀":1}');
    expect(c('"<&>\\u2028\\u2029\\u0001\\b\\f\\n\\r\\t\\"\\\\\\/\\ud800\u007f"')).toBe(
      '"<&>\\u2028\\u2029\\u0001\\b\\f\\n\\r\\t\\"\\\\/\uFFFD\u007f"',
    );
    expect(c('\uFEFF{"a":true}')).toBe('{"a":true}');
    expect(() => canonicalJson(Buffer.from('{"a":1,}'))).toThrow();
    expect(() => canonicalJson(Buffer.from([0x22, 0xff, 0x22]))).toThrow(/UTF-8/);
  });
});

describe('signed bundles that verify', () => {
  it('loads a bundle signed by policyc, as a folder and as a tarball with /-prefixed entries', async () => {
    expect((await readBundle(rs256, undefined, verification())).data).toMatchObject({
      signed: { allow: true },
    });
    const tarball = join(dirname(rs256), 'bundle.tar.gz');
    expect((await readBundle(tarball, undefined, verification())).revision).toBeTruthy();
  });

  it('verifies PS256 signatures as Go makes them (salt as long as the key allows), and refuses another key', async () => {
    await expect(readBundle(ps256, undefined, verification({ algorithm: 'PS256' }))).resolves.toBeTruthy();
    expect(await refusal(ps256, verification({ algorithm: 'PS256', pub: otherRsa.pub }))).toMatch(
      /does not verify/,
    );
    expect(await refusal(ps256, verification({ algorithm: 'PS256', pub: ec.pub }))).toMatch(
      /not a PS256 public key/,
    );
  });

  it('verifies ES256 and HS256 signatures with their key', async () => {
    await expect(
      readBundle(es256, undefined, verification({ algorithm: 'ES256', pub: ec.pub })),
    ).resolves.toBeTruthy();
    await expect(
      readBundle(hs256, undefined, verification({ algorithm: 'HS256', pub: HS_SECRET })),
    ).resolves.toBeTruthy();
  });

  it('accepts the configured scope and key id', async () => {
    await expect(readBundle(scoped, undefined, verification({ scope: 'write' }))).resolves.toBeTruthy();
    await expect(readBundle(otherKid, undefined, verification({ keyId: 'other' }))).resolves.toBeTruthy();
  });
});

describe('refusals', () => {
  it('a bundle without .signatures.json', async () => {
    expect(await refusal(unsigned, verification())).toMatch(/no \.signatures\.json/);
  });

  it('a signature made with another key', async () => {
    expect(await refusal(rs256, verification({ pub: otherRsa.pub }))).toMatch(/does not verify/);
    expect(await refusal(hs256, verification({ algorithm: 'HS256', pub: `${HS_SECRET}x` }))).toMatch(
      /does not verify/,
    );
  });

  it('an HS256 signature made with the secret and a line break: the cause named', async () => {
    const echoed = join(keys, 'hs-echoed.key');
    writeFileSync(echoed, `${HS_SECRET}\n`); // as `echo "$SECRET" > hs.key` writes it
    const signed = await buildBundle(SRC, { signing: { key: echoed, alg: 'HS256' } });
    expect(await refusal(signed, verification({ algorithm: 'HS256', pub: HS_SECRET }))).toMatch(
      /signed with the secret followed by a line break .* sign with a file written by printf %s/,
    );
  });

  it('a signature with another algorithm than the configured one', async () => {
    for (const [dir, alg] of [
      [rs256, 'PS256'],
      [hs256, 'RS256'],
      [es256, 'ES384'],
    ] as const) {
      expect(await refusal(dir, verification({ algorithm: alg as SigningAlgorithm }))).toMatch(
        /is signed with/,
      );
    }
  });

  it('an HMAC secret shorter than 32 bytes', async () => {
    expect(await refusal(hs256, verification({ algorithm: 'HS256', pub: 'short' }))).toMatch(
      /shorter than 32/,
    );
  });

  it('an HS* secret that is a PEM key: anyone holding the public key could sign with it', async () => {
    const dir = copy(rs256);
    const files = [...signedFiles(rs256)].map(([name, f]) => ({ name, ...f }));
    const forged = await new CompactSign(Buffer.from(JSON.stringify({ files })))
      .setProtectedHeader({ alg: 'HS256', kid: 'default' })
      .sign(new Uint8Array(rsa.pub));
    writeFileSync(join(dir, '.signatures.json'), JSON.stringify({ signatures: [forged] }));
    expect(await refusal(dir, verification({ algorithm: 'HS256', pub: rsa.pub }))).toMatch(
      /HS256 secret is a PEM key or certificate/,
    );
  });

  it('a tampered data.json, policy.wasm or rego file', async () => {
    const data = copy(rs256);
    writeFileSync(
      join(data, 'data.json'),
      readFileSync(join(data, 'data.json'), 'utf8').replace('"allow":true', '"allow":false'),
    );
    expect(await refusal(data, verification())).toMatch(/data\.json: digest mismatch/);
    const wasm = copy(rs256);
    const bytes = readFileSync(join(wasm, 'policy.wasm'));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    writeFileSync(join(wasm, 'policy.wasm'), bytes);
    expect(await refusal(wasm, verification())).toMatch(/policy\.wasm: digest mismatch/);
    const rego = copy(rs256);
    writeFileSync(join(rego, 'policy.rego'), `${readFileSync(join(rego, 'policy.rego'), 'utf8')}\n`);
    expect(await refusal(rego, verification())).toMatch(/policy\.rego: digest mismatch/);
  });

  it('a data.json whose lone surrogates hash like U+FFFD is loaded as hashed, not as written', async () => {
    // OPA hashes (and loads) a lone surrogate escape as U+FFFD, so "\ud801" and "\ufffd" hash alike, and
    // a key added as "\ud801" before the signed "\ufffd" key drops out of the hash (the last one wins).
    const dir = copy(rs256);
    const path = join(dir, 'data.json');
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('"lone":{');
    writeFileSync(
      path,
      text
        .replace('"lone":{', '"lone":{"\\ud801":{"injected":true},')
        .replace('"\uFFFD lone low"', '"\\udfff lone low"'),
    );
    const { data } = await readBundle(dir, undefined, verification());
    expect((data as { lone: unknown }).lone).toEqual({ '\uFFFD': 'lone high', x: '\uFFFD lone low' });
  });

  it('an extra file, and a missing one', async () => {
    const extra = copy(rs256);
    writeFileSync(join(extra, 'extra.json'), '{}');
    expect(await refusal(extra, verification())).toMatch(/extra\.json is not included/);
    const missing = copy(rs256);
    rmSync(join(missing, 'policy.rego'));
    expect(await refusal(missing, verification())).toMatch(
      /policy\.rego are in the bundle signature but not/,
    );
  });

  it('excluded files are not checked, whatever they hold; others still are', async () => {
    const dir = copy(rs256);
    writeFileSync(join(dir, 'extra.json'), '{}');
    writeFileSync(join(dir, 'policy.rego'), 'tampered');
    await expect(
      readBundle(dir, undefined, verification({ excludeFiles: ['extra.*', '*.rego'] })),
    ).resolves.toBeTruthy();
    expect(await refusal(dir, verification({ excludeFiles: ['extra.*'] }))).toMatch(/policy\.rego: digest/);
    // An excluded file that is signed but absent is still missing (as in OPA).
    rmSync(join(dir, 'policy.rego'));
    expect(await refusal(dir, verification({ excludeFiles: ['extra.*', '*.rego'] }))).toMatch(
      /not in the bundle/,
    );
  });

  it('loads a signed bundle with an exclusion glob JavaScript regexes cannot write but Go reads ([z-a])', async () => {
    const dir = copy(rs256);
    await expect(
      readBundle(dir, undefined, verification({ excludeFiles: ['[z-a]*.json'] })),
    ).resolves.toBeTruthy();
  });

  it('another key id, or another scope', async () => {
    expect(await refusal(otherKid, verification())).toMatch(/names key id other/);
    expect(await refusal(rs256, verification({ keyId: 'other' }))).toMatch(/names key id default/);
    expect(await refusal(scoped, verification())).toMatch(/scope mismatch/);
    expect(await refusal(rs256, verification({ scope: 'write' }))).toMatch(/scope mismatch/);
  });

  it('MD5 and SHA-1 file hashes, and a malformed signatures file', async () => {
    const dir = copy(rs256);
    const key = await importPKCS8(readFileSync(rsa.priv, 'utf8'), 'RS256');
    const files = [...signedFiles(rs256)].map(([name, f]) =>
      name === 'policy.wasm'
        ? {
            name,
            algorithm: 'MD5',
            hash: createHash('md5')
              .update(readFileSync(join(dir, name)))
              .digest('hex'),
          }
        : { name, ...f },
    );
    const token = await new CompactSign(Buffer.from(JSON.stringify({ files, keyid: 'default' })))
      .setProtectedHeader({ alg: 'RS256', kid: 'default' })
      .sign(key);
    writeFileSync(join(dir, '.signatures.json'), JSON.stringify({ signatures: [token] }));
    expect(await refusal(dir, verification())).toMatch(/hash algorithm MD5 is not accepted/);
    writeFileSync(join(dir, '.signatures.json'), JSON.stringify({ signatures: [token, token] }));
    expect(await refusal(dir, verification())).toMatch(/exactly one JWT/);
    writeFileSync(join(dir, '.signatures.json'), '{"signatures": "nope"}');
    expect(await refusal(dir, verification())).toMatch(/not a signatures file/);
  });
});

describe('refusals that no other test pins (mutation review)', () => {
  /** A copy of rs256 whose .signatures.json holds one JWS of `payload` with `header`, signed with `key`. */
  async function resigned(
    payload: Record<string, unknown>,
    header: { alg: string; kid?: string },
    key: Uint8Array | Awaited<ReturnType<typeof importPKCS8>>,
    dir = copy(rs256),
  ): Promise<string> {
    const token = await new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader(header)
      .sign(key);
    writeFileSync(join(dir, '.signatures.json'), JSON.stringify({ signatures: [token] }));
    return dir;
  }
  const files = () => [...signedFiles(rs256)].map(([name, f]) => ({ name, ...f }));
  const rsaKey = () => importPKCS8(readFileSync(rsa.priv, 'utf8'), 'RS256');

  it('a signatures file naming another signing plugin', async () => {
    const dir = copy(rs256);
    const sigs = JSON.parse(readFileSync(join(dir, '.signatures.json'), 'utf8'));
    writeFileSync(join(dir, '.signatures.json'), JSON.stringify({ ...sigs, plugin: 'custom' }));
    expect(await refusal(dir, verification())).toMatch(/signing plugin custom, which is not supported/);
  });

  it('an HMAC secret of 31 bytes, one short of the 32 required, even when the JWT verifies with it', async () => {
    const secret = 'x'.repeat(31);
    const dir = await resigned({ files: files() }, { alg: 'HS256', kid: 'default' }, Buffer.from(secret));
    expect(await refusal(dir, verification({ algorithm: 'HS256', pub: secret }))).toMatch(/shorter than 32/);
    // One byte more is taken: the bound is the one refused, nothing else.
    const ok = 'x'.repeat(32);
    const signed = await resigned({ files: files() }, { alg: 'HS256', kid: 'default' }, Buffer.from(ok));
    await expect(
      readBundle(signed, undefined, verification({ algorithm: 'HS256', pub: ok })),
    ).resolves.toBeTruthy();
  });

  it('an HS* secret that is a PEM certificate, not only a PEM key', async () => {
    const cert = `-----BEGIN CERTIFICATE-----\n${Buffer.alloc(64, 7).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const dir = await resigned({ files: files() }, { alg: 'HS256', kid: 'default' }, Buffer.from(cert));
    expect(await refusal(dir, verification({ algorithm: 'HS256', pub: cert }))).toMatch(
      /HS256 secret is a PEM key or certificate/,
    );
  });

  it('another key id named only in the deprecated keyid claim (no kid header)', async () => {
    const dir = await resigned({ files: files(), keyid: 'other' }, { alg: 'RS256' }, await rsaKey());
    expect(await refusal(dir, verification())).toMatch(/names key id other/);
  });

  it('a PS256 signature by an RSA key shorter than 2048 bits', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signingInput = `${enc({ alg: 'PS256', kid: 'default' })}.${enc({ files: files() })}`;
    const sig = cryptoSign('sha256', Buffer.from(signingInput), {
      key: weak.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    const dir = copy(rs256);
    writeFileSync(
      join(dir, '.signatures.json'),
      JSON.stringify({ signatures: [`${signingInput}.${sig.toString('base64url')}`] }),
    );
    const pub = weak.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(await refusal(dir, verification({ algorithm: 'PS256', pub }))).toMatch(/shorter than 2048 bits/);
  });

  it('a signed data.yaml, even one that is valid JSON with a matching hash', async () => {
    const dir = copy(rs256);
    writeFileSync(join(dir, 'data.yaml'), '{"a":1}');
    const withYaml = [...files(), { name: 'data.yaml', algorithm: 'SHA-256', hash: sha256('{"a":1}') }];
    await resigned({ files: withYaml }, { alg: 'RS256', kid: 'default' }, await rsaKey(), dir);
    expect(await refusal(dir, verification())).toMatch(/data\.yaml: YAML data is not supported/);
  });

  it('a .signatures.json in a subfolder: only the one at the root is the signature, others are files to sign', async () => {
    const dir = copy(rs256);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', '.signatures.json'), '{"signatures":[]}');
    expect(await refusal(dir, verification())).toMatch(/file sub\/\.signatures\.json is not included/);
  });

  it('an exclusion glob matched against the whole path: *.txt leaves sub/notes.txt checked', async () => {
    const dir = copy(rs256);
    writeFileSync(join(dir, 'notes.txt'), 'excluded');
    await expect(readBundle(dir, undefined, verification({ excludeFiles: ['*.txt'] }))).resolves.toBeTruthy();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'notes.txt'), 'not excluded');
    expect(await refusal(dir, verification({ excludeFiles: ['*.txt'] }))).toMatch(
      /file sub\/notes\.txt is not included/,
    );
  });

  it('SHA-1 file hashes (MD5 is pinned above)', async () => {
    const dir = copy(rs256);
    const sha1 = files().map((f) =>
      f.name === 'policy.wasm'
        ? {
            ...f,
            algorithm: 'SHA-1',
            hash: createHash('sha1')
              .update(readFileSync(join(dir, f.name)))
              .digest('hex'),
          }
        : f,
    );
    await resigned({ files: sha1 }, { alg: 'RS256', kid: 'default' }, await rsaKey(), dir);
    expect(await refusal(dir, verification())).toMatch(/hash algorithm SHA-1 is not accepted/);
  });
});

/** A policy engine with the default entrypoints, for a reloader to load into. */
function newEngine(): PolicyEngine {
  return new PolicyEngine({
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
  });
}

describe('a signed bundle folder being watched', () => {
  it('notices a file that readBundle would not load (an added one) and refuses the bundle, keeping the last', async () => {
    const dir = copy(rs256);
    const engine = newEngine();
    const reloader = new PolicyReloader({
      location: dir,
      watch: false,
      pollIntervalMs: 1_000,
      engine,
      logger: silentLogger(),
      verification: verification(),
    });
    await reloader.start();
    const revision = engine.status().revision;
    expect(engine.status()).toMatchObject({ state: 'ok', lastError: null });
    writeFileSync(join(dir, 'notes.txt'), 'not signed');
    await reloader.check(); // seen changed
    await reloader.check(); // settled: read
    expect(engine.status()).toMatchObject({
      state: 'warn',
      revision,
      lastError: expect.stringMatching(/notes\.txt is not included in the bundle signature/),
    });
  });
});

describe('a signed bundle folder changed while it is read', () => {
  it('loads none of what it read, and the folder once it has settled', async () => {
    const dir = copy(rs256);
    const engine = newEngine();
    // The key is read for the signature of the folder, then by the check of the files already read: a
    // change made then happens between the read and the signature taken after it.
    let reads = 0;
    const key = Buffer.from(rsa.pub);
    const reloader = new PolicyReloader({
      location: dir,
      watch: false,
      pollIntervalMs: 1_000,
      engine,
      logger: silentLogger(),
      verification: {
        ...verification(),
        key: () => {
          if (++reads === 2)
            writeFileSync(join(dir, 'data.json'), `${readFileSync(join(dir, 'data.json'), 'utf8')} `);
          return key;
        },
      },
    });
    await reloader.start();
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(engine.status()).toMatchObject({ revision: null });
    await reloader.check(); // seen changed
    await reloader.check(); // settled: read (the trailing space hashes as signed)
    expect(engine.status()).toMatchObject({ state: 'ok', lastError: null });
    expect(engine.revision).toBeTruthy();
  });
});

describe('a verification key that changes', () => {
  it('reads the unchanged bundle again: one refused with the old key loads once the new key is in place', async () => {
    const engine = newEngine();
    let key = otherRsa.pub; // the bundle was published before the Secret was rotated
    const reloader = new PolicyReloader({
      location: join(dirname(rs256), 'bundle.tar.gz'),
      watch: false,
      pollIntervalMs: 1_000,
      engine,
      logger: silentLogger(),
      verification: { ...verification(), key: () => key },
    });
    await reloader.start();
    expect(engine.status()).toMatchObject({
      revision: null,
      lastError: expect.stringMatching(/does not verify/),
    });
    key = rsa.pub;
    await reloader.check();
    expect(engine.status()).toMatchObject({ state: 'ok', lastError: null });
  });
});

describe('globMatch (Go filepath.Match)', () => {
  it('stops * and ? at /', () => {
    expect(globMatch('*.json', 'a.json')).toBe(true);
    expect(globMatch('*.json', 'x/a.json')).toBe(false);
    expect(globMatch('x/?.json', 'x/a.json')).toBe(true);
    expect(globMatch('[a-c].rego', 'b.rego')).toBe(true);
    expect(globMatch('[^a-c].rego', 'b.rego')).toBe(false);
    expect(globMatch('a.json', 'a.json.bak')).toBe(false);
  });

  it('reads classes as Go does: escapes, several ranges, a backwards range matching nothing', () => {
    expect(globMatch('[z-a]*.json', 'b.json')).toBe(false);
    expect(globMatch('[^z-a]*.json', 'b.json')).toBe(true);
    // Go's classes, unlike * and ?, do not stop at the separator.
    expect(globMatch('[^z-a]', '/')).toBe(true);
    expect(globMatch('a[/]c', 'a/c')).toBe(true);
    expect(globMatch('a?c', 'a/c')).toBe(false);
    expect(globMatch('[\\]].json', '].json')).toBe(true);
    expect(globMatch('[a-cx-z0]', 'y')).toBe(true);
    expect(globMatch('[a-cx-z0]', 'd')).toBe(false);
    expect(globMatch('\\*.json', '*.json')).toBe(true);
    expect(globMatch('\\*.json', 'a.json')).toBe(false);
    expect(globMatch('(a|b).json', '(a|b).json')).toBe(true);
    expect(globMatch('(a|b).json', 'a.json')).toBe(false);
    expect(globMatch('é?.json', 'é😀.json')).toBe(true);
  });

  it("refuses what Go's filepath.Match calls a bad pattern, matching nothing", () => {
    for (const bad of ['a\\', '[a', '[]a]', '[-a]', '[a-]', '[^]', '[a-\\']) {
      expect(compileGlob(bad), bad).toBeNull();
      expect(globMatch(bad, 'a'), bad).toBe(false);
    }
  });
});
