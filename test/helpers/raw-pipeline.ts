/**
 * Test helper: HTTP/1.1 pipelines written by hand on one connection, for the tests of what the sidecar does
 * with requests queued behind one another (depth, and requests behind a reply that closes the connection).
 *
 * @module
 */
import { connect } from 'node:net';

/**
 * A `tools/call` POST to `/mcp` as raw HTTP/1.1 text, with `token` as bearer; `extraHeaders` (whole lines,
 * each ending in CRLF) go after the usual ones.
 */
export function rawToolCall(
  token: string,
  id: number,
  name: string,
  args: Record<string, unknown>,
  extraHeaders = '',
): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args },
  });
  return (
    `POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nmcp-protocol-version: 2025-06-18\r\n` +
    `content-type: application/json\r\naccept: application/json, text/event-stream\r\n${extraHeaders}` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** One connection to `baseUrl`'s port: `write` sends raw text, `closed` resolves with all it got back once closed. */
export function rawConnection(baseUrl: string): { write(text: string): void; closed: Promise<string> } {
  const { port } = new URL(baseUrl);
  const s = connect(Number(port), '127.0.0.1');
  let got = '';
  s.setEncoding('utf8');
  s.on('data', (chunk: string) => {
    got += chunk;
  });
  // A reset after the sidecar closed the connection says nothing more than `close` does.
  s.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => s.on('close', () => resolve(got)));
  return { write: (text) => void s.write(text), closed };
}

/** Writes `text` on a new connection; resolves with everything written back once the connection closed. */
export function exchange(baseUrl: string, text: string): Promise<string> {
  const c = rawConnection(baseUrl);
  c.write(text);
  return c.closed;
}

/** The status codes of the replies in `raw` (a JSON reply ends without a newline: the next may follow on its line). */
export const statuses = (raw: string): number[] =>
  [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

/** A POST of `body` (JSON text) to `path` as raw HTTP/1.1 text, with `token` as bearer. */
export function rawPost(token: string, path: string, body: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
