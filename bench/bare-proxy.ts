/**
 * The baseline for the proxy benchmark: the least a proxy in front of an MCP server has to do. A
 * `node:http` server reads the request body, forwards it with an undici Pool (64 keep-alive
 * connections, like the sidecar's upstream client) and streams the reply back. No authentication, no
 * parsing, no policy, no header hygiene beyond dropping hop-by-hop headers. Whatever the sidecar costs
 * above this is the price of its checks.
 *
 * With a {@link Gate} it is the benchmark's floor instead (`minimal-gate.ts`): the same proxy, checking each
 * request before forwarding it.
 *
 * @module
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

export interface BareProxy {
  /** Base URL without a path; requests keep their path (`/mcp`). */
  readonly url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
]);

/** A request the gate let through: headers to add to the upstream request and to the reply. */
export interface Passed {
  readonly upstream: Readonly<Record<string, string>>;
  readonly reply: Readonly<Record<string, string>>;
  /** Called with the upstream's status once its reply headers came. */
  readonly answered?: (status: number) => void;
  /** Called with the upstream's status once the reply is finished (or cut off). */
  readonly finished?: (status: number) => void;
}

/**
 * Checks a request (its body read) before it is forwarded: what to add when it passes, else the status
 * to refuse it with. A gated proxy never forwards the client's `Authorization`.
 */
export type Gate = (req: IncomingMessage, body: Buffer) => Passed | number | Promise<Passed | number>;

/** Starts a pass-through proxy to `upstreamOrigin` (scheme, host and port), checking requests with `gate`. */
export async function startBareProxy(
  upstreamOrigin: string,
  host = '127.0.0.1',
  gate?: Gate,
): Promise<BareProxy> {
  const pool = new Pool(new URL(upstreamOrigin).origin, {
    connections: 64,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 0,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    let passed: Passed | undefined;
    if (gate) {
      const p = gate(req, body);
      const checked = p instanceof Promise ? await p : p;
      if (typeof checked === 'number') {
        res.writeHead(checked, { 'content-length': 0 });
        res.end();
        return;
      }
      passed = checked;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    if (body.length > 0) headers['content-length'] = String(body.length);
    if (passed) {
      delete headers.authorization;
      Object.assign(headers, passed.upstream);
    }
    const up = await pool.request({
      method: req.method as 'GET' | 'POST' | 'DELETE',
      path: req.url ?? '/',
      headers,
      body: body.length > 0 ? body : null,
    });
    passed?.answered?.(up.statusCode);
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (value !== undefined && (name === 'content-length' || !HOP_BY_HOP.has(name))) out[name] = value;
    }
    if (passed) Object.assign(out, passed.reply);
    res.writeHead(up.statusCode, out);
    // body.pipe(res) rather than stream/promises pipeline(): pipeline() builds an AbortController and
    // aborts it (a DOMException with a stack trace) on every call, which costs tens of µs per request.
    up.body.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.body.destroy();
      passed?.finished?.(up.statusCode);
    });
    up.body.pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-length': 0 });
        res.end();
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await pool.close();
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}
