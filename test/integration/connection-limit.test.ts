/**
 * `server.maxConnections` on a real sidecar: past the limit a new client connection is closed before it
 * is read, counted in `mcp_authz_connections_dropped_total` and logged; the connections held keep working,
 * and once one closes a new client gets in again.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.stop();
  h = undefined;
});

/** An open TCP connection to the sidecar's public port. */
function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) }, () => resolve(s));
    s.once('error', reject);
    sockets.push(s);
  });
}

/**
 * Sends one keep-alive request on `s` and resolves with what came back before the connection closed or the
 * response head ended; `closed` tells whether the server closed the connection.
 */
function exchange(s: Socket): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean) => {
      s.off('data', onData);
      resolve({ text, closed });
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) done(false);
    };
    s.on('data', onData);
    s.once('close', () => done(true));
    s.on('error', () => undefined);
    s.write('GET /nothing-here HTTP/1.1\r\nHost: sidecar\r\n\r\n');
  });
}

async function dropped(): Promise<number> {
  const text = await (await fetch(`${h?.sidecar.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('mcp_authz_connections_dropped_total'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

describe('server.maxConnections', () => {
  it('closes connections past the limit, counts and logs them, and admits new ones once one closes', async () => {
    h = await startHarness({ config: { server: { maxConnections: 2 } } });
    const url = h.mcpUrl;
    expect(await dropped()).toBe(0);
    const first = await open(url);
    const second = await open(url);
    expect((await exchange(first)).text).toMatch(/^HTTP\/1\.1 404/);
    expect((await exchange(second)).text).toMatch(/^HTTP\/1\.1 404/);

    const third = await open(url);
    const refused = await exchange(third);
    expect(refused).toEqual({ text: '', closed: true });
    expect(await dropped()).toBe(1);
    expect(
      h.logs.some((l) => l.includes('connection limit reached') && l.includes('"max_connections":2')),
    ).toBe(true);

    // The connections held are served as before.
    expect((await exchange(first)).text).toMatch(/^HTTP\/1\.1 404/);
    // One closes: the server sees it go (asynchronously), then a new client is served.
    second.destroy();
    await until(5_000, async () => {
      const s = await open(url);
      const r = await exchange(s);
      s.destroy();
      return !r.closed;
    });
    expect(await dropped()).toBeGreaterThanOrEqual(1);
  });

  it('0 turns the limit off', async () => {
    h = await startHarness({ config: { server: { maxConnections: 0 } } });
    const held = await Promise.all(Array.from({ length: 5 }, () => open(h?.mcpUrl ?? '')));
    for (const s of held) expect((await exchange(s)).text).toMatch(/^HTTP\/1\.1 404/);
    expect(await dropped()).toBe(0);
  });
});
