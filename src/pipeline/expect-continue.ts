/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits to send its body until the server says
 * `100 Continue`, so that a request the server refuses anyway costs no upload. Node sends the 100 as soon as
 * the headers are parsed, before a single check; the public listener takes that over (`checkContinue`) and
 * registers the reply here, and the read-body stage sends the 100 once everything before it — origin, blocks,
 * authentication, session, media type, declared length — has let the request through.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const awaiting = new WeakMap<IncomingMessage, ServerResponse>();

/** `req` asked for `100 Continue`: `continueBody` sends it through `res`. */
export function awaitContinue(req: IncomingMessage, res: ServerResponse): void {
  awaiting.set(req, res);
}

/** Sends `100 Continue` if `req` asked for it and has not had it yet. */
export function continueBody(req: IncomingMessage): void {
  const res = awaiting.get(req);
  if (res === undefined) return;
  awaiting.delete(req);
  if (!res.headersSent) res.writeContinue();
}
