import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { type EventRewrite, MAX_SSE_EVENT_BYTES, SseRewriter } from '../../../src/mcp/sse-transform.js';

const identity: EventRewrite = (e) => e.data;

/** Writes each chunk separately into a rewriter and returns everything it emitted. */
async function run(chunks: readonly (string | Buffer)[], rewrite: EventRewrite = identity): Promise<string> {
  const rw = new SseRewriter(rewrite);
  const out: Buffer[] = [];
  rw.on('data', (c: Buffer) => out.push(c));
  const ended = once(rw, 'end');
  for (const c of chunks) rw.write(typeof c === 'string' ? Buffer.from(c) : c);
  rw.end();
  await ended;
  return Buffer.concat(out).toString('utf8');
}

describe('SseRewriter', () => {
  it('re-emits a single event unchanged with an identity rewrite', async () => {
    expect(await run(['data: {"a":1}\n\n'])).toBe('data: {"a":1}\n\n');
  });

  it('emits what the rewrite returns', async () => {
    const rewrite = vi.fn<EventRewrite>((e) => e.data.toUpperCase());
    expect(await run(['data: one\n\ndata: two\n\n'], rewrite)).toBe('data: ONE\n\ndata: TWO\n\n');
    expect(rewrite).toHaveBeenCalledTimes(2);
  });

  it('reassembles an event split across chunk boundaries', async () => {
    const rewrite = vi.fn<EventRewrite>(identity);
    const out = await run(['da', 'ta: hel', 'lo', '\n', '\ndata: x\n\n'], rewrite);
    expect(rewrite.mock.calls.map(([e]) => e.data)).toEqual(['hello', 'x']);
    expect(out).toBe('data: hello\n\ndata: x\n\n');
  });

  it('emits nothing for an event before its blank line arrives', async () => {
    const rw = new SseRewriter(identity);
    const out: string[] = [];
    rw.on('data', (c: Buffer) => out.push(c.toString()));
    rw.write(Buffer.from('data: partial\n'));
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]);
    rw.write(Buffer.from('\n'));
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe('data: partial\n\n');
    rw.destroy();
  });

  it('passes an event ended by bare CRs at once, and the last one at the end of the stream', async () => {
    const rw = new SseRewriter(identity);
    const out: string[] = [];
    rw.on('data', (c: Buffer) => out.push(c.toString()));
    rw.write(Buffer.from('event: message\rdata: first\r\r'));
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe('event: message\ndata: first\n\n');
    rw.destroy();
    expect(await run(['data: a\r\r', 'data: last\r\r'])).toBe('data: a\n\ndata: last\n\n');
  });

  it('reads CRLF split between chunks as one line end, and mixed line ends alike', async () => {
    expect(await run(['data: a\r', '\n\r', '\ndata: b\n\r\n'])).toBe('data: a\n\ndata: b\n\n');
    // Not a CRLF: a CR ends one line, and the next chunk's first line is not swallowed.
    expect(await run(['data: a\r', 'data: b\r\r'])).toBe('data: a\ndata: b\n\n');
  });

  it('drops a byte-order mark opening the stream (the SSE spec has readers drop one), not the first event', async () => {
    expect(await run([Buffer.from([0xef, 0xbb]), Buffer.from([0xbf, ...Buffer.from('data: x\n\n')])])).toBe(
      'data: x\n\n',
    );
    expect(await run(['\ufeffdata: {"a":1}\n\n'])).toBe('data: {"a":1}\n\n');
  });

  it('joins multi-line data for the rewrite and splits multi-line output again', async () => {
    const rewrite = vi.fn<EventRewrite>((e) => `${e.data}\nc`);
    expect(await run(['data: a\ndata: b\n\n'], rewrite)).toBe('data: a\ndata: b\ndata: c\n\n');
    expect(rewrite.mock.calls[0]?.[0].data).toBe('a\nb');
  });

  it('keeps the id and event fields', async () => {
    const rewrite = vi.fn<EventRewrite>(identity);
    expect(await run(['id: 42\nevent: endpoint\ndata: /messages?s=1\n\n'], rewrite)).toBe(
      'id: 42\nevent: endpoint\ndata: /messages?s=1\n\n',
    );
    expect(rewrite).toHaveBeenCalledWith({ id: '42', event: 'endpoint', data: '/messages?s=1' });
  });

  it('keeps the MCP priming event (an id with empty data)', async () => {
    expect(await run(['id: evt-0\ndata: \n\n'])).toBe('id: evt-0\ndata: \n\n');
  });

  it('keeps retry fields and comments', async () => {
    const out = await run(['retry: 3000\n\n: keep-alive\n\ndata: x\n\n']);
    expect(out).toBe('retry: 3000\n\n:keep-alive\n\ndata: x\n\n');
  });

  it('accepts CRLF line endings, also when CR and LF arrive in different chunks', async () => {
    expect(await run(['data: a\r', '\n\r', '\ndata: b\r\n\r\n'])).toBe('data: a\n\ndata: b\n\n');
  });

  it('decodes UTF-8 characters split across chunks', async () => {
    const bytes = Buffer.from('data: {"t":"héllo €𝄞"}\n\n');
    const rewrite = vi.fn<EventRewrite>(identity);
    // split inside "é" (2 bytes), "€" (3 bytes) and "𝄞" (4 bytes)
    const e = bytes.indexOf(0xc3) + 1;
    const euro = bytes.indexOf(0xe2) + 2;
    const clef = bytes.indexOf(0xf0) + 3;
    const out = await run(
      [bytes.subarray(0, e), bytes.subarray(e, euro), bytes.subarray(euro, clef), bytes.subarray(clef)],
      rewrite,
    );
    expect(rewrite.mock.calls[0]?.[0].data).toBe('{"t":"héllo €𝄞"}');
    expect(out).toBe('data: {"t":"héllo €𝄞"}\n\n');
  });

  it('emits a trailing comment without newline when the stream ends', async () => {
    expect(await run(['data: a\n\n: bye'])).toBe('data: a\n\n:bye\n\n');
  });

  it('does not dispatch an event left incomplete at the end of the stream (SSE spec)', async () => {
    const rewrite = vi.fn<EventRewrite>(identity);
    expect(await run(['data: a\n\ndata: cut'], rewrite)).toBe('data: a\n\n');
    expect(rewrite).toHaveBeenCalledTimes(1);
  });

  it('fails the stream when the rewrite throws', async () => {
    const rw = new SseRewriter(() => {
      throw new Error('boom');
    });
    const failed = once(rw, 'error');
    rw.write(Buffer.from('data: x\n\n'));
    const [err] = await failed;
    expect(err).toBeInstanceOf(Error);
  });

  it('emits the same events whatever byte boundary the upstream splits its stream at', async () => {
    const stream = Buffer.from(
      ': ping\r\nid: 7\r\nevent: message\r\ndata: {"text":"café ✓"}\r\n\r\nretry: 50\n\ndata: a\ndata: b\n\n',
    );
    const whole = await run([stream]);
    expect(whole).toBe(
      ':ping\n\nid: 7\nevent: message\ndata: {"text":"café ✓"}\n\nretry: 50\n\ndata: a\ndata: b\n\n',
    );
    for (let i = 1; i < stream.length; i++) {
      expect(await run([stream.subarray(0, i), stream.subarray(i)])).toBe(whole);
    }
    expect(await run([...stream].map((b) => Buffer.from([b])))).toBe(whole);
  });

  it('fails the stream once one event holds 16 MiB, though comment lines come between its data lines', async () => {
    const rw = new SseRewriter(identity);
    const failed = once(rw, 'error');
    const seen: string[] = [];
    rw.on('data', (c: Buffer) => seen.push(c.toString().slice(0, 20)));
    const chunk = Buffer.from(`data: ${'A'.repeat(1024 * 1024)}\n:keepalive\n`);
    for (let sent = 0; sent <= 2 * MAX_SSE_EVENT_BYTES && !rw.destroyed; sent += chunk.length)
      rw.write(chunk);
    const [err] = await failed;
    expect((err as Error).message).toBe(`upstream SSE event exceeds ${MAX_SSE_EVENT_BYTES} bytes`);
    expect(seen.some((s) => s.startsWith('data: AAAA'))).toBe(false);
  });

  it.each([
    ['a line that never ends', 'data: '],
    ['data lines without the blank line that ends the event', 'data: x\n'],
  ])(
    'fails the stream once the upstream sent 16 MiB without completing an event (%s)',
    async (_what, start) => {
      const rw = new SseRewriter(identity);
      const failed = once(rw, 'error');
      rw.resume();
      const chunk = Buffer.from(start === 'data: ' ? 'x'.repeat(64 * 1024) : 'data: x\n'.repeat(8 * 1024));
      rw.write(Buffer.from(`data: done\n\n${start}`));
      for (let sent = 0; sent <= MAX_SSE_EVENT_BYTES && !rw.destroyed; sent += chunk.length) rw.write(chunk);
      const [err] = await failed;
      expect((err as Error).message).toBe(`upstream SSE event exceeds ${MAX_SSE_EVENT_BYTES} bytes`);
    },
  );
});

describe('SseRewriter.inject', () => {
  it('sends an extra message event between upstream events', async () => {
    const rw = new SseRewriter(identity);
    const out: string[] = [];
    rw.on('data', (c: Buffer) => out.push(c.toString()));
    const ended = once(rw, 'end');
    rw.write(Buffer.from('data: first\n\n'));
    await new Promise((r) => setImmediate(r));
    expect(rw.inject('{"jsonrpc":"2.0","id":1,"result":{}}')).toBe(true);
    rw.end(Buffer.from('data: last\n\n'));
    await ended;
    expect(out.join('')).toBe(
      'data: first\n\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\ndata: last\n\n',
    );
  });

  it('splits injected multi-line data into data lines', async () => {
    const rw = new SseRewriter(identity);
    const out: string[] = [];
    rw.on('data', (c: Buffer) => out.push(c.toString()));
    rw.inject('a\nb');
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe('event: message\ndata: a\ndata: b\n\n');
    rw.destroy();
  });

  it('refuses once the stream has ended or been destroyed', async () => {
    const ended = new SseRewriter(identity);
    ended.resume();
    ended.end();
    expect(ended.inject('x')).toBe(false);

    const destroyed = new SseRewriter(identity);
    destroyed.destroy();
    expect(destroyed.inject('x')).toBe(false);
  });
});
