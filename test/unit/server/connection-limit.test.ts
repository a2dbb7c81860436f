import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DROP_LOG_INTERVAL_MS, limitConnections } from '../../../src/server/connection-limit.js';
import type { Logger } from '../../../src/telemetry/logger.js';

/** A meter whose one observable counter the test reads by calling its callback. */
function fakeMeter() {
  let callback: ((r: { observe(v: number): void }) => void) | undefined;
  const meter = {
    createObservableCounter: () => ({ addCallback: (f: typeof callback) => (callback = f) }),
  } as unknown as Meter;
  const read = (): number => {
    let v = Number.NaN;
    callback?.({ observe: (n) => (v = n) });
    return v;
  };
  return { meter, read };
}

function setup(max: number) {
  const server = Object.assign(new EventEmitter(), { maxConnections: undefined as number | undefined });
  const lines: Array<Record<string, unknown>> = [];
  const logger = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  let t = 1_000_000;
  const m = fakeMeter();
  limitConnections(server as unknown as Server, max, { meter: m.meter, logger, now: () => t });
  return { server, lines, read: m.read, advance: (ms: number) => (t += ms) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('limitConnections', () => {
  it('sets the limit, counts drops and logs at most once per interval with the drops since the last line', () => {
    vi.useFakeTimers();
    const s = setup(3);
    expect(s.server.maxConnections).toBe(3);
    expect(s.read()).toBe(0);
    s.server.emit('drop');
    s.advance(1_000);
    s.server.emit('drop');
    s.server.emit('drop');
    expect(s.read()).toBe(3);
    expect(s.lines).toEqual([{ max_connections: 3, dropped: 1 }]);
    s.advance(DROP_LOG_INTERVAL_MS);
    s.server.emit('drop');
    // A drop after the interval logs at once, with the two held back since the last line.
    expect(s.lines).toEqual([
      { max_connections: 3, dropped: 1 },
      { max_connections: 3, dropped: 3 },
    ]);
    // The timer the held-back drops had set logs nothing more.
    vi.advanceTimersByTime(2 * DROP_LOG_INTERVAL_MS);
    expect(s.lines).toHaveLength(2);
  });

  it('logs the drops of an interval at its end when no later drop comes', () => {
    vi.useFakeTimers();
    const s = setup(3);
    s.server.emit('drop');
    s.server.emit('drop');
    s.server.emit('drop');
    expect(s.lines).toEqual([{ max_connections: 3, dropped: 1 }]);
    s.advance(DROP_LOG_INTERVAL_MS);
    vi.advanceTimersByTime(DROP_LOG_INTERVAL_MS);
    expect(s.lines).toEqual([
      { max_connections: 3, dropped: 1 },
      { max_connections: 3, dropped: 2 },
    ]);
  });

  it('0 leaves the server without a limit and still exports the counter at 0', () => {
    const s = setup(0);
    expect(s.server.maxConnections).toBeUndefined();
    expect(s.server.listenerCount('drop')).toBe(0);
    expect(s.read()).toBe(0);
  });
});
