import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createContext, type RequestContext } from '../../../src/pipeline/context.js';
import { requestSignal } from '../../../src/pipeline/stage.js';

/** A fake IncomingMessage: a readable of the given chunks with `headers` assigned. */
export function fakeRequest(
  headers: IncomingHttpHeaders,
  chunks: readonly (string | Buffer)[] = [],
): IncomingMessage {
  const req = Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
  // One field line per value, as Node reports them (a list stands for a header sent on several lines).
  const rawHeaders = Object.entries(headers).flatMap(([name, v]) =>
    (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((one) => [name, String(one)]),
  );
  return Object.assign(req, { headers, rawHeaders }) as unknown as IncomingMessage;
}

export function contextFor(req: IncomingMessage, body?: string): RequestContext {
  const ctx = createContext(req, {
    requestId: 'req-1',
    transport: 'streamable-http',
    clientIp: '127.0.0.1',
    now: new Date(0),
  });
  if (body !== undefined) ctx.body = Buffer.from(body);
  return ctx;
}

export const signal = requestSignal(new AbortController().signal);

/** The request facts of the decide stage's unit tests: a Monday 10:00 UTC, in business hours. */
export const FACTS = {
  now: new Date('2026-11-23T10:00:00Z'),
  clientIp: '127.0.0.1',
  sessionId: null,
  requestId: 'req-1',
  environment: 'prod',
  timezone: 'UTC',
};
