/**
 * Test helper: an upstream written on `node:net`, for replies no HTTP server library would send (lying
 * lengths, a body after a 204, a close just as a keep-alive connection is reused). It parses each request
 * the sidecar sends (Content-Length bodies only: the sidecar sends no other) and hands it, with the
 * socket and the request's number on its connection, to `answer`, which writes the raw reply.
 *
 * @module
 */
import { createServer, type Socket } from 'node:net';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** 1 for the first request on its connection, 2 for the next one on the same connection, … */
  readonly nth: number;
}

export interface RawUpstream {
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RawRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Ends every connection now (an upstream crash or restart). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function rawUpstream(answer: (req: RawRequest, socket: Socket) => void): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const requests: RawRequest[] = [];
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let nth = 0;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [start = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length).toString('utf8');
        buf = buf.subarray(end + 4 + length);
        const [method = '', path = ''] = start.split(' ');
        const req = { method, path, headers, body, nth: ++nth };
        requests.push(req);
        answer(req, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    connections: () => accepted,
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A whole HTTP/1.1 reply: status line, headers (in order, repeats allowed) and body, as raw bytes. */
export function rawReply(status: string, headers: [string, string][], body = ''): string {
  return `HTTP/1.1 ${status}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}
