/**
 * Test helper: a legacy HTTP+SSE (2024-11-05) upstream on `raw-upstream.ts`, for tests that decide when each
 * message is answered. A GET on `/sse` opens the session's event stream, whose first event names where to
 * POST messages; a POSTed message is held (its POST gets no reply, or only the head of its 202: `acceptHead`)
 * until the test writes its answer on the stream ({@link LegacyUpstream.send}). POSTs to `/mcp` (the sidecar's tool discovery) get the usual answers.
 * And the client's side: {@link openLegacyStream} opens the session through the sidecar.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { type RawUpstream, rawReply, rawUpstream } from './raw-upstream.js';

/** The upstream's session id, named in its `endpoint` event. */
export const LEGACY_SESSION = 'up-1';

export interface LegacyUpstream {
  /** Its Streamable HTTP URL, for the sidecar's `upstream.url` (the legacy paths sit beside it). */
  readonly url: string;
  /** The bodies of the messages POSTed to the session so far. */
  posted(): string[];
  /** Writes `message` as a `message` event on the session's stream. */
  send(message: unknown): void;
  close(): Promise<void>;
}

const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

export interface LegacyUpstreamOptions {
  /**
   * A POSTed message gets its transport's `202 Accepted` head at once, but not its body (`Accepted`), which
   * never comes: the upstream has it and owes its answer on the stream, and its POST's reply is under way.
   */
  readonly acceptHead?: boolean;
}

export async function legacyUpstream(opts: LegacyUpstreamOptions = {}): Promise<LegacyUpstream> {
  let stream: Socket | undefined;
  const up: RawUpstream = await rawUpstream((req, socket) => {
    if (req.method === 'GET' && req.path === '/sse') {
      stream = socket;
      const head = rawReply('200 OK', [
        ['content-type', 'text/event-stream'],
        ['cache-control', 'no-cache'],
        ['transfer-encoding', 'chunked'],
      ]);
      socket.write(head + chunk(`event: endpoint\ndata: /messages?sessionId=${LEGACY_SESSION}\n\n`));
      return;
    }
    if (req.path.startsWith('/messages')) {
      // Held: answered on the stream, when the test says.
      if (opts.acceptHead) socket.write(rawReply('202 Accepted', [['content-length', '8']]));
      return;
    }
    const msg = req.body ? (JSON.parse(req.body) as { id?: unknown; method?: string }) : {};
    if (msg.id === undefined) {
      socket.write(rawReply('202 Accepted', [['content-length', '0']]));
      return;
    }
    const result =
      msg.method === 'initialize'
        ? {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'legacy', version: '1' },
          }
        : msg.method === 'tools/list'
          ? { tools: [] }
          : {};
    const json = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
    const headers: [string, string][] = [
      ['content-type', 'application/json'],
      ['content-length', String(Buffer.byteLength(json))],
    ];
    socket.write(rawReply('200 OK', headers, json));
  });
  return {
    url: up.url,
    posted: () => up.requests.filter((r) => r.path.startsWith('/messages')).map((r) => r.body),
    send: (message) => {
      if (!stream) throw new Error('no event stream open');
      stream.write(chunk(`event: message\ndata: ${JSON.stringify(message)}\n\n`));
    },
    close: () => up.close(),
  };
}

export interface LegacyStream {
  /** The sidecar's messages URL for the session (path and query, as its `endpoint` event named it). */
  readonly endpoint: string;
  /** Reads the stream until its text so far satisfies `done`, or it ends; resolves with the text so far. */
  read(done: (text: string) => boolean): Promise<string>;
  close(): Promise<void>;
}

/** Opens a legacy session's event stream at the sidecar's `sseUrl` and reads up to its `endpoint` event. */
export async function openLegacyStream(sseUrl: string, token: string): Promise<LegacyStream> {
  const res = await fetch(sseUrl, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
  });
  if (res.status !== 200) throw new Error(`legacy stream refused: ${res.status}`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const read = async (done: (text: string) => boolean): Promise<string> => {
    while (!done(text)) {
      const next = await reader.read();
      if (next.done) break;
      text += decoder.decode(next.value, { stream: true });
    }
    return text;
  };
  const endpoint = /event: endpoint\ndata: (\S+)/.exec(
    await read((t) => /event: endpoint\ndata: \S+\n/.test(t)),
  )?.[1];
  if (!endpoint) throw new Error('no endpoint event on the legacy stream');
  return { endpoint, read, close: () => reader.cancel().catch(() => undefined) };
}
