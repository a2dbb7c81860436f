import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { OpenReplies } from '../../../src/server/open-replies.js';

const reply = (name: string) => ({ name }) as unknown as ServerResponse;

describe('OpenReplies', () => {
  it('holds the replies added and not removed, whatever the order of removal', () => {
    const open = new OpenReplies();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(reply) as [ServerResponse, ...ServerResponse[]];
    const na = open.add(a);
    const nb = open.add(b as ServerResponse);
    const nc = open.add(c as ServerResponse);
    open.remove(nb); // the middle
    expect([...open]).toEqual([c, a]);
    open.remove(nc); // the head
    open.add(d as ServerResponse);
    open.remove(na); // the tail
    expect([...open]).toEqual([d]);
  });

  it('empties a removed node both ways, so nothing long-lived keeps its reply, and a second removal is a no-op', () => {
    const open = new OpenReplies();
    const first = open.add(reply('first'));
    const second = open.add(reply('second'));
    const third = open.add(reply('third'));
    open.remove(second);
    expect(second).toEqual({ res: null, prev: null, next: null });
    // Its neighbours no longer point at it.
    expect(third.next).toBe(first);
    expect(first.prev).toBe(third);
    open.remove(second);
    expect([...open].map((r) => (r as unknown as { name: string }).name)).toEqual(['third', 'first']);
    open.remove(third);
    open.remove(first);
    expect([...open]).toEqual([]);
    expect(first).toEqual({ res: null, prev: null, next: null });
  });
});
