import { describe, expect, it } from 'vitest';
import { LinkedList } from '../../src/linked-list.js';

describe('LinkedList', () => {
  it('holds the values added and not removed, whatever the order of removal', () => {
    const list = new LinkedList<string>();
    const a = list.add('a');
    const b = list.add('b');
    const c = list.add('c');
    list.remove(b); // the middle
    expect([...list]).toEqual(['c', 'a']);
    list.remove(c); // the head
    list.add('d');
    list.remove(a); // the tail
    expect([...list]).toEqual(['d']);
    expect(list.size).toBe(1);
  });

  it('empties a removed node both ways, so nothing long-lived keeps its value; a second removal does nothing', () => {
    const list = new LinkedList<string>();
    const first = list.add('first');
    const second = list.add('second');
    const third = list.add('third');
    list.remove(second);
    expect(second).toEqual({ value: null, prev: null, next: null });
    expect(third.next).toBe(first);
    expect(first.prev).toBe(third);
    list.remove(second);
    expect(list.size).toBe(2);
    expect([...list]).toEqual(['third', 'first']);
    list.remove(third);
    list.remove(first);
    expect([...list]).toEqual([]);
    expect(list.size).toBe(0);
    expect(first).toEqual({ value: null, prev: null, next: null });
  });

  it('goes on past the node just yielded when it is removed meanwhile', () => {
    const list = new LinkedList<number>();
    const nodes = [1, 2, 3, 4].map((n) => list.add(n));
    const seen: number[] = [];
    for (const node of list.nodes()) {
      seen.push(node.value as number);
      if ((node.value as number) % 2 === 0) list.remove(node);
    }
    expect(seen).toEqual([4, 3, 2, 1]);
    expect([...list]).toEqual([3, 1]);
    expect(nodes[1]?.value).toBeNull();
  });
});
