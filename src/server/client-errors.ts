/**
 * Requests Node's HTTP server refuses before any request object exists: a malformed request line or header
 * field (400, `ERR_REQUEST_FRAMING`), a request head over Node's 16 KiB limit (431, `ERR_REQUEST_HEADERS`), a
 * head not in within `headersTimeout` (408, `ERR_REQUEST_TIMEOUT`; `server.headersTimeoutMs`). Node tells of
 * them by `clientError` and, left to itself, writes a bare status line and closes the connection: nothing
 * counted, nothing logged. Here they are answered as every refusal before routing is (`public-server.ts`): a
 * JSON-RPC error body and `Connection: close`, counted (route `bad_request`, reason `request`) and logged as
 * `request denied` with the peer's address. Their duration: a 408's is the head timeout (the time Node
 * waited, checked once a second: {@link serverTimeouts}); a 400's or 431's the time since its connection was
 * accepted (a TLS one: since its handshake), when its head is the connection's first: Node times a first head
 * from there too (its head timeout), and says nowhere when the first byte came (its parser reads the socket
 * in C++, no `data` event). A head after a kept-alive request is counted with 0: when it began is not known,
 * and the idle time since the reply before is no part of it. No audit record: no policy decided anything, as for the
 * other refusals before authentication (an access-log line, not a decision).
 *
 * Everything else is left as Node does it: an error while a request is under way on the connection (a
 * malformed chunk mid-body, a reply still owed: that request's own accounting reads Node's answer back,
 * `connectionClosed`), a client leaving mid-head, a connection that never sent a byte (a preconnect, a TCP
 * probe: no request), a socket error.
 *
 * @module
 */
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import { RequestError } from '../errors/errors.js';
import { toErrorResponse } from '../errors/http.js';
import type { Logger } from '../telemetry/logger.js';
import { behindClosingReply } from './pipelined.js';

export interface ClientErrorDeps {
  readonly logger: Logger;
  /** Counts one refused request with the status it was answered and its duration (module comment). */
  readonly count: (status: number, seconds: number) => void;
}

/** Node checks requests against their timeouts this often at most (its own default is every 30 s). */
export const TIMEOUT_CHECK_MS = 1_000;

/**
 * The public listener's timeouts, as `createServer` options: a head in within `headersTimeoutMs`, a whole
 * request within {@link REQUEST_TIMEOUT_MS}. Node checks them every `connectionsCheckingInterval`, 30 s by
 * default (a 10 s head timeout then held a slow head's connection up to 40 s): here once a second, or as
 * often as the head timeout when it is shorter.
 */
export function serverTimeouts(headersTimeoutMs: number): {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, headersTimeoutMs),
  };
}

/** What Node's HTTP server keeps on a connection's socket (undocumented; so since Node 0.x). */
type HttpSocket = Socket & {
  /** The reply being written on the connection, until it has finished. */
  readonly _httpMessage?: { readonly _headerSent?: boolean } | null;
  /** The request whose head was parsed, until its message is complete. */
  readonly parser?: { readonly incoming?: IncomingMessage | null } | null;
};

/** When each connection was accepted (a TLS one: its handshake done), `performance.now()`. */
const acceptedAt = new WeakMap<Duplex, number>();

export function answerClientErrors(server: Server, deps: ClientErrorDeps): void {
  // Per connection, not per request. On an HTTPS server `clientError` names the TLS socket: its time wins.
  const accepted = (socket: Duplex) => void acceptedAt.set(socket, performance.now());
  server.on('connection', accepted);
  server.on('secureConnection', accepted);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
    onClientError(err, socket as HttpSocket, server.headersTimeout, deps),
  );
}

/** Seconds since the connection of a refused head was accepted, when the head is its first; else 0. */
function headSeconds(socket: HttpSocket): number {
  // Nothing written on it yet: no reply went out, so no request came before this head (one under way is
  // never counted here: `underway`).
  const since = socket.bytesWritten === 0 ? acceptedAt.get(socket) : undefined;
  return since === undefined ? 0 : (performance.now() - since) / 1000;
}

function onClientError(
  err: NodeJS.ErrnoException,
  socket: HttpSocket,
  headersTimeoutMs: number,
  deps: ClientErrorDeps,
): void {
  const refusal = socket.writable && !underway(socket) ? refusalOf(err, socket, headersTimeoutMs) : undefined;
  if (!refusal) {
    nodeDefault(err, socket);
    return;
  }
  const out = toErrorResponse(refusal, { ids: null, batch: false, resourceMetadataUrl: '' });
  // Logged as every refusal before routing: with the peer's address, as there is no request id or subject yet.
  // Never `err.rawPacket`: the bytes of the refused head, its credentials among them.
  const { code, reason } = refusal;
  deps.logger.info(
    { code, reason, status: out.status, node_code: err.code, peer_ip: socket.remoteAddress ?? null },
    'request denied',
  );
  deps.count(out.status, code === 'ERR_REQUEST_TIMEOUT' ? headersTimeoutMs / 1000 : headSeconds(socket));
  const body = JSON.stringify(out.body);
  const fields = {
    ...out.headers,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    date: new Date().toUTCString(),
    connection: 'close',
  };
  const head = Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`);
  // As Node does it: written, then the connection closed (its parser cannot go on after an error).
  socket.write(`HTTP/1.1 ${out.status} ${STATUS_CODES[out.status]}\r\n${head.join('')}\r\n${body}`);
  socket.destroy(err);
}

/** Whether a request is under way on the connection: its body being read, or a reply still owed. */
function underway(socket: HttpSocket): boolean {
  const incoming = socket.parser?.incoming;
  return (
    socket._httpMessage != null ||
    (incoming != null && !incoming.complete) ||
    // Behind a reply that closes the connection: never answered (RFC 9112 §9.6), as Node leaves it.
    behindClosingReply(socket)
  );
}

function refusalOf(
  err: NodeJS.ErrnoException,
  socket: HttpSocket,
  headersTimeoutMs: number,
): RequestError | undefined {
  const code = err.code ?? '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A connection that never sent a byte made no request: Node's 408 and close, uncounted.
    if (!socket.bytesRead) return undefined;
    return new RequestError(
      'ERR_REQUEST_TIMEOUT',
      `Request Timeout: the request's header fields did not arrive within ${headersTimeoutMs / 1000} s`,
    );
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new RequestError(
      'ERR_REQUEST_HEADERS',
      "Request Header Fields Too Large: the request line and header fields exceed Node's 16 KiB limit",
    );
  }
  // The client's own end of the connection mid-head is it leaving (as mid-body: `connectionClosed`).
  if (code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE') {
    return new RequestError(
      'ERR_REQUEST_FRAMING',
      `Bad Request: the request's HTTP framing is broken, ${code}`,
    );
  }
  return undefined;
}

const NODE_ANSWERS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * What Node's HTTP server does with a client error when nothing listens for `clientError`
 * (`_http_server.js`, `socketOnError`): a bare answer unless the connection cannot take one (no longer
 * writable, or a reply's bytes already on it), then the connection destroyed with the error, which the
 * request under way reads back from `socket.errored`.
 */
function nodeDefault(err: NodeJS.ErrnoException, socket: HttpSocket): void {
  if (socket.writable && !socket._httpMessage?._headerSent) {
    const status = NODE_ANSWERS[err.code ?? ''] ?? '400 Bad Request';
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy(err);
}
