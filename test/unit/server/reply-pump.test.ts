import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readWhole } from '../../../src/proxy/upstream-reply.js';
import { watchStall } from '../../../src/server/reply-pump.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('watchStall', () => {
  it('fires once the body gave no data for the time while its reader waited', () => {
    vi.useFakeTimers();
    const body = new PassThrough();
    const sink = new PassThrough();
    body.pipe(sink);
    sink.resume();
    const onStall = vi.fn();
    const unwatch = watchStall(body, 1_000, onStall);
    vi.advanceTimersByTime(900);
    body.write('a');
    vi.advanceTimersByTime(900);
    expect(onStall).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(onStall).toHaveBeenCalledTimes(1);
    unwatch();
  });

  it('does not fire while the body waits on its reader (paused by backpressure, data unread)', () => {
    vi.useFakeTimers();
    const body = new PassThrough();
    const onStall = vi.fn();
    body.on('data', () => body.pause());
    const unwatch = watchStall(body, 1_000, onStall);
    body.write('a');
    body.write('b');
    vi.advanceTimersByTime(5_000);
    expect(body.readableFlowing).toBe(false);
    expect(onStall).not.toHaveBeenCalled();
    unwatch();
  });

  it('is off with 0, and stops when unwatched', () => {
    vi.useFakeTimers();
    const body = new PassThrough();
    body.resume();
    const onStall = vi.fn();
    watchStall(body, 0, onStall);
    watchStall(body, 1_000, onStall)();
    vi.advanceTimersByTime(5_000);
    expect(onStall).not.toHaveBeenCalled();
  });
});

describe('readWhole', () => {
  it('reads a body whole, and refuses one over the limit', async () => {
    expect((await readWhole(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 3)).toString()).toBe('abc');
    await expect(readWhole(Readable.from([Buffer.from('abcd')]), 3)).rejects.toThrow('exceeds 3 bytes');
  });

  it('rejects a body destroyed before its end, with its error or as closed', async () => {
    const failed = new PassThrough();
    const read = readWhole(failed, 10);
    failed.destroy(new Error('stalled'));
    await expect(read).rejects.toThrow('stalled');
    const closed = new PassThrough();
    const reading = readWhole(closed, 10);
    closed.destroy();
    await expect(reading).rejects.toThrow('closed before its end');
  });
});
