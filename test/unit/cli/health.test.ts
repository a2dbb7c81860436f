/**
 * `mcp-authz health`: the admin URL it derives from the config (wildcard listen addresses reached on
 * loopback), and its exit code and message against a real HTTP listener that answers 200 or 503, and
 * against a port where nothing listens.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminUrl, HEALTH_TIMEOUT_MS, register } from '../../../src/cli/health.js';
import { cliRun } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/temp-dir.js';

const cli = () => cliRun(register);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/** An admin-like listener answering /healthz with `healthz` and /readyz with `readyz`, on `port` (0: any). */
async function listener(healthz: number, readyz: number, port = 0): Promise<number> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/readyz' ? readyz : req.url === '/healthz' ? healthz : 404).end('{}');
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

function configWithAdminPort(port: number): string {
  const file = join(tempDir('cli-health'), 'config.yaml');
  writeFileSync(file, `admin:\n  host: 0.0.0.0\n  port: ${port}\n`);
  return file;
}

describe('mcp-authz health', () => {
  it('derives the admin URL, reaching wildcard addresses on loopback', () => {
    expect(adminUrl({ host: '0.0.0.0', port: 9090 }, '/healthz')).toBe('http://127.0.0.1:9090/healthz');
    expect(adminUrl({ host: '::', port: 9090 }, '/readyz')).toBe('http://127.0.0.1:9090/readyz');
    expect(adminUrl({ host: 'fd00::5', port: 1 }, '/healthz')).toBe('http://[fd00::5]:1/healthz');
    expect(adminUrl({ host: 'localhost', port: 9191 }, '/healthz')).toBe('http://localhost:9191/healthz');
  });

  it('exits 0 when /healthz answers 200, also while not ready', async () => {
    const port = await listener(200, 503);
    const c = cli();
    await c.run('health', '--config', configWithAdminPort(port));
    expect(c.exits).toEqual([0]);
    expect(c.err).toEqual([]);
  });

  it('probes an admin port that fetch refuses as a WHATWG "bad port" (6666)', async () => {
    const port = await listener(200, 200, 6666);
    const c = cli();
    await c.run('health', '--ready', '--config', configWithAdminPort(port));
    expect(c.err).toEqual([]);
    expect(c.exits).toEqual([0]);
  });

  it('with --ready, exits 1 and says so when /readyz answers 503', async () => {
    const port = await listener(200, 503);
    const c = cli();
    await c.run('health', '--ready', '--config', configWithAdminPort(port));
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([`mcp-authz: http://127.0.0.1:${port}/readyz answered 503\n`]);
  });

  it('with --ready, names the components that are not ready and why, from the /readyz body', async () => {
    // The body the admin listener sends (src/server/admin-server.ts): the policy says why in `lastError`.
    const body = {
      status: 'not_ready',
      components: {
        store: { state: 'ok', detail: 'redis standalone' },
        authn: { state: 'warn', detail: 'no API key pepper: API keys are refused' },
        policy: { state: 'error', revision: null, lastError: 'bundle not found at build/policy/bundle' },
        upstream: { state: 'not_ready', detail: 'cannot connect to 127.0.0.1:8081: ECONNREFUSED' },
      },
    };
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const c = cli();
    await c.run('health', '--ready', '--config', configWithAdminPort(port));
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      `mcp-authz: http://127.0.0.1:${port}/readyz answered 503: policy error (bundle not found at build/policy/bundle), upstream not_ready (cannot connect to 127.0.0.1:8081: ECONNREFUSED)\n`,
    ]);
  });

  it('exits 1 when nothing listens on the admin port, saying where the port it tried came from', async () => {
    const port = await listener(200, 200);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const c = cli();
    await c.run('health', '--config', configWithAdminPort(port));
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      `mcp-authz: http://127.0.0.1:${port}/healthz did not answer (ECONNREFUSED): nothing listens there; is the sidecar running, with this config's admin.host and admin.port (file or AUTHZ_ADMIN_HOST / AUTHZ_ADMIN_PORT)?\n`,
    ]);
  });

  it('with admin.port 0, says the port cannot be known instead of probing port 0', async () => {
    // `serve` picks a free port for 0 and logs it ("listening", `admin`); nothing here can learn which. The
    // probe went to port 0 and said only ECONNREFUSED, as if the sidecar were down.
    const c = cli();
    await c.run('health', '--ready', '--config', configWithAdminPort(0));
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      'mcp-authz: admin.port is 0: serve listens on a free port it picks at start (its "listening" log line names it), which mcp-authz health cannot know; set admin.port (or AUTHZ_ADMIN_PORT) to a fixed port to probe it\n',
    ]);
  });

  it('exits 1 when the admin port takes the request and never answers, after the probe timeout', async () => {
    const server = createServer(() => {}); // reads the request, answers nothing
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const c = cli();
    await c.run('health', '--config', configWithAdminPort(port));
    server.closeAllConnections();
    expect(c.exits).toEqual([1]);
    expect(c.err).toEqual([
      `mcp-authz: http://127.0.0.1:${port}/healthz did not answer (no answer within ${HEALTH_TIMEOUT_MS / 1000} s)\n`,
    ]);
  });

  it('exits 1 with the config error when the config is invalid', async () => {
    const file = join(tempDir('cli-health'), 'bad.yaml');
    writeFileSync(file, 'admin:\n  port: nope\n');
    const c = cli();
    await c.run('health', '--config', file);
    expect(c.exits).toEqual([1]);
    expect(c.err[0]).toMatch(/^mcp-authz: invalid configuration:\n {2}admin\.port: /);
  });
});
