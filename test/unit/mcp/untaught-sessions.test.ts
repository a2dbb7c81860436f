import { describe, expect, it } from 'vitest';
import {
  MAX_TAINTED_IDS,
  MAX_TAINTED_IDS_PER_SESSION,
  UntaughtSessions,
} from '../../../src/mcp/untaught-sessions.js';

/** Owed answers resumed from event `resumeAt`, their passing recorded nowhere. */
const at = (resumeAt: string) => ({ resumeAt, answered: () => undefined });

describe('UntaughtSessions', () => {
  it('makes untaught only a request sending an id cut off in its own session', () => {
    const u = new UntaughtSessions();
    u.mark('s', ['1', '2']);
    u.mark('s', ['2', '3']);
    expect(u.ids).toBe(3);
    expect(u.untaught('s', ['3'])).toBe(true);
    expect(u.untaught('s', ['9', '1'])).toBe(true);
    expect(u.untaught('s', ['4', 'x'])).toBe(false);
    expect(u.untaught('other', ['1'])).toBe(false);
    u.end('s');
    expect(u.untaught('s', ['1'])).toBe(false);
    expect([u.size, u.ids]).toEqual([0, 0]);
  });

  it('makes a session untaught whole past its own bound, freeing its ids', () => {
    const u = new UntaughtSessions();
    const many = Array.from({ length: MAX_TAINTED_IDS_PER_SESSION }, (_, i) => `id-${i}`);
    u.mark('s', many);
    expect(u.ids).toBe(MAX_TAINTED_IDS_PER_SESSION);
    expect(u.untaught('s', ['fresh'])).toBe(false);
    u.mark('s', ['one-more']);
    expect(u.ids).toBe(0);
    expect(u.untaught('s', ['fresh'])).toBe(true);
    // Still whole when marked again.
    u.mark('s', ['x']);
    expect([u.ids, u.untaught('s', ['y'])]).toEqual([0, true]);
  });

  it('makes the session marked untaught whole past the bound of all sessions together, not another', () => {
    const u = new UntaughtSessions();
    const per = MAX_TAINTED_IDS_PER_SESSION;
    for (let s = 0; s < MAX_TAINTED_IDS / per; s++) {
      u.mark(
        `s-${s}`,
        Array.from({ length: per }, (_, i) => `${s}-${i}`),
      );
    }
    const full = u.ids;
    expect(full).toBeLessThanOrEqual(MAX_TAINTED_IDS);
    u.mark(
      'late',
      Array.from({ length: MAX_TAINTED_IDS - full + 1 }, (_, i) => `late-${i}`),
    );
    expect(u.ids).toBe(full);
    expect(u.untaught('late', ['fresh'])).toBe(true);
    expect(u.untaught('s-0', ['fresh'])).toBe(false);
    expect(u.untaught('s-0', ['0-5'])).toBe(true);
  });

  it('forgets an id marked and still held once its answer came, and only such an id', () => {
    const u = new UntaughtSessions();
    u.mark('s', ['1', '2'], at('ev'));
    expect(u.answered('s', '1', 'ev')).toBe(true);
    expect(u.untaught('s', ['1'])).toBe(false);
    // Replayed (a stream resumed twice): nothing more to forget.
    expect(u.answered('s', '1', 'ev')).toBe(false);
    expect(u.answered('s', 'never-marked', 'ev')).toBe(false);
    expect(u.answered('other', '2', 'ev')).toBe(false);
    // Its hold ended: it stays marked for good.
    u.released('s', ['2']);
    expect(u.answered('s', '2', 'ev')).toBe(false);
    expect([u.untaught('s', ['2']), u.ids]).toEqual([true, 1]);
  });

  it('forgets an id only on a stream resumed from the last event its own reply passed', () => {
    const u = new UntaughtSessions();
    u.mark('s', ['1'], at('post-2-event-0'));
    // An earlier request's answer under the same id, replayed from its own stream, forgets nothing.
    expect(u.answered('s', '1', 'post-1-event-0')).toBe(false);
    expect(u.untaught('s', ['1'])).toBe(true);
    expect(u.answered('s', '1', 'post-2-event-0')).toBe(true);
    expect(u.untaught('s', ['1'])).toBe(false);
    // A reply that passed no event id: nothing tells its answer, so nothing forgets it.
    u.mark('s', ['2']);
    expect(u.answered('s', '2', 'post-2-event-0')).toBe(false);
    expect(u.untaught('s', ['2'])).toBe(true);
  });

  it('keeps a digest marked for two ids until both were answered: a collision forgets nothing', () => {
    const [a, b] = collidingIds();
    const u = new UntaughtSessions();
    u.mark('s', [a], at('ev'));
    // The pair shares its digest: b counts as cut off too (a POST that could have taught is untaught).
    expect(u.untaught('s', [b])).toBe(true);
    // An answer under b, never marked, leaves a marked.
    expect(u.answered('s', b, 'ev')).toBe(false);
    expect(u.untaught('s', [a])).toBe(true);
    u.mark('s', [b], at('ev'));
    expect(u.ids).toBe(1);
    expect(u.answered('s', b, 'ev')).toBe(true);
    expect(u.untaught('s', [a])).toBe(true);
    expect(u.answered('s', a, 'ev')).toBe(true);
    expect([u.untaught('s', [a]), u.size, u.ids]).toEqual([false, 0, 0]);
  });

  it('forgets nothing once a session is untaught whole', () => {
    const u = new UntaughtSessions();
    u.mark(
      's',
      Array.from({ length: MAX_TAINTED_IDS_PER_SESSION + 1 }, (_, i) => `id-${i}`),
      at('ev'),
    );
    expect(u.answered('s', 'id-0', 'ev')).toBe(false);
    expect(u.untaught('s', ['fresh'])).toBe(true);
  });
});

/**
 * Two ids with one 30-bit FNV-1a digest (the module's), found by a birthday search; the test above checks
 * through the class that they do collide.
 */
function collidingIds(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `id-${i}`;
    let h = 0x811c9dc5;
    for (let j = 0; j < id.length; j++) {
      h ^= id.charCodeAt(j);
      h = Math.imul(h, 0x01000193);
    }
    const digest = h & 0x3fffffff;
    const other = seen.get(digest);
    if (other !== undefined) return [other, id];
    seen.set(digest, id);
  }
}
