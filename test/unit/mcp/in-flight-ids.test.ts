import { afterEach, describe, expect, it, vi } from 'vitest';
import { InFlightIds, MAX_IN_FLIGHT_PER_SESSION } from '../../../src/mcp/in-flight-ids.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';

const req = (id: string | number): JsonRpcMessage => ({
  kind: 'request',
  id,
  method: 'tools/list',
  params: {},
});
const note: JsonRpcMessage = { kind: 'notification', method: 'notifications/initialized', params: undefined };

afterEach(() => {
  vi.useRealTimers();
});

describe('InFlightIds', () => {
  it('refuses an id in flight in the same session, not in another, and frees it on release', () => {
    const ids = new InFlightIds();
    const a = ids.claim('s1', [req(1), req(2)]);
    expect('release' in a).toBe(true);
    expect(ids.claim('s1', [req(3), req('1')])).toEqual({
      refused: 'request id 1 is already in flight in this session',
    });
    // Nothing of a refused claim is held: 3 is still free.
    const c = ids.claim('s1', [req(3)]);
    expect('release' in c).toBe(true);
    expect('release' in ids.claim('s2', [req(1)])).toBe(true);
    if ('release' in a) a.release();
    expect('release' in ids.claim('s1', [req(1)])).toBe(true);
  });

  it('claims nothing for notifications and forgets a session once its ids are released', () => {
    const ids = new InFlightIds();
    const n = ids.claim('s', [note]);
    expect('release' in n).toBe(true);
    expect(ids.sessions).toBe(0);
    const a = ids.claim('s', [req(1)]);
    expect(ids.sessions).toBe(1);
    if ('release' in a) {
      a.release();
      a.release(); // twice is harmless
    }
    expect(ids.sessions).toBe(0);
  });

  it('holds the ids of a request cut off before its reply until the delay is over', () => {
    vi.useFakeTimers();
    const ids = new InFlightIds();
    const a = ids.claim('s', [req(7)]);
    if ('release' in a) a.release(60_000);
    expect(ids.claim('s', [req(7)])).toHaveProperty('refused');
    vi.advanceTimersByTime(60_000);
    expect(ids.claim('s', [req(7)])).toHaveProperty('release');
  });

  it('refuses more than the per-session bound in flight', () => {
    const ids = new InFlightIds();
    const many = Array.from({ length: MAX_IN_FLIGHT_PER_SESSION }, (_, i) => req(i));
    expect(ids.claim('s', many)).toHaveProperty('release');
    expect(ids.claim('s', [req('x')])).toEqual({
      refused: `over ${MAX_IN_FLIGHT_PER_SESSION} requests are in flight in this session`,
    });
  });
});
