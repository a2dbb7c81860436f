/**
 * Tests of the request's client signal (src/server/client-signal.ts): it fires when the response closes
 * unwritten, not after a written one, builds its AbortSignal only on demand (following an abort that
 * came before), and stops watching once released.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CLIENT_GONE, clientSignal } from '../../../src/server/client-signal.js';

function fakeResponse(): ServerResponse & { writableFinished: boolean } {
  return Object.assign(new EventEmitter(), { writableFinished: false }) as unknown as ServerResponse & {
    writableFinished: boolean;
  };
}

describe('clientSignal', () => {
  it('fires abort when the response closes before it was written', () => {
    const res = fakeResponse();
    const c = clientSignal(res);
    const seen: string[] = [];
    c.once('abort', () => seen.push('emitter'));
    const standard = c.signal;
    standard.addEventListener('abort', () => seen.push('signal'));
    res.emit('close');
    expect(seen).toEqual(['signal', 'emitter']);
    expect([c.aborted, c.reason, standard.reason]).toEqual([true, CLIENT_GONE, CLIENT_GONE]);
  });

  it('does not fire when the response was written', () => {
    const res = fakeResponse();
    const c = clientSignal(res);
    res.writableFinished = true;
    res.emit('close');
    expect(c.aborted).toBe(false);
  });

  it('builds an AbortSignal only when asked, already aborted if the client left before', () => {
    const res = fakeResponse();
    const c = clientSignal(res);
    res.emit('close');
    expect(c.signal.aborted).toBe(true);
    expect(c.signal.reason).toBe(CLIENT_GONE);
  });

  it('stops watching once released', () => {
    const res = fakeResponse();
    const c = clientSignal(res);
    c.release();
    expect(res.listenerCount('close')).toBe(0);
    res.emit('close');
    expect(c.aborted).toBe(false);
  });
});
