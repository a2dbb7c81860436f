/**
 * Readiness of the MCP server beside the sidecar: every `upstream.readinessCheckMs` a TCP connection to the
 * upstream's host and port is opened and closed. The upstream is this pod's own container, so unlike Redis
 * or the token issuer (shared by every replica, where failing readiness everywhere would empty the
 * Service), a failure takes only this pod out of the Service — what a rollout needs (a new pod is ready
 * once its MCP server listens, not before) and what a crash-looping MCP server should cause.
 *
 * @module
 */
import { connect } from 'node:net';
import type { Component, ComponentStatus } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';

export interface UpstreamReadinessOptions {
  /** The upstream's origin (`http://127.0.0.1:8081`). */
  readonly origin: URL;
  /** Between checks; 0: no check, always ok. */
  readonly intervalMs: number;
  /** A connection not made within this is a failure. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Resolves with null once a connection to `host:port` is made, or with why not. */
export function tryConnect(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no connection within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export function upstreamReadiness(opts: UpstreamReadinessOptions): Component {
  const host = opts.origin.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(opts.origin.port || (opts.origin.protocol === 'https:' ? 443 : 80));
  const where = `${opts.origin.hostname}:${port}`;
  let status: ComponentStatus = { state: 'not_ready', detail: `not checked yet (${where})` };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  let first = true;
  /** Checks once; logs only changes (and a first failure). */
  const check = async (): Promise<void> => {
    const why = await tryConnect(host, port, opts.timeoutMs);
    if (stopped) return;
    const wasOk = status.state === 'ok';
    if (why === null) {
      status = { state: 'ok', detail: `accepts connections (${where})` };
      if (!wasOk && !first) opts.logger.info({ upstream: where }, 'upstream accepts connections');
    } else {
      status = { state: 'not_ready', detail: `cannot connect to ${where}: ${why}` };
      if (wasOk || first)
        opts.logger.warn({ upstream: where, err: why }, 'upstream does not accept connections');
    }
    first = false;
  };

  return {
    name: 'upstream',
    async start() {
      if (opts.intervalMs === 0) {
        status = { state: 'ok', detail: 'not checked (upstream.readinessCheckMs is 0)' };
        return;
      }
      await check();
      const loop = () => {
        timer = setTimeout(() => void check().finally(() => !stopped && loop()), opts.intervalMs);
        timer.unref();
      };
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
    },
    status: () => status,
  };
}
