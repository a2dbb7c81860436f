/**
 * `awaitTurn` for a reply destroyed while it waits for its turn (a stream re-check cut a GET stream pipelined
 * behind a slow call): Node 20 still hands it the connection at its turn, and Node 24 hands the connection to
 * it and then writes nothing more on it. On both, its request must not go upstream, and the connection must
 * close at that turn, so that the requests pipelined behind it end instead of waiting for ever.
 */
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { expect, it } from 'vitest';
import { awaitTurn, closeWithConnection } from '../../../src/server/pipelined.js';
import { settlesWithin } from '../../helpers/wait.js';

it('gives no turn to a reply destroyed while queued, and closes its connection at that turn', async () => {
  const turns = new Map<string, Promise<boolean>>();
  let bothQueued!: () => void;
  const queued = new Promise<void>((r) => {
    bothQueued = r;
  });
  const server = createServer((req, res) => {
    if (!res.socket) closeWithConnection(req, res);
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow'), 100);
      return;
    }
    turns.set(req.url ?? '', Promise.resolve(awaitTurn(res)));
    if (req.url === '/cut') setTimeout(() => res.destroy(), 20);
    if (turns.size === 2) bothQueued();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const s = connect(port, '127.0.0.1', () =>
      s.write(
        'GET /slow HTTP/1.1\r\nhost: x\r\n\r\nGET /cut HTTP/1.1\r\nhost: x\r\n\r\nGET /behind HTTP/1.1\r\nhost: x\r\n\r\n',
      ),
    );
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
    });
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    await queued;
    expect(await settlesWithin(2_000, turns.get('/cut') as Promise<boolean>, 'the turn of /cut')).toBe(false);
    expect(await settlesWithin(2_000, turns.get('/behind') as Promise<boolean>, 'the turn of /behind')).toBe(
      false,
    );
    await settlesWithin(2_000, closed, 'the connection closing');
    // The reply ahead went out whole first.
    expect(got).toMatch(/\r\n\r\nslow$/);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
