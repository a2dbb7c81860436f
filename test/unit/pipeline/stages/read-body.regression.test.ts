/**
 * Regression: a request whose client went away before its body was read (the request already
 * destroyed, e.g. while authenticate awaited a JWKS fetch) must settle at once rather than hang.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { requestSignal } from '../../../../src/pipeline/stage.js';
import { readBodyStage } from '../../../../src/pipeline/stages/read-body.js';
import { contextFor } from '../fake-request.js';

describe('readBodyStage after the client went away', () => {
  it('denies at once (ERR_CLIENT_CLOSED) when the request is already destroyed', async () => {
    const req = Object.assign(new Readable({ read() {} }), {
      headers: { 'content-type': 'application/json', 'content-length': '100' },
    }) as unknown as IncomingMessage;
    req.destroy(); // Node destroys the IncomingMessage when the client disconnects
    const ac = new AbortController();
    ac.abort();
    expect(await readBodyStage(1024).run(contextFor(req), requestSignal(ac.signal))).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_CLIENT_CLOSED' },
    });
  });
});
