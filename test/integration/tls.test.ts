/**
 * `server.tls` on a real sidecar, with the MCP SDK's real client over HTTPS (undici's fetch trusting the
 * test CA): MCP works end to end; plain HTTP on the port gets no answer; a renewed certificate written
 * over the files is served to new connections without a restart, while a broken set (a key that is not
 * the certificate's) keeps the last good one and is logged; with `clientCaFile` only clients presenting
 * a certificate of that CA get through the handshake; and `serve` refuses to start on unreadable files.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { connectStreamable } from '../helpers/mcp-client.js';
import { ROOT } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { startSidecarProcess } from '../helpers/sidecar-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'tls');
const pem = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.pem`));
const CA = pem('ca');

let h: Harness | undefined;
const agents: Agent[] = [];
afterEach(async () => {
  await h?.stop();
  h = undefined;
  for (const a of agents.splice(0)) await a.close();
});

/** A folder holding the certificate set as a Secret mount would: `tls.crt`, `tls.key`, `ca.crt`. */
function mount(cert = 'server'): { dir: string; certFile: string; keyFile: string; caFile: string } {
  const dir = tempDir('tls');
  const m = {
    dir,
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    caFile: join(dir, 'ca.crt'),
  };
  copyFileSync(join(FIXTURES, `${cert}.pem`), m.certFile);
  copyFileSync(join(FIXTURES, `${cert}-key.pem`), m.keyFile);
  copyFileSync(join(FIXTURES, 'ca.pem'), m.caFile);
  return m;
}

/** A fetch for the SDK client that trusts the test CA and presents `client` (a fixture name) if given. */
function trustingFetch(client?: string): FetchLike {
  const agent = new Agent({
    connect: { ca: CA, ...(client ? { cert: pem(client), key: pem(`${client}-key`) } : {}) },
  });
  agents.push(agent);
  const viaAgent = (url: string | URL, init?: RequestInit) =>
    undiciFetch(url, { ...init, dispatcher: agent } as never);
  return viaAgent as unknown as FetchLike;
}

/** The serial number of the certificate a new TLS connection to `url` is shown, or the handshake error. */
function servedSerial(url: string, client?: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      {
        host: hostname,
        port: Number(port),
        ca: CA,
        servername: 'localhost',
        ...(client ? { cert: pem(client), key: pem(`${client}-key`) } : {}),
      },
      () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.end();
        resolve(serial);
      },
    );
    s.once('error', reject);
  });
}

const serialOf = (name: string): string => new X509Certificate(pem(name)).serialNumber;

async function handshakeFailures(): Promise<number> {
  const text = await (await fetch(`${h?.sidecar.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('mcp_authz_tls_handshake_failures_total'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function tlsReloads(result: 'success' | 'failure'): Promise<number> {
  const text = await (await fetch(`${h?.sidecar.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('mcp_authz_tls_reloads_total') && l.includes(`result="${result}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('server.tls', () => {
  it('serves MCP over HTTPS to the SDK client, and nothing over plain HTTP', async () => {
    const m = mount();
    h = await startHarness({ config: { server: { tls: { certFile: m.certFile, keyFile: m.keyFile } } } });
    expect(h.sidecar.publicUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = await connectStreamable(h.mcpUrl, await h.bearer(['user']), { fetch: trustingFetch() });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const result = await client.callTool({ name: 'echo', arguments: { text: 'over tls' } });
      expect(JSON.stringify(result.content)).toContain('over tls');
    } finally {
      await client.close();
    }
    // The upstream was told the caller came over HTTPS.
    expect(h.upstream.calls().find((c) => c.name === 'echo')?.headers['x-forwarded-proto']).toBe('https');

    // Plain HTTP on the TLS port: no HTTP answer (the TLS server closes on a request that is no handshake).
    const { port } = new URL(h.mcpUrl);
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: Number(port), path: '/mcp', method: 'GET' }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      req.end();
    });
    expect(plain).not.toMatch(/^answered/);
  });

  it('serves a renewed certificate to new connections without a restart, and keeps the last good set when broken', async () => {
    const m = mount();
    h = await startHarness({ config: { server: { tls: { certFile: m.certFile, keyFile: m.keyFile } } } });
    expect(await servedSerial(h.mcpUrl)).toBe(serialOf('server'));

    // A renewal: the certificate, then its key (a poll in between sees a set that does not match).
    copyFileSync(join(FIXTURES, 'server-renewed.pem'), m.certFile);
    copyFileSync(join(FIXTURES, 'server-renewed-key.pem'), m.keyFile);
    await until(5_000, async () => (await servedSerial(h?.mcpUrl ?? '')) === serialOf('server-renewed'));
    expect(await tlsReloads('success')).toBeGreaterThanOrEqual(1);
    expect(h.logs.some((l) => l.includes('TLS certificate files changed; new connections use them'))).toBe(
      true,
    );

    // A broken set: the old certificate with the renewed key. The renewed set stays in use.
    const failuresBefore = await tlsReloads('failure');
    copyFileSync(join(FIXTURES, 'server.pem'), m.certFile);
    await until(5_000, async () => (await tlsReloads('failure')) > failuresBefore);
    const warning = h.logs.find((l) => l.includes('keeping the last good set')) ?? '';
    expect(warning).toContain('the key does not belong to the certificate');
    expect(warning).not.toContain('BEGIN');
    expect(await servedSerial(h.mcpUrl)).toBe(serialOf('server-renewed'));
  });

  it('with clientCaFile, admits only clients presenting a certificate of that CA', async () => {
    const m = mount();
    h = await startHarness({
      config: { server: { tls: { certFile: m.certFile, keyFile: m.keyFile, clientCaFile: m.caFile } } },
    });
    // A client of the CA: a full MCP exchange.
    const client = await connectStreamable(h.mcpUrl, await h.bearer(['user']), {
      fetch: trustingFetch('client'),
    });
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'mtls' } });
      expect(JSON.stringify(result.content)).toContain('mtls');
    } finally {
      await client.close();
    }
    // No certificate, or one of another CA: the handshake fails (TLS 1.3 reports it on the first read).
    for (const who of [undefined, 'rogue-client']) {
      const outcome = await servedSerial(h.mcpUrl, who).then(
        async () => {
          const res = await trustingFetch(who)(h?.mcpUrl ?? '', { method: 'POST' }).then(
            (r) => `answered ${r.status}`,
            (err: Error) => `refused: ${String((err.cause as Error | undefined)?.message ?? err.message)}`,
          );
          return res;
        },
        (err: Error) => `refused: ${err.message}`,
      );
      expect(outcome, who ?? 'no certificate').toMatch(/^refused: /);
    }
    // Each refused handshake is counted (a gateway with the wrong certificate leaves a trace) and logged.
    // The line says why: no certificate, or one the CA did not sign (Node reports the latter as a hang-up).
    const logged = (why: RegExp) =>
      h?.logs.some((l) => l.includes('TLS handshake failed') && why.test(l)) ?? false;
    await until(5_000, async () => (await handshakeFailures()) >= 2);
    await until(5_000, async () => logged(/peer did not return a certificate/));
    await until(5_000, async () => logged(/"authorization_error":"UNABLE_TO_[A-Z_]+"/));
    // Both name the client's address, though the refused one's socket is gone by the time it is logged.
    const lines = h.logs.filter((l) => l.includes('TLS handshake failed'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toContain('"client_ip":"127.0.0.1"');
  });

  it('serve refuses to start when a certificate file cannot be read, naming the setting', async () => {
    const m = mount();
    const missing = join(m.dir, 'missing.key');
    const failed = await startSidecarProcess({
      server: { host: '127.0.0.1', port: 0, tls: { certFile: m.certFile, keyFile: missing } },
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: 'http://127.0.0.1:1/mcp' },
    }).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(failed).toContain(`server.tls.keyFile: ${missing} cannot be read (ENOENT)`);
    expect(failed).toMatch(/exited with 1/);
  });
});
