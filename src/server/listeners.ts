/**
 * The two listeners' lives: listening, and the shutdown sequence after SIGTERM — stop accepting, let
 * requests with a body finish within `server.shutdownGraceMs` (and the replies that legacy SSE requests
 * still await on their streams), end the event streams cleanly (clients
 * reconnect to another replica), cut what is left, drop the DELETEs of evicted sessions still waiting,
 * then close the upstream pool (which waits a second for those sent).
 *
 * @module
 */
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import type { SessionEnder } from '../proxy/session-ender.js';
import type { Upstream } from '../proxy/upstream.js';
import type { Logger } from '../telemetry/logger.js';
import type { ActiveReplies } from './active-replies.js';
import type { LegacySseRoutes } from './legacy-sse.js';
import { endQueued } from './pipelined.js';
import type { PublicServer } from './public-server.js';

export interface ListenersDeps {
  readonly config: Config;
  readonly pub: PublicServer;
  readonly admin: Server;
  readonly replies: ActiveReplies;
  readonly legacy: LegacySseRoutes;
  readonly upstream: Upstream;
  readonly logger: Logger;
  /** DELETEs of evicted sessions: the waiting ones are dropped before the upstream pool closes. */
  readonly sessionEnder?: Pick<SessionEnder, 'stop'>;
}

export interface Listeners {
  /** Listens on the admin port only (probes, `/readyz`), before the components start; resolves with its URL. */
  startAdmin(): Promise<string>;
  /**
   * Listens on both ports; resolves with URLs that reach them (a wildcard is reached on 127.0.0.1) and the
   * addresses they are bound to (`[::]:8080`).
   */
  start(): Promise<{
    readonly publicUrl: string;
    readonly adminUrl: string;
    readonly bound: { readonly public: string; readonly admin: string };
  }>;
  /** The shutdown sequence (module comment); resolves once both listeners and the pool are closed. */
  stop(): Promise<void>;
}

export function createListeners(d: ListenersDeps): Listeners {
  const publicServer = d.pub.server;
  const open = new Set<Socket>();
  publicServer.on('connection', (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  let admin: Promise<string> | undefined;
  const startAdmin = () => {
    admin ??= listen(d.admin, d.config.admin.host, d.config.admin.port, d.logger);
    return admin;
  };
  return {
    startAdmin,
    async start() {
      const adminUrl = await startAdmin();
      const publicUrl = await listen(publicServer, d.config.server.host, d.config.server.port, d.logger, {
        secure: d.pub.tls !== undefined,
      });
      return { publicUrl, adminUrl, bound: { public: boundTo(publicServer), admin: boundTo(d.admin) } };
    },
    async stop() {
      const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()));
      publicServer.closeIdleConnections();
      d.pub.closing();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(resolve, d.config.server.shutdownGraceMs, 'timeout');
      });
      // Legacy replies after the requests: a legacy POST still in its stages makes its reply pending later.
      const drained = d.pub
        .drained()
        .then(() => d.legacy.drained())
        .then(() => 'drained' as const);
      const outcome = await Promise.race([drained, grace]);
      clearTimeout(timer);
      if (outcome === 'timeout')
        d.logger.warn(
          { inFlight: d.pub.inFlight(), legacyReplies: d.legacy.pendingReplies() },
          'shutdown grace period over; cutting requests',
        );
      // Nothing still waiting for its turn may go upstream now: the connections are cut below, so it could
      // never be answered (a call pipelined behind an event stream would get its turn as the stream ends).
      for (const s of open) endQueued(s);
      // End event streams cleanly (clients see the stream end and reconnect elsewhere), then cut the rest.
      await d.replies.endStreams(1_000);
      d.replies.close();
      d.legacy.closeAll();
      for (const s of open) s.destroy();
      await closed;
      // Node's close() waits for every open connection, and stops timing out idle ones: a probe's or a
      // scraper's kept-alive connection (or one that never sent a request) would hold the stop forever.
      const adminClosed = new Promise<void>((resolve) => d.admin.close(() => resolve()));
      d.admin.closeAllConnections();
      await adminClosed;
      // No request is left to evict a session: drop the session DELETEs still waiting (those sent end below).
      d.sessionEnder?.stop();
      // Streams cut above may still hold upstream requests: wait briefly for a clean close, then destroy.
      const closedPool = await Promise.race([
        d.upstream.close().then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => setTimeout(resolve, 1_000, false).unref()),
      ]);
      if (!closedPool) await d.upstream.destroy().catch(() => undefined);
    },
  };
}

/** The wildcard address that takes IPv6 and IPv4 alike (Node's sockets on it are dual-stack). */
const ANY_IPV6 = '::';
/** Binding `::` fails so on a host without IPv6 (kernel or container): the listener falls back to IPv4. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Listens on `host:port` and resolves with a URL that reaches it (a wildcard address is reached on
 * 127.0.0.1: an IPv6 wildcard socket takes IPv4 too). `::` falls back to `0.0.0.0` where IPv6 is missing,
 * as Node's own default listen address does.
 */
export async function listen(
  server: Server,
  host: string,
  port: number,
  logger: Logger,
  opts: { readonly secure?: boolean } = {},
): Promise<string> {
  const scheme = opts.secure ? 'https' : 'http';
  try {
    return await listenOnce(server, host, port, scheme);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (host !== ANY_IPV6 || !NO_IPV6.has(code)) throw err;
    logger.info({ host, code }, 'no IPv6 on this host; listening on 0.0.0.0 (IPv4) instead');
    return listenOnce(server, '0.0.0.0', port, scheme);
  }
}

/** `[::]:8080`, `0.0.0.0:9090`, `127.0.0.1:8080`: where a listening server is bound. */
export function boundTo(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function listenOnce(server: Server, host: string, port: number, scheme: 'http' | 'https'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      if (a.address === '0.0.0.0' || a.address === ANY_IPV6) {
        resolve(`${scheme}://127.0.0.1:${a.port}`);
        return;
      }
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`${scheme}://${h}:${a.port}`);
    });
  });
}
