// BUG REPRO — not committed. See the report: src/pipeline/stages/read-body.ts readLimited (L40-76).

import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBodyStage } from '../../../../src/pipeline/stages/read-body.js';
import { contextFor } from '../fake-request.js';

describe('readBodyStage (bug)', () => {
  it('BUG: settles when the client went away before the body is read (signal already aborted, request destroyed)', async () => {
    const req = Object.assign(new Readable({ read() {} }), {
      headers: { 'content-type': 'application/json', 'content-length': '100' },
    }) as unknown as IncomingMessage;
    req.destroy(); // Node destroys the IncomingMessage when the client disconnects
    const ac = new AbortController();
    ac.abort(); // mcp-route aborts on res 'close', e.g. while authenticate was awaiting JWKS/Redis
    const outcome = await Promise.race([
      Promise.resolve(readBodyStage(1024).run(contextFor(req), ac.signal)).then(
        () => 'settled',
        () => 'settled',
      ),
      new Promise((r) => setTimeout(() => r('still pending after 1s'), 1000)),
    ]);
    expect(outcome).toBe('settled');
  });
});
