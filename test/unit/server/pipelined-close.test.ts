/**
 * `closeWithConnection`: a reply queued behind another on a pipelined connection gets no socket, and Node 20
 * never closes it when the connection goes (Node 24 does, a tick later): it must close exactly once on both.
 */
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { expect, it } from 'vitest';
import { closeWithConnection } from '../../../src/server/pipelined.js';

const turns = (n: number) =>
  Array.from({ length: n }).reduce<Promise<void>>(
    (p) => p.then(() => new Promise((r) => setImmediate(r))),
    Promise.resolve(),
  );

it('closes a queued reply once when its connection closes, and one given its socket as Node does', async () => {
  let closes = 0;
  let queued!: () => void;
  const queuedSeen = new Promise<void>((r) => {
    queued = r;
  });
  let closed!: () => void;
  const firstClose = new Promise<void>((r) => {
    closed = r;
  });
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/a') {
      held.push(res); // hangs: /b waits behind it
      return;
    }
    expect(res.socket).toBeNull();
    closeWithConnection(req, res);
    res.on('close', () => {
      closes++;
      closed();
    });
    queued();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const s = connect(port, '127.0.0.1', () =>
      s.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n'),
    );
    s.on('error', () => undefined);
    await queuedSeen;
    s.destroy();
    await firstClose;
    await turns(5); // any second close (Node's own, and ours) would have come by now
    expect(closes).toBe(1);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
