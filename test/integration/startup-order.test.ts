/**
 * Start-up order: the admin listener answers before the components have started, so the probes and an
 * operator see the sidecar alive (`/healthz`) and not ready, with the reason (`/readyz`), while a dependency
 * that does not answer holds the start up (here a bundle URL whose check hangs). A start that fails says so
 * on stderr whatever `log.level` is.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSidecar, type Sidecar } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { deadPort } from '../helpers/dead-port.js';
import { ROOT } from '../helpers/policy.js';
import { freePort } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const held: ServerResponse[] = [];
let released = false;
let headArrived: () => void = () => undefined;
const arrived = new Promise<void>((resolve) => {
  headArrived = resolve;
});
// A bundle server that holds every request until the test lets it answer 404.
const bundles = createServer((_req, res) => {
  if (released) {
    res.writeHead(404).end();
    return;
  }
  held.push(res);
  headArrived();
});
let sidecar: Sidecar | undefined;

afterAll(async () => {
  await sidecar?.stop();
  for (const res of held) res.destroy();
  await new Promise((resolve) => bundles.close(resolve));
});

describe('start-up', () => {
  it('answers /healthz and a not-ready /readyz while a component is still starting', async () => {
    await new Promise<void>((resolve) => bundles.listen(0, '127.0.0.1', resolve));
    const bundlePort = (bundles.address() as AddressInfo).port;
    const adminPort = await freePort();
    const config = parseConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: adminPort },
        upstream: { url: `http://127.0.0.1:${await deadPort()}/mcp` },
        policy: { bundle: `http://127.0.0.1:${bundlePort}/bundle.tar.gz`, watch: false },
        authn: { resource: 'https://mcp.test.example/mcp', apiKeys: { enabled: false } },
      },
      {},
    );
    sidecar = createSidecar(config, { logger: silentLogger(), env: {} });
    const starting = sidecar.start();
    await arrived; // the policy component is waiting for the bundle URL

    const admin = `http://127.0.0.1:${adminPort}`;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { components: Record<string, { state: string }> };
    expect(body.components.policy?.state).toBe('not_ready');

    released = true;
    for (const res of held.splice(0)) res.writeHead(404).end();
    await starting;
    expect(sidecar.adminUrl).toBe(admin);
    expect(sidecar.publicUrl).not.toBe('');
  });

  it('writes a failed start to stderr and exits 1, also at log.level silent', async () => {
    // The process log (stdout, JSON) is off at `silent`: the fatal "failed to start" line was all there was,
    // and the container exited 1 without a word.
    const taken = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const file = join(tempDir('start-failure'), 'config.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: (taken.address() as AddressInfo).port },
        authn: { apiKeys: { enabled: false } },
        log: { level: 'silent' },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^mcp-authz: failed to start: .*EADDRINUSE/m);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);
});
