/**
 * Hot reload through PolicyReloader (src/policy/reloader.ts) on copies of the compiled default policy: 20
 * revisions swapped under concurrent evaluation, a corrupt bundle keeping the last good revision, data in
 * subfolders, and downloads from a bundle server (a transient failure retried, a broken bundle fetched once).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { buildDecisionInput } from '../../../src/policy/input.js';
import { PolicyReloader } from '../../../src/policy/reloader.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, defaultPolicyBundle, TRUSTED_FACTS } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const engineOpts = {
  decisionEntrypoint: 'mcp/authz/decision',
  visibleEntrypoint: 'mcp/authz/visible',
  logger: silentLogger(),
};

const guest: Principal = {
  id: 'u-guest',
  tenant: 'acme',
  roles: ['guest'],
  scopes: [],
  clearance: null,
  authMethod: 'jwt',
  claims: {},
};

/** A call of echo by a guest, Monday 10:00 UTC from a trusted network in prod. */
function echoInput() {
  return buildDecisionInput(
    guest,
    classify('tools/call', 1, { name: 'echo', arguments: { text: 'hi' } }),
    { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    TRUSTED_FACTS,
  );
}

let bundleDir: string;
beforeAll(async () => {
  bundleDir = await defaultPolicyBundle();
});

describe('hot reload', () => {
  /** A copy of the default bundle whose revision is `rev` and whose guest role may call echo only when `echo` is set. */
  async function variant(dir: string, rev: string, echo: boolean): Promise<void> {
    const data = JSON.parse(await readFile(join(bundleDir, 'data.json'), 'utf8'));
    data.authz.roles.guest.tools = echo ? ['echo'] : [];
    const manifest = JSON.parse(await readFile(join(bundleDir, '.manifest'), 'utf8'));
    manifest.revision = rev;
    await cp(join(bundleDir, 'policy.wasm'), join(dir, 'policy.wasm'));
    await writeFile(join(dir, 'data.json'), JSON.stringify(data));
    await writeFile(join(dir, '.manifest'), JSON.stringify(manifest));
  }

  /**
   * A fresh engine, loaded from `dir` by a started reloader that neither watches nor polls on its own: the
   * tests call `check()`.
   */
  async function startReloader(dir: string): Promise<{ e: PolicyEngine; reloader: PolicyReloader }> {
    const e = new PolicyEngine(engineOpts);
    const reloader = new PolicyReloader({
      location: dir,
      watch: false,
      pollIntervalMs: 1000,
      engine: e,
      logger: silentLogger(),
    });
    await reloader.start();
    return { e, reloader };
  }

  /** Two checks: a folder's change is loaded once the same signature is seen twice (it has settled). */
  async function settled(reloader: PolicyReloader): Promise<void> {
    await reloader.check();
    await reloader.check();
  }

  it('loads a folder changed file by file only once it has settled, never one half of each bundle', async () => {
    const dir = tempDir('reload-settle');
    await variant(dir, 'old', true);
    const { e, reloader } = await startReloader(dir);
    // A copy in progress, one file at a time: first the new data (guests lose echo)…
    const data = JSON.parse(await readFile(join(dir, 'data.json'), 'utf8'));
    data.authz.roles.guest.tools = [];
    await writeFile(join(dir, 'data.json'), JSON.stringify(data));
    await reloader.check();
    expect(e.revision).toBe('old');
    expect(e.decide(echoInput()).allow).toBe(true);
    // …then, after a check, its manifest: still changing, so still not loaded.
    const manifest = JSON.parse(await readFile(join(dir, '.manifest'), 'utf8'));
    await writeFile(join(dir, '.manifest'), JSON.stringify({ ...manifest, revision: 'new' }));
    await reloader.check();
    expect(e.revision).toBe('old');
    // Settled: seen unchanged at the next check, loaded whole.
    await reloader.check();
    expect(e.revision).toBe('new');
    expect(e.decide(echoInput()).allow).toBe(false);
    expect(e.status().reloads).toEqual({ ok: 2, failed: 0 });
  });

  it('starts settling again when a folder went back to what is loaded in between (B, A, B)', async () => {
    const dir = tempDir('reload-aba');
    await variant(dir, 'a', true);
    const file = join(dir, 'data.json');
    const a = await readFile(file, 'utf8');
    const write = async (text: string, at: Date) => {
      await writeFile(file, text);
      await utimes(file, at, at);
    };
    // Whole-second mtimes, so that writing A again restores A's signature exactly.
    const aTime = new Date('2026-01-01T00:00:00Z');
    const bTime = new Date('2026-01-01T00:01:00Z');
    await write(a, aTime);
    const { e, reloader } = await startReloader(dir);
    const b = JSON.stringify({ ...JSON.parse(a), authz: { ...JSON.parse(a).authz, roles: {} } });
    await write(b, bTime);
    await reloader.check(); // B seen once
    await write(a, aTime);
    await reloader.check(); // back to A, which is loaded
    await write(b, bTime);
    await reloader.check(); // B seen once again: not two checks in a row
    expect(e.decide(echoInput()).allow).toBe(true);
    await reloader.check(); // B settled
    expect(e.decide(echoInput()).allow).toBe(false);
  });

  it('swaps 20 revisions under concurrent evaluation, each decision from one whole revision', async () => {
    const dir = tempDir('reload');
    await variant(dir, 'rev-0', true);
    const { e, reloader } = await startReloader(dir);
    expect(e.revision).toBe('rev-0');
    let stop = false;
    const seen = new Set<string>();
    let evaluations = 0;
    const evaluate = async () => {
      while (!stop) {
        const d = e.decide(echoInput());
        evaluations++;
        expect(d.failure).toBeUndefined();
        const n = Number(String(d.revision).slice(4));
        // Even revisions grant echo, odd ones do not: data and revision must come from the same bundle.
        expect(d.allow, `revision ${d.revision}`).toBe(n % 2 === 0);
        seen.add(String(d.revision));
        await new Promise((r) => setImmediate(r));
      }
    };
    const workers = [evaluate(), evaluate(), evaluate()];
    for (let i = 1; i <= 20; i++) {
      await variant(dir, `rev-${i}`, i % 2 === 0);
      await settled(reloader);
      expect(e.revision).toBe(`rev-${i}`);
    }
    stop = true;
    await Promise.all(workers);
    expect(evaluations).toBeGreaterThan(20);
    expect(seen.size).toBeGreaterThan(2);
    expect(e.status().reloads).toEqual({ ok: 21, failed: 0 });
  });

  it('does not start polling when stopped while its first load was still running', async () => {
    const dir = tempDir('reload-stop');
    await variant(dir, 'good', true);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const reloader = new PolicyReloader({
        location: dir,
        watch: true,
        pollIntervalMs: 50,
        engine: new PolicyEngine(engineOpts),
        logger: silentLogger(),
      });
      const started = reloader.start();
      await reloader.stop();
      await started;
      const check = vi.spyOn(reloader, 'check');
      vi.advanceTimersByTime(1_000);
      expect(check).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the last good revision when a corrupt bundle appears, and reports it', async () => {
    const dir = tempDir('reload-bad');
    await variant(dir, 'good', true);
    const { e, reloader } = await startReloader(dir);
    await writeFile(join(dir, 'policy.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff]));
    await settled(reloader);
    expect(e.revision).toBe('good');
    expect(e.status()).toMatchObject({ state: 'warn', revision: 'good' });
    expect(e.status().lastError).toBeTruthy();
    expect(e.decide(echoInput()).allow).toBe(true);
  });

  it('sees a change that keeps sizes and mtimes (a tarball from opa build unpacked: every file dated 1970)', async () => {
    const dir = tempDir('reload-mtime0');
    const epoch = async () => {
      for (const f of ['policy.wasm', 'data.json', '.manifest']) await utimes(join(dir, f), 0, 0);
    };
    await variant(dir, 'rev1', true);
    await epoch();
    const { e, reloader } = await startReloader(dir);
    expect(e.revision).toBe('rev1');
    await variant(dir, 'rev2', true);
    await epoch();
    await settled(reloader);
    expect(e.revision).toBe('rev2');
  });

  it('watches data.json files in subfolders of a folder bundle too', async () => {
    const dir = tempDir('reload-nested');
    await variant(dir, 'nested', true);
    const { e, reloader } = await startReloader(dir);
    const okBefore = e.status().reloads.ok;
    await mkdir(join(dir, 'extra'));
    await writeFile(join(dir, 'extra', 'data.json'), '{"flag": true}');
    await settled(reloader);
    expect(e.status().reloads.ok).toBe(okBefore + 1);
    await writeFile(join(dir, 'extra', 'data.json'), '{"flag": tru');
    await settled(reloader);
    expect(e.status()).toMatchObject({ state: 'warn', revision: 'nested' });
    expect(e.status().lastError).toMatch(/extra\/data\.json/);
  });

  it('says where a data.json stops being JSON, and names a bundle that is not there as not found', async () => {
    const dir = tempDir('reload-bad-json');
    await variant(dir, 'good-json', true);
    const { e, reloader } = await startReloader(dir);
    await writeFile(join(dir, 'data.json'), '{\n  "authz": {"roles": {},,}\n}\n');
    await settled(reloader);
    expect(e.status()).toMatchObject({ state: 'warn', revision: 'good-json' });
    expect(e.status().lastError).toMatch(
      /data\.json is not valid JSON at line 2, column 25: Expected double-quoted property name/,
    );

    const gone = join(tempDir('reload-gone'), 'bundle');
    const { e: e2 } = await startReloader(gone);
    expect(e2.status()).toMatchObject({ state: 'error', revision: null });
    expect(e2.status().lastError).toBe(`bundle not found at ${gone}`);
  });

  // Without the abort, stop() waited out the check's 10 s HEAD timeout (the download's: 30 s), past this test's 5 s.
  it('stop() cuts a bundle check in flight short, and records no failure for it', async () => {
    let asked!: () => void;
    const requested = new Promise<void>((r) => {
      asked = r;
    });
    const server = createServer(() => asked()); // accepts the request, never answers it
    const closed = new Promise<void>((resolve) => {
      server.on('request', (req) => req.socket.once('close', () => resolve()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const e = new PolicyEngine(engineOpts);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const logger = silentLogger();
      const reloader = new PolicyReloader({
        location: url,
        watch: true,
        pollIntervalMs: 1000,
        engine: e,
        logger,
      });
      const started = reloader.start();
      await requested;
      await reloader.stop();
      await started;
      await closed;
      expect(e.status()).toMatchObject({ revision: null, lastError: null });
      expect(e.status().reloads.failed).toBe(0);
    } finally {
      server.close();
    }
  }, 5_000);

  // Node 20 keeps a reference per AbortSignal.any in each source signal until it aborts: one signal for the
  // reloader's life, combined at every poll (each second by default), grew without end.
  it('combines no signal that outlives its check with the requests of later checks', async () => {
    const server = createServer((_req, res) => {
      res.setHeader('etag', '"same"');
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const any = vi.spyOn(AbortSignal, 'any');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const reloader = new PolicyReloader({
        location: url,
        watch: false,
        pollIntervalMs: 1000,
        engine: new PolicyEngine(engineOpts),
        logger: silentLogger(),
      });
      const sourcesOf = async () => {
        any.mockClear();
        await reloader.check(); // the ETag stays the same: one HEAD, no download
        return new Set(any.mock.calls.flatMap(([signals]) => [...signals]));
      };
      const first = await sourcesOf();
      const second = await sourcesOf();
      expect(first.size).toBeGreaterThan(0);
      expect([...second].filter((s) => first.has(s))).toEqual([]);
      await reloader.stop();
    } finally {
      any.mockRestore();
      server.close();
    }
  });

  it('does not download a broken bundle again while its ETag stays the same', async () => {
    let gets = 0;
    const server = createServer((req, res) => {
      res.setHeader('etag', '"broken"');
      if (req.method === 'HEAD') return void res.end();
      gets++;
      res.end('not a gzip file');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const { e, reloader } = await startReloader(url);
      for (let i = 0; i < 5; i++) await reloader.check();
      expect(gets).toBe(1);
      expect(e.status().reloads.failed).toBe(1);
      expect(e.status().lastError).toMatch(/gzip/);
    } finally {
      server.close();
    }
  });

  it("never shows a presigned URL's credentials in /readyz status, errors or the loaded source", async () => {
    const tarball = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    let fail = true;
    const server = createServer((req, res) => {
      res.setHeader('etag', fail ? '"a"' : '"b"');
      if (req.method === 'HEAD') return void res.end();
      if (fail) {
        res.statusCode = 403;
        return void res.end();
      }
      res.end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const url = `${base}?X-Amz-Credential=AKIASECRET&X-Amz-Signature=deadbeefsecret`;
      const { e, reloader } = await startReloader(url);
      expect(e.status().lastError).toContain(`${base}?…`);
      fail = false;
      await reloader.check();
      expect(e.status().source).toBe(`${base}?…`);
      expect(JSON.stringify(e.status())).not.toMatch(/AKIASECRET|deadbeefsecret/);
    } finally {
      server.close();
    }
  });

  it('downloads again with a rotated bearer token a bundle whose download the old token was refused for', async () => {
    const tarball = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    // HEAD (the signature) answers whatever the token, GET only for the current one: a server that checks
    // the token on downloads only, or a token that expired between the HEAD and the GET.
    const server = createServer((req, res) => {
      res.setHeader('etag', '"v1"');
      if (req.method === 'HEAD') return void res.end();
      if (req.headers.authorization !== 'Bearer new') return void res.writeHead(401).end();
      res.end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      let token = 'old';
      const e = new PolicyEngine(engineOpts);
      const reloader = new PolicyReloader({
        location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`,
        watch: false,
        pollIntervalMs: 1000,
        engine: e,
        logger: silentLogger(),
        auth: { token: () => Buffer.from(token) },
      });
      await reloader.start();
      expect(e.status().lastError).toMatch(/HTTP 401 \(the credentials sent were refused\)/);
      token = 'new'; // the Secret is rotated; the bundle's ETag stays the same
      await reloader.check();
      expect(e.revision).toBeTruthy();
      expect(e.status().state).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('loads what the download sent, and reads again when another node answered it than the check', async () => {
    const a = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    const b = await readFile(
      join(await buildBundle('policies', { revision: 'rev-b' }), '..', 'bundle.tar.gz'),
    );
    let gets = 0;
    const server = createServer((req, res) => {
      // The check reaches an updated node; the first download a stale one (a CDN edge mid-rollout).
      if (req.method === 'HEAD') return void res.writeHead(200, { etag: '"b"' }).end();
      gets++;
      if (gets === 1) return void res.writeHead(200, { etag: '"a"' }).end(a);
      res.writeHead(200, { etag: '"b"' }).end(b);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const { e, reloader } = await startReloader(url);
      expect(e.revision).not.toBe('rev-b');
      await reloader.check();
      expect(e.revision).toBe('rev-b');
      for (let i = 0; i < 3; i++) await reloader.check();
      expect(gets).toBe(2);
    } finally {
      server.close();
    }
  });

  it('reads again a bundle whose download was a proxy’s error page, though the check’s ETag did not change', async () => {
    const tarball = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    let gets = 0;
    const server = createServer((req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(200, { etag: '"v1"' }).end();
      gets++;
      if (gets === 1) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Gateway</h1>');
      res.writeHead(200, { etag: '"v1"' }).end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const { e, reloader } = await startReloader(url);
      expect(e.revision).toBeNull();
      await reloader.check();
      expect(e.revision).toBeTruthy();
      expect(gets).toBe(2);
    } finally {
      server.close();
    }
  });

  it('loads a bundle once when its check and its download name it differently (hash vs ETag)', async () => {
    const tarball = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    let gets = 0;
    const server = createServer((req, res) => {
      // HEAD without validators: the check hashes a GET's body; the GET itself carries an ETag.
      if (req.method === 'HEAD') return void res.writeHead(200).end();
      gets++;
      res.writeHead(200, { etag: '"v1"', 'last-modified': 'Sun, 06 Dec 2026 05:00:00 GMT' }).end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const { e, reloader } = await startReloader(url);
      const loads = e.status().reloads.ok;
      for (let i = 0; i < 4; i++) await reloader.check();
      expect(e.status().reloads.ok).toBe(loads);
      // Each check downloads to hash (no validator to ask for); none loads it again.
      expect(gets).toBe(2 + 4);
    } finally {
      server.close();
    }
  });

  it('checks a bundle served without ETag or Last-Modified under policy.maxBundleBytes, as it reads it', async () => {
    // The default bundle with 17 MiB of random bytes beside it: over the 16 MiB default, under the 64 MiB set.
    const dir = tempDir('big-bundle');
    execFileSync('tar', ['xzf', join(bundleDir, '..', 'bundle.tar.gz'), '-C', dir]);
    await writeFile(join(dir, 'padding.bin'), randomBytes(17 * 1024 * 1024));
    const tgz = join(tempDir('big-bundle-out'), 'bundle.tar.gz');
    execFileSync('tar', ['czf', tgz, '-C', dir, ...(await readdir(dir))]);
    const body = await readFile(tgz);
    const server = createServer((req, res) => res.end(req.method === 'HEAD' ? undefined : body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const revision = JSON.parse(await readFile(join(bundleDir, '.manifest'), 'utf8')).revision;
      for (const [maxBytes, loaded] of [
        [64 * 1024 * 1024, revision],
        [8 * 1024 * 1024, null],
      ] as const) {
        const e = new PolicyEngine(engineOpts);
        const reloader = new PolicyReloader({
          location: url,
          watch: false,
          pollIntervalMs: 1000,
          engine: e,
          logger: silentLogger(),
          maxBytes,
        });
        await reloader.start();
        await reloader.stop();
        expect(e.revision).toBe(loaded);
        if (loaded === null) expect(e.status().lastError).toContain(`exceeds ${maxBytes} bytes`);
      }
    } finally {
      server.close();
    }
  });

  it('retries a bundle download that failed, though the ETag did not change', async () => {
    const tarball = await readFile(join(bundleDir, '..', 'bundle.tar.gz'));
    let gets = 0;
    const server = createServer((req, res) => {
      res.setHeader('etag', '"v1"');
      if (req.method === 'HEAD') return void res.end();
      gets++;
      if (gets === 1) {
        res.statusCode = 503;
        return void res.end('busy');
      }
      res.end(tarball);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
      const { e, reloader } = await startReloader(url);
      expect(e.revision).toBeNull();
      expect(e.status().lastError).toMatch(/HTTP 503/);
      await reloader.check();
      expect(gets).toBe(2);
      expect(e.revision).toBeTruthy();
      expect(e.status().state).toBe('ok');
    } finally {
      server.close();
    }
  });
});
