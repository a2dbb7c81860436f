/**
 * `policy.bundleTokenFile` on a real sidecar polling a bundle server that wants a bearer token: the bundle
 * loads with the token from the file; once the server moves to a new token the refusal shows in `/readyz`
 * (naming the credentials, never the token), and writing the new token to the file (as a Kubernetes Secret
 * update does) is enough for the next poll to load the new revision — no restart.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultPolicyBundle } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

let h: Harness | undefined;
let server: Server | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
  server?.close();
});

interface PolicyState {
  state: string;
  lastError?: string | null;
}

async function policyState(): Promise<PolicyState> {
  const body = (await (await fetch(`${h?.sidecar.adminUrl}/readyz`)).json()) as {
    components: Record<string, PolicyState>;
  };
  return body.components.policy as PolicyState;
}

describe('policy.bundleTokenFile', () => {
  it('fetches the bundle with the bearer token from the file, and follows its rotation without a restart', async () => {
    const tarball = await readFile(join(await defaultPolicyBundle(), '..', 'bundle.tar.gz'));
    let accepted = 'token-one';
    let etag = '"r1"';
    const seen: string[] = [];
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.headers.authorization ?? '-'}`);
      if (req.headers.authorization !== `Bearer ${accepted}`) return void res.writeHead(401).end();
      res.writeHead(200, { etag });
      res.end(req.method === 'HEAD' ? undefined : tarball);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.tar.gz`;
    const dir = await tempDir('bundle-token-');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'token-one\n');

    h = await startHarness({
      config: { policy: { bundle: url, watch: true, pollIntervalMs: 100, bundleTokenFile: tokenFile } },
    });
    expect(await policyState()).toMatchObject({ state: 'ok' });
    expect(seen).toContain('GET Bearer token-one');

    // The bundle server rotates its token and publishes a new revision: the old token is refused.
    accepted = 'token-two';
    etag = '"r2"';
    await until(10_000, async () => (await policyState()).state === 'warn');
    const refused = await policyState();
    expect(refused.lastError).toMatch(/HTTP 401 \(the credentials sent were refused\)/);
    expect(JSON.stringify(refused)).not.toContain('token-');

    // The Secret is updated: the next polls use the new token and load the new revision.
    seen.length = 0;
    await writeFile(tokenFile, 'token-two\n');
    await until(10_000, async () => (await policyState()).state === 'ok');
    expect(seen).toContain('GET Bearer token-two');
    expect(h.logs.join('')).not.toContain('token-two');
  });
});
