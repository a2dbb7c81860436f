import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BundlePersistence } from '../../../src/policy/bundle-persist.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { PolicyReloader } from '../../../src/policy/reloader.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, defaultPolicyBundle } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const URL_A = 'https://bundles.example/a.tar.gz';

describe('BundlePersistence', () => {
  it('keeps the last bundle saved for its URL, replacing the one before, with nothing left half written', async () => {
    const dir = join(tempDir('persist-unit'), 'nested');
    const p = new BundlePersistence(dir, URL_A);
    expect(await p.read()).toEqual({ why: 'no copy has been kept yet' });
    await p.save(Buffer.from('first'), 'r1', new Date('2026-12-05T10:00:00Z'));
    await p.save(Buffer.from('second'), 'r2', new Date('2026-12-05T11:00:00Z'));
    const kept = await p.read();
    expect(kept).toMatchObject({
      file: join(dir, 'bundle.tar.gz'),
      meta: { revision: 'r2', savedAt: '2026-12-05T11:00:00.000Z' },
    });
    expect('bytes' in kept && kept.bytes.toString()).toBe('second');
    expect(readdirSync(dir).sort()).toEqual(['bundle.json', 'bundle.tar.gz']);
    // The URL is recorded only as a hash: it may carry credentials.
    expect(JSON.stringify(kept)).not.toContain('bundles.example');
  });

  it('creates only its own folder: a missing parent fails the save at once', async () => {
    const dir = join(tempDir('persist-unit'), 'missing', 'bundle');
    await expect(new BundlePersistence(dir, URL_A).save(Buffer.from('a'), 'r1')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('does not hand out a copy of another URL, a description it cannot read, or a missing tarball', async () => {
    const dir = tempDir('persist-unit');
    await new BundlePersistence(dir, URL_A).save(Buffer.from('a'), 'r1');
    expect(await new BundlePersistence(dir, `${URL_A}?v=2`).read()).toEqual({
      why: 'the copy kept is of another bundle URL',
    });
    // A save cut short between its two renames: a new tarball under the old description.
    writeFileSync(join(dir, 'bundle.tar.gz'), 'b');
    expect(await new BundlePersistence(dir, URL_A).read()).toEqual({
      why: 'the copy kept is not the one its description names (a save was cut short)',
    });
    rmSync(join(dir, 'bundle.tar.gz'));
    expect(await new BundlePersistence(dir, URL_A).read()).toEqual({
      why: `${join(dir, 'bundle.tar.gz')} cannot be read (ENOENT)`,
    });
    writeFileSync(join(dir, 'bundle.json'), '{"location": 1}');
    expect(await new BundlePersistence(dir, URL_A).read()).toEqual({ why: 'its description cannot be read' });
  });

  it('drops the last copy when a newer bundle cannot be kept, so a restart never goes back to an older policy', async () => {
    const dir = tempDir('persist-unit');
    const p = new BundlePersistence(dir, URL_A);
    await p.save(Buffer.from('r1'), 'r1');
    // The write fails (as on a full /tmp): here its temporary name is taken by a folder.
    mkdirSync(join(dir, `bundle.tar.gz.${process.pid}.tmp`));
    await expect(p.save(Buffer.from('r2'), 'r2')).rejects.toThrow();
    expect(await p.read()).toEqual({ why: 'no copy has been kept yet' });
  });

  it.skipIf(process.getuid === undefined)(
    'does not start on a copy in a folder that others can write to (a shared /tmp): anyone could put a policy there',
    async () => {
      const dir = tempDir('persist-unit');
      const p = new BundlePersistence(dir, URL_A);
      await p.save(Buffer.from('a'), 'r1');
      chmodSync(dir, 0o777);
      expect(await p.read()).toEqual({ why: `${dir} is writable by any user, who could put a bundle there` });
      chmodSync(dir, 0o700);
      expect(await p.read()).toMatchObject({ meta: { revision: 'r1' } });
      // Nor writes one there, which would only be refused in the outage it was kept for; what is in the
      // folder (another user's files in a shared /tmp) is left alone.
      const shared = tempDir('persist-unit');
      writeFileSync(join(shared, 'bundle.tar.gz'), 'not ours');
      chmodSync(shared, 0o777);
      await expect(new BundlePersistence(shared, URL_A).save(Buffer.from('b'), 'r2')).rejects.toThrow(
        `${shared} is writable by any user, who could put a bundle there; a copy kept there would never be used`,
      );
      expect(readdirSync(shared)).toEqual(['bundle.tar.gz']);
      if (process.getuid?.() === 0) {
        chownSync(dir, 12345, 12345);
        expect(await p.read()).toEqual({
          why: `${dir} belongs to another user (uid 12345), who could put a bundle there`,
        });
      }
    },
  );

  it('removes what a process killed while writing left behind (another pid: a restart outside a container)', async () => {
    const dir = tempDir('persist-unit');
    writeFileSync(join(dir, 'bundle.tar.gz.99999999.tmp'), 'half a bundle');
    writeFileSync(join(dir, 'bundle.json.99999999.tmp'), '{');
    writeFileSync(join(dir, 'notes.txt'), 'not ours');
    await new BundlePersistence(dir, URL_A).save(Buffer.from('a'), 'r1');
    expect(readdirSync(dir).sort()).toEqual(['bundle.json', 'bundle.tar.gz', 'notes.txt']);
  });

  it('leaves no temporary file behind when the copy cannot be put in place', async () => {
    const dir = tempDir('persist-unit');
    // The rename fails: a folder holds the copy's name.
    mkdirSync(join(dir, 'bundle.tar.gz', 'x'), { recursive: true });
    await expect(new BundlePersistence(dir, URL_A).save(Buffer.from('r1'), 'r1')).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('a reloader starting on the kept copy', () => {
  const engineOpts = {
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
  };

  /** A bundle server answering `answer` (503 or a body) under a fixed ETag; its URL. */
  async function bundleServer(answer: () => number | Buffer): Promise<{ url: string; close: () => void }> {
    const server = createServer((req, res) => {
      const a = answer();
      if (typeof a === 'number') return void res.writeHead(a).end();
      res.setHeader('etag', '"v1"');
      res.end(req.method === 'HEAD' ? undefined : a);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
    return { url, close: () => server.close() };
  }

  async function started(url: string, dir: string): Promise<{ e: PolicyEngine; reloader: PolicyReloader }> {
    const tarball = await readFile(join(await defaultPolicyBundle(), '..', 'bundle.tar.gz'));
    await new BundlePersistence(dir, url).save(tarball, 'kept');
    const e = new PolicyEngine(engineOpts);
    const reloader = new PolicyReloader({
      location: url,
      watch: false,
      pollIntervalMs: 1000,
      engine: e,
      logger: silentLogger(),
      persist: new BundlePersistence(dir, url),
    });
    await reloader.start();
    return { e, reloader };
  }

  it('shows the URL failing in /readyz (warn) as soon as it serves the copy, without another poll', async () => {
    const s = await bundleServer(() => 503);
    try {
      const { e } = await started(s.url, tempDir('persist-reloader'));
      expect(e.revision).toBeTruthy();
      expect(e.status()).toMatchObject({ state: 'warn', lastError: expect.stringMatching(/HTTP 503/) });
    } finally {
      s.close();
    }
  });

  it('starts on the bundle the URL serves, not on the older copy kept before it', async () => {
    const fresh = await readFile(
      join(await buildBundle('policies', { revision: 'from-url' }), '..', 'bundle.tar.gz'),
    );
    const s = await bundleServer(() => fresh);
    try {
      const { e } = await started(s.url, tempDir('persist-reloader'));
      expect(e.revision).toBe('from-url');
      expect(e.status()).toMatchObject({ state: 'ok', lastError: null });
      // Loaded once: the copy (by now the same bundle, kept at its load) is not loaded over it again.
      expect(e.status().reloads).toEqual({ ok: 1, failed: 0 });
    } finally {
      s.close();
    }
  });

  it('does not keep a downloaded bundle the engine refused: the last good copy stays to start on', async () => {
    // Reads and checks as a bundle, but lacks the entrypoints: load() refuses it.
    const unloadable = await readFile(
      join(
        await buildBundle('test/fixtures/policies/toolchain/ok', { entrypoints: ['mcp/authz/allow'] }),
        '..',
        'bundle.tar.gz',
      ),
    );
    const s = await bundleServer(() => unloadable);
    try {
      const dir = tempDir('persist-reloader');
      const { e } = await started(s.url, dir);
      expect(e.revision).toBeTruthy();
      expect(e.status().lastError).toMatch(/entrypoint/);
      const kept = await new BundlePersistence(dir, s.url).read();
      expect(kept).toMatchObject({ meta: { revision: 'kept' } });
    } finally {
      s.close();
    }
  });

  it('keeps showing a broken bundle at the URL while the copy serves, at every later check', async () => {
    const s = await bundleServer(() => Buffer.from('not a gzip file'));
    try {
      const { e, reloader } = await started(s.url, tempDir('persist-reloader'));
      expect(e.revision).toBeTruthy();
      await reloader.check();
      expect(e.status()).toMatchObject({ state: 'warn', lastError: expect.stringMatching(/gzip/) });
      expect(e.status().reloads).toEqual({ ok: 1, failed: 1 });
    } finally {
      s.close();
    }
  });
});
