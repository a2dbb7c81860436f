/**
 * `policy.persistDir` on real sidecars polling a real bundle server: each bundle loaded from the URL is kept
 * on disk; a sidecar started while the server is down starts on the kept copy (and serves calls, /readyz
 * naming the URL's failure beside the loaded revision) and moves on once the server answers; a copy kept
 * for another URL is not used; under `policy.verification` a kept copy that is not signed is refused.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable } from '../helpers/mcp-client.js';
import { buildBundle, bundleSigningKeys } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

interface PolicyComponent {
  state: string;
  revision: string | null;
  source: string | null;
  lastError: string | null;
}

const { privateKey, publicKey } = bundleSigningKeys('persist-keys');

/** What the bundle server answers: a tarball (ETag changing with it), or 503 while `down`. */
let body: Buffer<ArrayBufferLike> = Buffer.alloc(0);
let version = 0;
let down = false;
let server: Server;
let url = '';
const tarballs: Record<'one' | 'two' | 'signed', Buffer<ArrayBufferLike>> = {
  one: Buffer.alloc(0),
  two: Buffer.alloc(0),
  signed: Buffer.alloc(0),
};

const serve = (b: Buffer<ArrayBufferLike>) => {
  body = b;
  version++;
  down = false;
};

beforeAll(async () => {
  const built = await Promise.all([
    buildBundle('policies', { revision: 'kept-1' }),
    buildBundle('policies', { revision: 'kept-2' }),
    buildBundle('policies', { revision: 'kept-signed', signing: { key: privateKey } }),
  ]);
  const tar = (dir: string) => readFileSync(join(dirname(dir), 'bundle.tar.gz'));
  tarballs.one = tar(built[0]);
  tarballs.two = tar(built[1]);
  tarballs.signed = tar(built[2]);
  server = createServer((req, res) => {
    if (down) return void res.writeHead(503).end();
    res.setHeader('etag', `"v${version}"`);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
}, 300_000);

afterAll(() => {
  server?.close();
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function policy(): Promise<PolicyComponent> {
  const r = await fetch(`${h?.sidecar.adminUrl}/readyz`);
  return ((await r.json()) as { components: { policy: PolicyComponent } }).components.policy;
}

const keptRevision = (dir: string): string | null =>
  existsSync(join(dir, 'bundle.json'))
    ? (JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as { revision: string }).revision
    : null;

describe('policy.persistDir', () => {
  it('keeps each bundle it loads, starts on the kept copy while the URL fails, and moves on once it answers', async () => {
    const persistDir = join(tempDir('persist'), 'bundle');
    const policyConfig = { bundle: url, watch: true, pollIntervalMs: 100, persistDir };
    serve(tarballs.one);
    h = await startHarness({ config: { policy: policyConfig } });
    expect(await policy()).toMatchObject({ state: 'ok', revision: 'kept-1' });
    await until(5_000, async () => keptRevision(persistDir) === 'kept-1');
    expect(readFileSync(join(persistDir, 'bundle.tar.gz')).equals(tarballs.one)).toBe(true);
    await h.stop();

    // A restart while the bundle server is down: the kept copy serves, and /readyz says the URL fails.
    down = true;
    h = await startHarness({ config: { policy: policyConfig } });
    const started = await policy();
    expect(started.revision).toBe('kept-1');
    expect(started.source).toContain('kept copy of');
    expect(h.logs.some((l) => l.includes('serving the kept copy of its last bundle'))).toBe(true);
    // The URL's failure is logged at warn once the copy serves, never as an error saying nothing is loaded.
    const failure = h.logs.find((l) => l.includes('policy bundle could not be read'));
    expect(failure).toContain('"level":"warn"');
    expect(failure).toContain('keeping the last good policy');
    expect(h.logs.some((l) => l.includes('no policy is loaded'))).toBe(false);
    await until(5_000, async () => (await policy()).state === 'warn');
    expect((await policy()).lastError).toMatch(/503/);
    expect((await fetch(`${h.sidecar.adminUrl}/readyz`)).status).toBe(200);
    const client = await connectStreamable(h.mcpUrl, await h.bearer(['user']));
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'kept' } });
      expect(JSON.stringify(result.content)).toContain('kept');
    } finally {
      await client.close();
    }

    // The server is back with a new revision: loaded, and kept in place of the old copy.
    serve(tarballs.two);
    await until(10_000, async () => (await policy()).revision === 'kept-2');
    await until(5_000, async () => keptRevision(persistDir) === 'kept-2');
    expect((await policy()).state).toBe('ok');
  });

  it('does not start on a copy kept for another bundle URL', async () => {
    const persistDir = tempDir('persist-other');
    serve(tarballs.one);
    h = await startHarness({ config: { policy: { bundle: url, watch: false, persistDir } } });
    await until(5_000, async () => keptRevision(persistDir) === 'kept-1');
    await h.stop();

    down = true;
    h = await startHarness({
      config: { policy: { bundle: `${url}?other=1`, watch: false, persistDir } },
    });
    expect(await policy()).toMatchObject({ state: 'error', revision: null });
    expect(h.logs.some((l) => l.includes('the copy kept is of another bundle URL'))).toBe(true);
  });

  it('under policy.verification, refuses a kept copy that is not signed', async () => {
    const persistDir = tempDir('persist-signed');
    const policyConfig = { bundle: url, watch: false, persistDir, verification: { keyFile: publicKey } };
    serve(tarballs.signed);
    h = await startHarness({ config: { policy: policyConfig } });
    expect(await policy()).toMatchObject({ state: 'ok', revision: 'kept-signed' });
    await until(5_000, async () => keptRevision(persistDir) === 'kept-signed');
    await h.stop();

    // Someone with access to the folder swaps the copy for an unsigned bundle, description and all.
    writeFileSync(join(persistDir, 'bundle.tar.gz'), tarballs.one);
    const metaFile = join(persistDir, 'bundle.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, string>;
    const sha256 = createHash('sha256').update(tarballs.one).digest('hex');
    writeFileSync(metaFile, JSON.stringify({ ...meta, sha256 }));
    down = true;
    h = await startHarness({ config: { policy: policyConfig } });
    const refused = await policy();
    expect(refused).toMatchObject({ state: 'error', revision: null });
    expect(refused.lastError).toMatch(/signature/i);
  });
});
