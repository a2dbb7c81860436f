/**
 * Reading bundles (src/policy/bundle.ts, bundle-download.ts): `data.json` files merge as OPA merges them
 * (objects key by key at any depth, a nested document of any type placed at its path, a leaf defined twice
 * is a conflict) and never through a prototype;
 * tarball entries naming paths outside the bundle, or twice, are refused; over HTTP, credentials in the URL
 * travel as a Basic header and never appear in errors, HEAD refused falls back to GET, and no body larger
 * than the limit is read (announced, streamed or inflated).
 *
 * @module
 */
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BUNDLE_BYTES, readBundle } from '../../../src/policy/bundle.js';
import { urlSignature } from '../../../src/policy/bundle-download.js';
import { defaultPolicyBundle } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

let bundleDir: string;
beforeAll(async () => {
  bundleDir = await defaultPolicyBundle();
});

/** A folder bundle with the default policy's wasm and the given data.json files (path → document). */
async function folder(docs: Record<string, unknown>): Promise<string> {
  const dir = tempDir('bundle-read');
  await cp(join(bundleDir, 'policy.wasm'), join(dir, 'policy.wasm'));
  await writeFile(join(dir, '.manifest'), JSON.stringify({ revision: 'r1' }));
  for (const [path, doc] of Object.entries(docs)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), JSON.stringify(doc));
  }
  return dir;
}

/** A tar archive (ustar) of the given entries, gzipped. */
function tarGz(entries: [string, Buffer | string, link?: { type: '1' | '2'; target: string }][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content, link] of entries) {
    const body = Buffer.from(content);
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write(link?.type ?? '0', 156);
    if (link) header.write(link.target, 157, 100, 'utf8');
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** `bytes` written to a file of their own; its path. */
async function written(bytes: Buffer): Promise<string> {
  const file = join(tempDir('bundle-tar'), 'bundle.tar.gz');
  await writeFile(file, bytes);
  return file;
}

describe('a tarball cut short', () => {
  it('is refused when its end-of-archive blocks are missing, even cut at an entry boundary', async () => {
    const wasm = await readFile(join(bundleDir, 'policy.wasm'));
    const whole = tarGz([
      ['.manifest', JSON.stringify({ revision: 'r1' })],
      ['policy.wasm', wasm],
      ['data.json', '{"authz":{}}'],
    ]);
    expect((await readBundle(await written(whole))).revision).toBe('r1');
    const tar = gunzipSync(whole);
    // Without the data.json entry nor the closing blocks: every entry before it whole.
    const cut = gzipSync(tar.subarray(0, tar.length - 1024 - 1024));
    await expect(readBundle(await written(cut))).rejects.toThrow(/without its end-of-archive blocks/);
  });

  it('is told from a file that is no gzip at all, and from a damaged one, when the gzip stream is cut', async () => {
    const whole = tarGz([['.manifest', JSON.stringify({ revision: 'r1' })]]);
    const truncated = await written(whole.subarray(0, whole.length - 100));
    await expect(readBundle(truncated)).rejects.toThrow(
      `bundle ${truncated} is cut short (a partial download or copy?): unexpected end of file`,
    );
    // Only the gzip header made it.
    await expect(readBundle(await written(whole.subarray(0, 10)))).rejects.toThrow(/ is cut short /);
    const text = await written(Buffer.from('<html>502 Bad Gateway</html>'));
    await expect(readBundle(text)).rejects.toThrow(
      `bundle ${text} is not a gzip file: incorrect header check`,
    );
    await expect(readBundle(await written(Buffer.alloc(0)))).rejects.toThrow(/ is not a gzip file: /);
    const damaged = Buffer.from(whole);
    // The CRC-32 of the trailer, one bit off: a whole stream whose data does not check.
    damaged[damaged.length - 8] = (damaged[damaged.length - 8] ?? 0) ^ 1;
    await expect(readBundle(await written(damaged))).rejects.toThrow(
      / is a damaged gzip file: incorrect data check/,
    );
  });
});

describe('the manifest revision', () => {
  it('is refused with control characters, line breaks or over 256 characters (it is printed and recorded)', async () => {
    for (const [revision, why] of [
      ['r\n\u001b[31mRED\u001b[0m\r\nX-Injected: 1', 'no control characters or line breaks'],
      ['r\u2028x', 'no control characters or line breaks'],
      ['r'.repeat(257), 'at most 256 characters'],
    ]) {
      const dir = await folder({ 'data.json': {} });
      await writeFile(join(dir, '.manifest'), JSON.stringify({ revision }));
      await expect(readBundle(dir)).rejects.toThrow(`.manifest revision: ${why}`);
    }
    const ok = await folder({ 'data.json': {} });
    await writeFile(join(ok, '.manifest'), JSON.stringify({ revision: 'v1.2.3+git.abc/é' }));
    expect((await readBundle(ok)).revision).toBe('v1.2.3+git.abc/é');
  });
});

describe('policy.maxBundleBytes', () => {
  it('refuses a tarball over the bound decompressed, naming the setting; a larger bound takes it', async () => {
    const wasm = await readFile(join(bundleDir, 'policy.wasm'));
    const data = JSON.stringify({ authz: { filler: 'x'.repeat(200_000) } });
    const file = await written(
      tarGz([
        ['.manifest', '{"revision":"big"}'],
        ['policy.wasm', wasm],
        ['data.json', data],
      ]),
    );
    await expect(readBundle(file, undefined, undefined, undefined, 100_000)).rejects.toThrow(
      /is over 100000 bytes decompressed \(policy\.maxBundleBytes/,
    );
    await expect(readBundle(file, undefined, undefined, undefined, 2_000_000)).resolves.toMatchObject({
      revision: 'big',
    });
  });

  it('refuses a folder bundle over the bound in its files before reading them, as a tarball', async () => {
    const bound = (await readFile(join(bundleDir, 'policy.wasm'))).length + 100_000;
    const big = await folder({ 'data.json': { authz: { filler: 'x'.repeat(200_000) } } });
    await expect(readBundle(big, undefined, undefined, undefined, bound)).rejects.toThrow(
      `is over ${bound} bytes in its files (policy.maxBundleBytes`,
    );
    const small = await folder({ 'data.json': { authz: { filler: 'x'.repeat(50_000) } } });
    await expect(readBundle(small, undefined, undefined, undefined, bound)).resolves.toBeDefined();
  });
});

describe('the manifest roots', () => {
  const withRoots = async (roots: string[], docs: Record<string, unknown>) => {
    const dir = await folder(docs);
    await writeFile(join(dir, '.manifest'), JSON.stringify({ revision: 'r1', roots }));
    return readBundle(dir);
  };

  it('refuse data outside them, as OPA does', async () => {
    await expect(withRoots(['nothing/here'], { 'data.json': { authz: { x: 1 } } })).rejects.toThrow(
      'the manifest roots (nothing/here) do not permit data at /authz',
    );
    await expect(
      withRoots(['authz/catalog'], { 'data.json': { authz: { catalog: { a: 1 }, roles: {} } } }),
    ).rejects.toThrow('do not permit data at /authz/roles');
    // A value on the way to a root that is no object holds data the roots do not permit.
    await expect(withRoots(['authz/catalog'], { 'data.json': { authz: 1 } })).rejects.toThrow(
      'do not permit data at /authz',
    );
  });

  it('take data under them, the root "" or no roots at all', async () => {
    const docs = { 'data.json': { authz: { catalog: { a: 1 } } }, 'authz/catalog/tools/data.json': { b: 2 } };
    for (const roots of [['authz'], ['authz/catalog'], ['/authz/catalog/'], [''], ['other', 'authz']]) {
      await expect(withRoots(roots, docs), roots.join()).resolves.toMatchObject({ revision: 'r1' });
    }
    await expect(readBundle(await folder(docs))).resolves.toMatchObject({ revision: 'r1' });
  });
});

describe('data.json merging', () => {
  it('merges objects key by key at any depth, whatever the order of the files', async () => {
    const dir = await folder({
      'data.json': { authz: { roles: { guest: {} } } },
      'authz/catalog/data.json': { tools: { echo: {} } },
      'authz/data.json': { default_sensitivity: 'internal' },
    });
    const b = await readBundle(dir);
    expect(b.data).toEqual({
      authz: { roles: { guest: {} }, catalog: { tools: { echo: {} } }, default_sensitivity: 'internal' },
    });
  });

  it('refuses a value defined twice', async () => {
    const dir = await folder({ 'data.json': { authz: { x: 1 } }, 'authz/data.json': { x: 2 } });
    await expect(readBundle(dir)).rejects.toThrow(/key x defined twice/);
  });

  it('places a nested document that is not an object at its path, as OPA does; the root must be an object', async () => {
    const dir = await folder({
      'data.json': { authz: { roles: {} } },
      'authz/networks/data.json': ['10.0.0.0/8'],
      'authz/limits/export/data.json': 500,
    });
    expect((await readBundle(dir)).data).toEqual({
      authz: { roles: {}, networks: ['10.0.0.0/8'], limits: { export: 500 } },
    });
    const clash = await folder({ 'data.json': { authz: { networks: {} } }, 'authz/networks/data.json': [] });
    await expect(readBundle(clash)).rejects.toThrow(/key networks defined twice/);
    await expect(readBundle(await folder({ 'data.json': [1] }))).rejects.toThrow(
      /data\.json must hold a JSON object \(it is the root\)/,
    );
  });

  it('reaches no prototype: a folder named __proto__ is a key like any other', async () => {
    const dir = await folder({ '__proto__/data.json': { polluted: 'yes' }, 'data.json': { toString: 1 } });
    const b = await readBundle(dir);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(b.data, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(b.data))).toMatchObject({ toString: 1 });
  });
});

describe('a folder that is not a compiled bundle', () => {
  it('says to point policy.bundle at a build output, not at the policy sources', async () => {
    const dir = tempDir('bundle-sources');
    await writeFile(join(dir, 'authz.rego'), 'package mcp.authz\n');
    await writeFile(join(dir, 'data.json'), '{}');
    await expect(readBundle(dir)).rejects.toThrow(
      /has no policy\.wasm: .*npm run policy:build -- --src <folder> --out <dir>.*<dir>\/bundle/,
    );
  });
});

describe('tarball entries', () => {
  const wasm = async () => readFile(join(bundleDir, 'policy.wasm'));

  it.each([
    ['a path with ..', [['x/../data.json', '{}']], /outside the bundle/],
    ['a path that is ..', [['../data.json', '{}']], /outside the bundle/],
    [
      'an entry that appears twice',
      [
        ['/data.json', '{"a":1}'],
        ['data.json', '{"a":2}'],
      ],
      /appears twice/,
    ],
  ] as [string, [string, string][], RegExp][])('refuses %s', async (_label, entries, message) => {
    const file = join(tempDir('bundle-tar'), 'b.tar.gz');
    await writeFile(file, tarGz([['/policy.wasm', await wasm()], ...entries]));
    await expect(readBundle(file)).rejects.toThrow(message);
  });
});

describe('entries and files that are not what they seem (mutation review)', () => {
  const wasm = async () => readFile(join(bundleDir, 'policy.wasm'));

  it('refuses a tar entry with a . segment, as it refuses ..', async () => {
    const file = await written(
      tarGz([
        ['/policy.wasm', await wasm()],
        ['x/./data.json', '{}'],
      ]),
    );
    await expect(readBundle(file)).rejects.toThrow(/entry x\/\.\/data\.json names a path outside the bundle/);
  });

  it('skips symlink and hard link entries (only regular files count), never reading them as files', async () => {
    for (const type of ['1', '2'] as const) {
      const file = await written(
        tarGz([
          ['/policy.wasm', await wasm()],
          ['/data.json', '', { type, target: '/etc/passwd' }],
          ['/x/data.json', '', { type, target: '../../secret.json' }],
        ]),
      );
      expect((await readBundle(file)).data, `type ${type}`).toEqual({});
    }
  });

  it('refuses a policy.wasm that is not WebAssembly before anything compiles it', async () => {
    const dir = tempDir('bundle-notwasm');
    await writeFile(join(dir, 'policy.wasm'), 'this is not a wasm module at all');
    await expect(readBundle(dir)).rejects.toThrow(/policy\.wasm is not a WebAssembly module/);
  });

  it('reads a Kubernetes ConfigMap mount through its top links only, not its ..<timestamp> folder again', async () => {
    const dir = tempDir('bundle-configmap');
    const real = join(dir, '..2026_12_06_10_00_00.123');
    await mkdir(real);
    await cp(join(bundleDir, 'policy.wasm'), join(real, 'policy.wasm'));
    await writeFile(join(real, 'data.json'), '{"x":1}');
    await writeFile(join(real, '.manifest'), '{"revision":"cm-1"}');
    await symlink('..2026_12_06_10_00_00.123', join(dir, '..data'));
    for (const f of ['policy.wasm', 'data.json', '.manifest']) await symlink(join('..data', f), join(dir, f));
    const b = await readBundle(dir);
    expect(b.revision).toBe('cm-1');
    expect(b.data).toEqual({ x: 1 });
  });
});

describe('bundles over HTTP', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });
  async function serve(
    handler: (
      method: string,
      headers: IncomingHttpHeaders,
    ) => {
      status?: number;
      headers?: Record<string, string>;
      body?: Buffer | string;
    },
  ): Promise<string> {
    server = createServer((req, res) => {
      const out = handler(req.method ?? 'GET', req.headers);
      res.writeHead(out.status ?? 200, out.headers ?? {});
      res.end(req.method === 'HEAD' ? undefined : out.body);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
  }
  const tarball = () => readFile(join(bundleDir, '..', 'bundle.tar.gz'));

  it('sends the URL userinfo as Basic credentials and never shows it', async () => {
    const body = await tarball();
    const seen: (string | undefined)[] = [];
    const url = await serve((_m, h) => {
      seen.push(h.authorization);
      return h.authorization ? { body } : { status: 401 };
    });
    const withUser = url.replace('http://', 'http://alice:s3cret%20pw@');
    const b = await readBundle(withUser);
    expect(b.revision).toBeTruthy();
    expect(seen[0]).toBe(`Basic ${Buffer.from('alice:s3cret pw').toString('base64')}`);
    expect(b.source).not.toContain('s3cret');
    server?.close();
    const err = await readBundle(withUser).catch((e: Error) => e.message);
    expect(err).toMatch(/failed/);
    expect(err).not.toMatch(/s3cret|alice/);
  });

  it('sends a bearer token (read at each request, so a rotated one is used at once) and never shows it', async () => {
    const body = await tarball();
    const seen: (string | undefined)[] = [];
    let valid = 'tok-1';
    const url = await serve((m, h) => {
      seen.push(`${m} ${h.authorization}`);
      return h.authorization === `Bearer ${valid}` ? { body, headers: { etag: '"e1"' } } : { status: 401 };
    });
    let token: string | null = 'tok-1\n';
    const auth = { token: () => (token === null ? null : Buffer.from(token)) };
    expect((await readBundle(url, undefined, undefined, auth)).revision).toBeTruthy();
    expect(await urlSignature(url, auth)).toBe('"e1"');
    expect(seen).toEqual(['GET Bearer tok-1', 'HEAD Bearer tok-1']);
    // The server moved on to a new token: the old one is refused, and the message says so.
    valid = 'tok-2';
    const refused = await readBundle(url, undefined, undefined, auth).catch((e: Error) => e.message);
    expect(refused).toMatch(/HTTP 401 \(the credentials sent were refused\)/);
    expect(refused).not.toContain('tok-1');
    token = 'tok-2';
    expect((await readBundle(url, undefined, undefined, auth)).revision).toBeTruthy();
    // An empty token file: nothing sent, and the 401 says the token is empty.
    token = '\n';
    await expect(urlSignature(url, auth)).rejects.toThrow(
      /HTTP 401 \(no credentials were sent: the bundle token file.*is empty or unreadable\)/,
    );
    // An empty file gives no token at all (the secret source's null): configured, it is named as empty too.
    await expect(urlSignature(url, { token: () => null, configured: true })).rejects.toThrow(
      /the bundle token file, policy\.bundleTokenFile, is empty or unreadable/,
    );
    // None configured: a 401 says how to give one.
    token = null;
    await expect(urlSignature(url, auth)).rejects.toThrow(
      /HTTP 401 \(the server wants credentials: set policy\.bundleTokenFile/,
    );
  });

  it('refuses a bearer token that is no header value, or one given besides userinfo', async () => {
    const url = await serve(() => ({ status: 500 }));
    const bad = { token: () => Buffer.from('abc def\r\nx-injected: 1') };
    const err = await readBundle(url, undefined, undefined, bad).catch((e: Error) => e.message);
    expect(err).toMatch(/not a valid header value/);
    expect(err).not.toMatch(/abc|injected/);
    const both = { token: () => Buffer.from('t') };
    await expect(
      readBundle(url.replace('http://', 'http://u:p@'), undefined, undefined, both),
    ).rejects.toThrow(/give its credentials once/);
  });

  it('refuses a download over policy.maxBundleBytes before reading it all', async () => {
    const body = await tarball();
    const url = await serve(() => ({ body }));
    await expect(readBundle(url, undefined, undefined, undefined, 1_024)).rejects.toThrow(
      /exceeds 1024 bytes \(policy\.maxBundleBytes\)/,
    );
  });

  it('sends the bearer token to the bundle origin only: not on to another origin a redirect names', async () => {
    const body = await tarball();
    const elsewhere: string[] = [];
    const target = await serve((m, h) => {
      elsewhere.push(`${m} ${h.authorization ?? '-'}`);
      return { body, headers: { etag: '"r"' } };
    });
    const home: string[] = [];
    const redirecting = createServer((req, res) => {
      home.push(`${req.method} ${req.headers.authorization ?? '-'}`);
      res.writeHead(302, { location: target }).end();
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/bundle.tar.gz`;
      const auth = { token: () => Buffer.from('tok-secret') };
      expect((await readBundle(url, undefined, undefined, auth)).revision).toBeTruthy();
      expect(await urlSignature(url, auth)).toBe('"r"');
      expect(home).toEqual(['GET Bearer tok-secret', 'HEAD Bearer tok-secret']);
      expect(elsewhere).toEqual(['GET -', 'HEAD -']);
    } finally {
      redirecting.close();
    }
  });

  it('refuses a bundle an https URL redirects to plain http, where anyone on the path could swap it', async () => {
    const body = await tarball();
    const plain = await serve(() => ({ body }));
    const fixtures = join(import.meta.dirname, '../../fixtures/tls');
    const secure = createHttpsServer(
      {
        cert: await readFile(join(fixtures, 'server.pem')),
        key: await readFile(join(fixtures, 'server-key.pem')),
      },
      (_req, res) => res.writeHead(301, { location: plain }).end(),
    );
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    const before = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: await readFile(join(fixtures, 'ca.pem')) } }));
    try {
      const url = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/bundle.tar.gz`;
      await expect(readBundle(url)).rejects.toThrow(/was redirected to plain http; refused/);
      await expect(urlSignature(url)).rejects.toThrow(/was redirected to plain http; refused/);
      // Plain http to plain http is the operator's own choice.
      await expect(readBundle(plain)).resolves.toMatchObject({ revision: expect.any(String) });
    } finally {
      setGlobalDispatcher(before);
      secure.close();
    }
  });

  it('treats an upper-case scheme as a URL, not as a file path', async () => {
    const body = await tarball();
    const url = await serve(() => ({ body }));
    await expect(readBundle(url.replace('http://', 'HTTP://'))).resolves.toMatchObject({
      revision: expect.any(String),
    });
  });

  it('falls back to GET when HEAD is refused (a presigned URL is signed for GET only)', async () => {
    const body = await tarball();
    const seen: string[] = [];
    let etag: string | undefined = '"v7"';
    const url = await serve((m, h) => {
      seen.push(`${m} ${h.range ?? ''}`.trim());
      if (m === 'HEAD') return { status: 403 };
      const headers: Record<string, string> = etag ? { etag } : {};
      return { body, headers };
    });
    // The validators of a one-byte GET, without the body.
    expect(await urlSignature(url)).toBe('"v7"');
    expect(seen).toEqual(['HEAD', 'GET bytes=0-0']);
    // No validators at all: the body's hash.
    etag = undefined;
    seen.length = 0;
    expect(await urlSignature(url)).toMatch(/^[0-9a-f]{64}$/);
    expect(seen).toEqual(['HEAD', 'GET bytes=0-0', 'GET']);
  });

  it('refuses userinfo that is not valid percent-encoding with a clear error', async () => {
    const err = await readBundle('http://al%zzice:pw@127.0.0.1:9/b.tar.gz').catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'BundleError' });
    expect((err as Error).message).toMatch(/userinfo is not valid percent-encoding/);
    expect((err as Error).message).not.toMatch(/pw|al%zz/);
  });

  it('refuses a body announced larger than the limit without reading it, and one that inflates past it', async () => {
    const url = await serve(() => ({
      headers: { 'content-length': String(MAX_BUNDLE_BYTES + 1) },
      body: '',
    }));
    await expect(readBundle(url)).rejects.toThrow(/exceeds/);
    server?.close();
    // 80 MB of zeros, gzipped to ~80 KB and sent with Content-Encoding: gzip, which fetch inflates.
    const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024));
    const url2 = await serve(() => ({ headers: { 'content-encoding': 'gzip' }, body: bomb }));
    await expect(readBundle(url2)).rejects.toThrow(/exceeds/);
  });

  it('cuts a body sent without a length one byte past the limit, in the check that hashes it too', async () => {
    const maxBytes = 4096;
    // Chunked: no Content-Length announces the size, the bound applies as the body streams in.
    const url = await serve(() => ({
      headers: { 'transfer-encoding': 'chunked' },
      body: Buffer.alloc(maxBytes + 1, 1),
    }));
    await expect(urlSignature(url, undefined, maxBytes)).rejects.toThrow(/exceeds 4096 bytes/);
    await expect(readBundle(url, undefined, undefined, undefined, maxBytes)).rejects.toThrow(
      /exceeds 4096 bytes/,
    );
  });
});
