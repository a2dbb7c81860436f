/**
 * SIGTERM on a real `mcp-authz serve` process: for `server.shutdownDelayMs` the sidecar keeps serving while
 * `/readyz` answers 503 (Kubernetes takes the pod out of the Service's endpoints asynchronously, and a
 * request routed to it meanwhile must not be refused), then it stops and exits 0. SIGINT (Ctrl-C at a
 * terminal) stops at once, and a second one does not wait for a shutdown held up by requests in flight. A
 * SIGTERM while starting cuts the bundle check under way short.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { defaultPolicyBundle, ROOT } from '../helpers/policy.js';
import { type SidecarProcess, startSidecarProcess } from '../helpers/sidecar-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

let proc: SidecarProcess | undefined;
// Something listening where the upstream should be: /readyz checks that the MCP server accepts connections.
const upstream = createServer((_req, res) => res.end());
afterAll(async () => {
  await proc?.stop();
  await new Promise((resolve) => upstream.close(resolve));
});

describe('SIGTERM', () => {
  it('keeps serving with /readyz at 503 for the shutdown delay, then exits 0', async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    proc = await startSidecarProcess({
      server: { host: '127.0.0.1', port: 0, shutdownDelayMs: 1_500 },
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: `http://127.0.0.1:${upstreamPort}/mcp` },
      policy: { bundle: await defaultPolicyBundle(), watch: false },
      authn: { resource: 'https://mcp.test.example/mcp', apiKeys: { enabled: false } },
      log: { level: 'info' },
    });
    const ready = () => fetch(`${proc?.adminUrl}/readyz`).then((r) => r.status);
    expect(await ready()).toBe(200);

    proc.terminate();
    await until(2_000, async () => (await ready()) === 503);
    const body = (await (await fetch(`${proc.adminUrl}/readyz`)).json()) as {
      components: Record<string, { state: string }>;
    };
    expect(body.components.shutdown?.state).toBe('not_ready');
    // Still listening and answering while draining (401: this request has no credentials).
    const res = await fetch(`${proc.publicUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(res.status).toBe(401);

    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('draining');
    // The last line says the shutdown finished, and how.
    const last = JSON.parse(proc.output().trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(last).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', exitCode: 0 });
  });
});

describe('an uncaught exception while the SIGTERM delay runs', () => {
  it('stops at once and exits 1 after a clean stop, instead of being killed mid-drain by the forced exit', async () => {
    // A real uncaught exception, thrown on SIGUSR2 by a module the process preloads (nothing in the product).
    const boom = 'process.on("SIGUSR2",()=>setImmediate(()=>{throw new Error("boom")}))';
    const upstreamPort = (upstream.address() as AddressInfo | null)?.port ?? 1;
    const p = await startSidecarProcess(
      {
        // The delay outlasts the forced exit (grace + 10 s): waiting it out, the process would be killed first.
        server: { host: '127.0.0.1', port: 0, shutdownDelayMs: 60_000, shutdownGraceMs: 1_000 },
        admin: { host: '127.0.0.1', port: 0 },
        upstream: { url: `http://127.0.0.1:${upstreamPort}/mcp` },
        policy: { bundle: await defaultPolicyBundle(), watch: false },
        authn: { resource: 'https://mcp.test.example/mcp', apiKeys: { enabled: false } },
        log: { level: 'info' },
      },
      {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "data:text/javascript,${encodeURIComponent(boom)}"`,
      },
    );
    p.terminate();
    await until(5_000, async () => p.output().includes('draining'));
    p.signal('SIGUSR2');
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('uncaught exception; exiting');
    const last = JSON.parse(p.output().trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(last).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', exitCode: 1 });
  });
});

describe('SIGINT', () => {
  it('a second Ctrl-C still writes out the audit records queued behind a slow stdout', async () => {
    if (!upstream.listening) await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const p = await startSidecarProcess({
      server: { host: '127.0.0.1', port: 0, shutdownGraceMs: 60_000 },
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: `http://127.0.0.1:${upstreamPort}/mcp` },
      policy: { bundle: await defaultPolicyBundle(), watch: false },
      // Anonymous callers reach the policy: every ping below is decided, so audited.
      authn: { mode: 'optional', resource: 'https://mcp.test.example/mcp', apiKeys: { enabled: false } },
      log: { level: 'info' },
    });
    let slow: Socket | undefined;
    try {
      // Nobody reads the sidecar's stdout: the pipe fills, and the audit records wait in the sidecar's queue.
      p.pauseOutput();
      const pings = 600;
      for (let i = 0; i < pings; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            fetch(`${p.publicUrl}/mcp`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
              body: JSON.stringify({ jsonrpc: '2.0', id: i + j, method: 'ping' }),
            }).then((r) => r.arrayBuffer()),
          ),
        );
      }
      // A request whose body never ends holds the first Ctrl-C's shutdown (the grace is a minute).
      const held = connect(Number(new URL(p.publicUrl).port), '127.0.0.1');
      // The second Ctrl-C exits with this request unfinished: its connection may be reset (ECONNRESET).
      held.on('error', () => {});
      slow = held;
      await new Promise<void>((resolve) => held.once('connect', resolve));
      held.write(
        `POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
      );
      p.signal('SIGINT');
      // The listener is closed once the shutdown began.
      await until(5_000, async () =>
        fetch(`${p.publicUrl}/mcp`).then(
          () => false,
          () => true,
        ),
      );
      p.signal('SIGINT');
      p.resumeOutput();
      expect(await p.exited).toBe(130);
      const audited = p
        .output()
        .split('\n')
        .filter((l) => l.includes('"log_type":"audit"'));
      // Every record the sidecar queued is handed to the log stream, which writes out at exit all it holds
      // but what it has under way to the slow pipe (pino's asynchronous stdout writes that from a thread the
      // exit ends): a few dozen lines at most here. Without the flush some 350 of the 600 were lost.
      expect(audited.length).toBeGreaterThanOrEqual(pings - 120);
    } finally {
      slow?.destroy();
      p.signal('SIGKILL');
    }
  });

  it('exits 0 on a SIGTERM while still starting, without a "failed to start" from the start it cut short', async () => {
    // A pod deleted while its sidecar starts (a rollout replacing it): the stop waited for the bundle check
    // (10 s), then the start went on against the listeners the stop had closed, logged a fatal TypeError
    // ("failed to start") and exited 1. The stop now cuts the check short.
    const sockets: Socket[] = [];
    const stalled = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const file = join(tempDir('sigterm-starting'), 'config.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0, shutdownDelayMs: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        policy: {
          bundle: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/b.tar.gz`,
          watch: false,
        },
        authn: { apiKeys: { enabled: false } },
        log: { level: 'info' },
      }),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const collect = (c: Buffer) => {
      out += c.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await until(10_000, async () => sockets.length > 0); // starting: the bundle check is under way
      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Not the check's 10 s timeout waited out (a loaded machine takes well under a second).
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(out).toContain('"msg":"stopped"');
      expect(out).not.toContain('failed to start');
    } finally {
      child.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => stalled.close(resolve));
    }
  }, 30_000);
});
