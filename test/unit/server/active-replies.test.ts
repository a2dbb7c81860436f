import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ActiveReplies } from '../../../src/server/active-replies.js';

/** A response whose unsent bytes and socket counter the test sets. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    writableLength: 0,
    writableFinished: false,
    destroyed: false,
    socket: { bytesWritten: 0 },
    destroy() {
      res.destroyed = true;
      res.emit('close');
    },
    end() {
      res.writableFinished = true;
      res.emit('close');
    },
  });
  return res;
}
const asRes = (r: ReturnType<typeof fakeResponse>) => r as unknown as ServerResponse;

describe('ActiveReplies', () => {
  it('cuts a reply whose unsent data has not moved for the send timeout, and only that one', () => {
    let now = 0;
    const cut: ServerResponse[] = [];
    const replies = new ActiveReplies({ sendTimeoutMs: 1_000, now: () => now, onStall: (r) => cut.push(r) });
    const stalled = fakeResponse();
    const slow = fakeResponse();
    const idle = fakeResponse();
    for (const r of [stalled, slow, idle]) replies.add(asRes(r));
    stalled.writableLength = 64_000;
    slow.writableLength = 64_000;
    for (let t = 0; t <= 3_000; t += 250) {
      now = t;
      // The slow client reads a little every sweep: its pending data moves.
      slow.writableLength -= 100;
      replies.sweep();
    }
    expect(cut).toEqual([asRes(stalled)]);
    expect(stalled.destroyed).toBe(true);
    expect(slow.destroyed || idle.destroyed).toBe(false);
    expect(replies.size).toBe(2);
    replies.close();
  });

  it('counts the time from the last movement, and a reply with nothing pending never times out', () => {
    let now = 0;
    const replies = new ActiveReplies({ sendTimeoutMs: 1_000, now: () => now });
    const r = fakeResponse();
    const idle = fakeResponse();
    replies.add(asRes(r));
    replies.add(asRes(idle));
    r.writableLength = 10;
    replies.sweep();
    now = 900;
    r.socket.bytesWritten = 5; // progress
    replies.sweep();
    now = 1_800;
    replies.sweep();
    expect(r.destroyed).toBe(false);
    now = 1_900;
    replies.sweep();
    expect(r.destroyed).toBe(true);
    now = 100_000;
    replies.sweep();
    expect(idle.destroyed).toBe(false);
    replies.close();
  });

  it('never cuts with a send timeout of 0', () => {
    let now = 0;
    const replies = new ActiveReplies({ sendTimeoutMs: 0, now: () => now });
    const r = fakeResponse();
    replies.add(asRes(r));
    r.writableLength = 10;
    for (now = 0; now < 100_000; now += 10_000) replies.sweep();
    expect(r.destroyed).toBe(false);
  });

  it('ends the event streams at shutdown and waits for them; other replies are left alone', async () => {
    const replies = new ActiveReplies({ sendTimeoutMs: 0 });
    const stream = fakeResponse();
    const json = fakeResponse();
    let ended = 0;
    replies.add(asRes(stream), () => {
      ended++;
      setImmediate(() => stream.end());
    });
    const untrack = replies.add(asRes(json));
    await replies.endStreams(5_000);
    expect(ended).toBe(1);
    expect(stream.writableFinished).toBe(true);
    expect(json.writableFinished).toBe(false);
    untrack();
    expect(replies.size).toBe(1);
  });
});
