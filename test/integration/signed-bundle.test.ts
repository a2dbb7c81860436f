/**
 * A signed bundle served over HTTP to a real sidecar with `policy.verification` set: the signed revision
 * loads; a tampered one swapped in at the same URL is refused, the last good revision stays, and /readyz
 * reports the failure. A sidecar that starts on an unsigned bundle loads nothing and denies every request.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, bundleSigningKeys } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

interface PolicyComponent {
  state: string;
  revision: string | null;
  lastError: string | null;
  reloads: { ok: number; failed: number };
}

const { privateKey, publicKey } = bundleSigningKeys('signed-it');

/** Serves whatever `body` holds now, with an ETag that changes with it. */
let body: Buffer<ArrayBufferLike> = Buffer.alloc(0);
let version = 0;
let server: Server;
let url = '';
let signed: Buffer;
let unsigned: Buffer;

beforeAll(async () => {
  const [s, u] = await Promise.all([
    buildBundle('policies', { revision: 'signed-1', signing: { key: privateKey } }),
    buildBundle('policies', { revision: 'unsigned-1' }),
  ]);
  signed = readFileSync(join(dirname(s), 'bundle.tar.gz'));
  unsigned = readFileSync(join(dirname(u), 'bundle.tar.gz'));
  server = createServer((req, res) => {
    res.setHeader('etag', `"v${version}"`);
    if (req.method === 'HEAD') return void res.end();
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
}, 300_000);

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function serve(bytes: Buffer<ArrayBufferLike>): void {
  body = bytes;
  version++;
}

/** The signed tarball with one byte of its data.json changed (the tar checksums are redone). */
function tampered(tarball: Buffer): Buffer {
  const tar = Buffer.from(gunzipSync(tarball));
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    const size = Number.parseInt(
      tar
        .subarray(off + 124, off + 136)
        .toString('utf8')
        .trim() || '0',
      8,
    );
    if (name.replace(/^\/+/, '') === 'data.json') {
      const at = tar.indexOf('"', off + 512 + 2); // a quote after the first key's opening quote
      tar[at - 1] = tar[at - 1] === 0x61 ? 0x62 : 0x61; // change the last letter of the first key
      return gzipSync(tar);
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no data.json in the bundle');
}

async function policyStatus(h: Harness): Promise<{ status: number; policy: PolicyComponent }> {
  const res = await fetch(`${h.sidecar.adminUrl}/readyz`);
  const json = (await res.json()) as { components: Record<string, PolicyComponent> };
  return { status: res.status, policy: json.components.policy as PolicyComponent };
}

describe('signed bundles over HTTP', () => {
  it('loads the signed bundle, then keeps it when a tampered one is served, and says so in /readyz', async () => {
    serve(signed);
    const h = await startHarness({
      config: {
        policy: { bundle: url, watch: true, pollIntervalMs: 100, verification: { keyFile: publicKey } },
      },
    });
    try {
      expect((await policyStatus(h)).policy).toMatchObject({
        state: 'ok',
        revision: 'signed-1',
        lastError: null,
      });
      serve(tampered(signed));
      await expect
        .poll(() => policyStatus(h), { timeout: 10_000, interval: 50 })
        .toMatchObject({
          policy: {
            state: 'warn',
            revision: 'signed-1',
            lastError: expect.stringMatching(/signature check failed: file data\.json: digest mismatch/),
            reloads: { ok: 1, failed: 1 },
          },
        });
      expect(h.logs.join('\n')).toContain('keeping the last good policy');
      // An unsigned bundle is refused as well; the signed one, served again, loads again.
      serve(unsigned);
      await expect
        .poll(() => policyStatus(h), { timeout: 10_000, interval: 50 })
        .toMatchObject({
          policy: { revision: 'signed-1', lastError: expect.stringMatching(/no \.signatures\.json/) },
        });
      serve(signed);
      await expect
        .poll(() => policyStatus(h), { timeout: 10_000, interval: 50 })
        .toMatchObject({ policy: { state: 'ok', revision: 'signed-1', lastError: null } });
    } finally {
      await h.stop();
    }
  });

  it('starts with no policy (every request denied) when the first bundle is unsigned', async () => {
    serve(unsigned);
    const h = await startHarness({
      config: { policy: { bundle: url, watch: false, verification: { keyFile: publicKey } } },
    });
    try {
      const { status, policy } = await policyStatus(h);
      expect(status).toBe(503);
      expect(policy).toMatchObject({ state: 'error', revision: null, reloads: { ok: 0, failed: 1 } });
      const res = await fetch(h.mcpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(await h.bearer(['admin'])),
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: {} },
        }),
      });
      expect(await res.json()).toMatchObject({ error: { data: { code: 'ERR_POLICY_UNAVAILABLE' } } });
    } finally {
      await h.stop();
    }
  });
});
