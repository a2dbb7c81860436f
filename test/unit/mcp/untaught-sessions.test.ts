import { describe, expect, it } from 'vitest';
import {
  MAX_TAINTED_IDS,
  MAX_TAINTED_IDS_PER_SESSION,
  UntaughtSessions,
} from '../../../src/mcp/untaught-sessions.js';

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
});
