/**
 * `mcp-authz health [--ready]`: asks the running sidecar's admin listener for `/healthz` (or `/readyz`)
 * and exits 0 when it answers 2xx, 1 otherwise, with one line saying what went wrong (for a `/readyz`
 * that is not ready, which components are not and why; with `admin.port: 0`, that the port cannot be
 * known, without probing). The address comes
 * from the same config file and `AUTHZ_*` overrides as `serve`, so a container health check follows
 * `admin.port` wherever it is set (the image's `HEALTHCHECK` runs this).
 *
 * @module
 */
import { get } from 'node:http';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { loadCliConfig } from './config.js';
import { type CliIo, fail, processIo } from './table.js';

/** How long the probe waits for an answer. */
export const HEALTH_TIMEOUT_MS = 3_000;
/** The most of a `/readyz` body read for its reasons (the admin listener's is well under 4 KiB). */
const MAX_BODY_BYTES = 64 * 1024;
/** With `admin.port: 0` the sidecar listens on a port it picks at start, which only its log line names. */
const PORT_ZERO =
  'admin.port is 0: serve listens on a free port it picks at start (its "listening" log line names it), which mcp-authz health cannot know; set admin.port (or AUTHZ_ADMIN_PORT) to a fixed port to probe it';
/** After ECONNREFUSED: the sidecar is down, or this command read another address than `serve` did. */
const NOTHING_LISTENS =
  ": nothing listens there; is the sidecar running, with this config's admin.host and admin.port (file or AUTHZ_ADMIN_HOST / AUTHZ_ADMIN_PORT)?";

/**
 * The URL of the admin listener's `path`: a wildcard listen address (`0.0.0.0`, `::`) is reached on
 * 127.0.0.1 (a `::` socket takes IPv4 too, and falls back to `0.0.0.0` on a host without IPv6), an IPv6
 * literal goes in brackets.
 */
export function adminUrl(admin: Config['admin'], path: '/healthz' | '/readyz'): string {
  let host = admin.host;
  if (host === '0.0.0.0' || host === '::' || host === '[::]') host = '127.0.0.1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${admin.port}${path}`;
}

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('health')
    .description(
      "probe the running sidecar's admin port: exit 0 when /healthz answers 2xx (container health checks)",
    )
    .option('--ready', 'probe /readyz (ready to serve) instead of /healthz (alive)')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ config?: string; ready?: boolean }>();
      let url: string;
      try {
        const admin = loadCliConfig(opts.config, io).admin;
        if (admin.port === 0) {
          // The port exists only in the running process: probing port 0 said ECONNREFUSED, as if it were down.
          fail(io, PORT_ZERO);
          return;
        }
        url = adminUrl(admin, opts.ready ? '/readyz' : '/healthz');
      } catch (err) {
        fail(io, err);
        return;
      }
      try {
        const res = await probe(url, HEALTH_TIMEOUT_MS);
        if (res.status >= 200 && res.status < 300) {
          io.exit(0);
          return;
        }
        const why = notReady(res.body);
        fail(io, `${url} answered ${res.status}${why ? `: ${why}` : ''}`);
      } catch (err) {
        const why = (err as Error).message;
        fail(io, `${url} did not answer (${why})${why === 'ECONNREFUSED' ? NOTHING_LISTENS : ''}`);
      }
    });
}

/**
 * One GET of `url` within `ms`, body included: its status and (up to {@link MAX_BODY_BYTES}) its body.
 * `node:http`, not fetch, which refuses the WHATWG "bad ports" (6000, 6666, 10080, …) the admin listener may
 * well use, nor undici, whose loading alone cost every health check (every 30 s) 0.3 s of CPU. Rejects with
 * what went wrong: the socket's error code (`ECONNREFUSED`) or `no answer within 3 s`.
 */
function probe(url: string, ms: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error & { code?: unknown }) =>
      reject(
        new Error(
          err.name === 'AbortError' ? `no answer within ${ms / 1000} s` : String(err.code ?? err.message),
        ),
      );
    const req = get(url, { signal: AbortSignal.timeout(ms) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_BODY_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', failed);
    });
    req.on('error', failed);
  });
}

/**
 * The components a `/readyz` body lists as not ready, with why (`policy error (bundle not found at …)`):
 * the operator learns from the probe what keeps the pod out of the Service. Empty for any other body.
 */
function notReady(body: string): string {
  let components: unknown;
  try {
    components = (JSON.parse(body) as { components?: unknown }).components;
  } catch {
    return '';
  }
  if (typeof components !== 'object' || components === null) return '';
  return Object.entries(
    components as Record<string, { state?: unknown; detail?: unknown; lastError?: unknown }>,
  )
    .filter(([, s]) => s?.state === 'not_ready' || s?.state === 'error')
    .map(([name, s]) => {
      const why = s.detail ?? s.lastError;
      return `${name} ${String(s.state)}${typeof why === 'string' && why ? ` (${why})` : ''}`;
    })
    .join(', ');
}
