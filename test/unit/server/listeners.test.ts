/**
 * Listening (src/server/listeners.ts): the default address `::` takes IPv6 and IPv4 alike and is reached
 * on 127.0.0.1; on a host without IPv6 it falls back to `0.0.0.0`, and any other failure (a port in use)
 * is not hidden by the fallback.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_HOST, PUBLIC_HOST } from '../../../src/config/defaults.js';
import { boundTo, createListeners, type ListenersDeps, listen } from '../../../src/server/listeners.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers
      .splice(0)
      .map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
  );
});

function server(): Server {
  const s = createServer((_req, res) => res.end('ok'));
  servers.push(s);
  return s;
}

/** A server whose first listen on `::` fails with `code`, as on a host without IPv6. */
function serverWithoutIpv6(code: string): { s: Server; hosts: string[] } {
  const s = server();
  const hosts: string[] = [];
  const real = s.listen.bind(s) as (port: number, host: string, cb: () => void) => Server;
  Object.assign(s, {
    listen(port: number, host: string, cb: () => void) {
      hosts.push(host);
      if (host === '::') {
        process.nextTick(() => s.emit('error', Object.assign(new Error(`listen ${code}`), { code })));
        return s;
      }
      return real(port, host, cb);
    },
  });
  return { s, hosts };
}

describe('listen', () => {
  it('listens on every interface, IPv6 and IPv4, by default', async () => {
    expect([PUBLIC_HOST, ADMIN_HOST]).toEqual(['::', '::']);
    const s = server();
    const url = await listen(s, '::', 0, silentLogger());
    const { port, address } = s.address() as AddressInfo;
    expect(address).toBe('::');
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(await (await fetch(url)).text()).toBe('ok');
    expect(await (await fetch(`http://[::1]:${port}`)).text()).toBe('ok');
    // The start line says where it is bound, not only the loopback URL that reaches it.
    expect(boundTo(s)).toBe(`[::]:${port}`);
  });

  it('falls back to 0.0.0.0 where the host has no IPv6', async () => {
    for (const code of ['EAFNOSUPPORT', 'EADDRNOTAVAIL']) {
      const { s, hosts } = serverWithoutIpv6(code);
      const url = await listen(s, '::', 0, silentLogger());
      expect(hosts).toEqual(['::', '0.0.0.0']);
      expect((s.address() as AddressInfo).address).toBe('0.0.0.0');
      expect(boundTo(s)).toMatch(/^0\.0\.0\.0:\d+$/);
      expect(await (await fetch(url)).text()).toBe('ok');
    }
  });

  it('does not fall back on other errors, nor for an address the operator chose', async () => {
    const taken = server();
    await listen(taken, '::', 0, silentLogger());
    const { port } = taken.address() as AddressInfo;
    await expect(listen(server(), '::', port, silentLogger())).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // An address not on this host: the operator asked for it, so its error stands.
    await expect(listen(server(), 'fd00::1', 0, silentLogger())).rejects.toMatchObject({
      code: 'EADDRNOTAVAIL',
    });
  });
});

describe('stop', () => {
  it('waits for the legacy replies owed only once the requests in flight have finished', async () => {
    // A legacy POST still in its stages makes its reply pending only when it is forwarded: asking earlier
    // would find nothing owed and end the streams under it.
    const order: string[] = [];
    let finishRequests = (): void => undefined;
    const pub = server();
    const admin = server();
    await listen(pub, '127.0.0.1', 0, silentLogger());
    await listen(admin, '127.0.0.1', 0, silentLogger());
    const deps = {
      config: { server: { shutdownGraceMs: 5_000 } },
      pub: {
        server: pub,
        drained: () =>
          new Promise<void>((resolve) => {
            finishRequests = () => {
              order.push('requests finished');
              resolve();
            };
          }),
        inFlight: () => 1,
        closing: () => void order.push('closing'),
      },
      admin,
      replies: {
        endStreams: async () => void order.push('streams ended'),
        close: () => undefined,
      },
      legacy: {
        drained: async () => void order.push('legacy replies awaited'),
        pendingReplies: () => 0,
        closeAll: () => undefined,
      },
      upstream: { close: async () => undefined, destroy: async () => undefined },
      logger: silentLogger(),
    } as unknown as ListenersDeps;
    const stopping = createListeners(deps).stop();
    await new Promise((resolve) => setImmediate(resolve));
    // Replies still to come are told to close their connections at once; nothing else happens yet.
    expect(order).toEqual(['closing']);
    finishRequests();
    await stopping;
    expect(order).toEqual(['closing', 'requests finished', 'legacy replies awaited', 'streams ended']);
  });
});
