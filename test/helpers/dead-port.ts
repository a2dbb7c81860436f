/**
 * Test helper: a loopback port nothing listens on, for an upstream or a store that is down. A port freed after
 * `listen(0)` is no such port: the OS hands it out again to the next `listen(0)` (the sidecar's own admin
 * listener once answered as the "down" upstream, 405). This one is picked below the ephemeral range
 * (32768 and up on Linux), which `listen(0)` never hands out, and checked free.
 *
 * @module
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const SPAN = 10_000;

/** A port below the ephemeral range that nothing listens on now (a connection to it is refused). */
export async function deadPort(): Promise<number> {
  for (;;) {
    const port = LOW + Math.floor(Math.random() * SPAN);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
