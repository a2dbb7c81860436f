/**
 * Tests of Streamable HTTP session ownership (src/mcp/session-owners.ts): the owner may use a session,
 * anyone else may not, and a session never seen issued is refused unless unknown sessions are forwarded —
 * including one the bounded map forgot; one caller's flood of sessions evicts its own, not others'. A session
 * evicted by either bound is reported to `onEvict` with the protocol version last seen in it; one unbound (it
 * ended) or bound again is not; a session issued again to another caller stays with its owner. Every session
 * that ends (its DELETE, the upstream's 404, an eviction while unknown sessions are refused) is told to `onEnd`.
 *
 * @module
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ownerKey } from '../../../src/mcp/owner-key.js';
import {
  IDLE_SWEEP_MS,
  MAX_FORGOTTEN_AT_ONCE,
  type OnEvict,
  SESSION_IDLE_MS,
  SessionOwners,
} from '../../../src/mcp/session-owners.js';
import { principal } from '../../helpers/principal.js';

const alice = principal({ id: 'alice' });
const mallory = principal({ id: 'mallory' });

describe('SessionOwners', () => {
  it('lets the owner use a bound session and nobody else', () => {
    const owners = new SessionOwners();
    owners.bind('s-1', alice);
    expect(owners.mayUse('s-1', alice)).toBe(true);
    expect(owners.mayUse('s-1', mallory)).toBe(false);
  });

  it('tells apart callers whose fields only look alike: another issuer, separators inside values', () => {
    const owners = new SessionOwners();
    const fromA = principal({
      id: 'alice',
      tenant: 'acme',
      authMethod: 'jwt',
      claims: { iss: 'https://a.example' },
    });
    const fromB = principal({
      id: 'alice',
      tenant: 'acme',
      authMethod: 'jwt',
      claims: { iss: 'https://b.example' },
    });
    owners.bind('s-1', fromA);
    expect(owners.mayUse('s-1', fromA)).toBe(true);
    expect(owners.mayUse('s-1', fromB)).toBe(false);
    const split = principal({ id: 'c', tenant: 'a:b', authMethod: 'jwt', claims: { iss: 'i' } });
    const shifted = principal({ id: 'b:c', tenant: 'a', authMethod: 'jwt', claims: { iss: 'i' } });
    owners.bind('s-2', split);
    expect(owners.mayUse('s-2', shifted)).toBe(false);
  });

  it('refuses an unknown session by default and forwards it when configured', () => {
    expect(new SessionOwners().mayUse('never-issued', alice)).toBe(false);
    const forwarding = new SessionOwners({ unknown: 'forward' });
    expect(forwarding.mayUse('never-issued', alice)).toBe(true);
    forwarding.bind('s-1', alice);
    expect(forwarding.mayUse('s-1', mallory)).toBe(false);
  });

  it('forgets a session on unbind and the oldest one when full (then refused, as unknown)', () => {
    const owners = new SessionOwners({ max: 2 });
    owners.bind('s-1', alice);
    owners.bind('s-2', alice);
    owners.bind('s-3', alice);
    expect(owners.size).toBe(2);
    expect(owners.mayUse('s-1', alice)).toBe(false);
    expect(owners.mayUse('s-3', alice)).toBe(true);
    owners.unbind('s-3');
    expect(owners.mayUse('s-3', alice)).toBe(false);
  });

  it('keeps a session in use when a flood of new ones fills the table (least recently used go first)', () => {
    const owners = new SessionOwners({ max: 2 });
    owners.bind('used', alice);
    owners.bind('idle', alice);
    expect(owners.mayUse('used', alice)).toBe(true);
    owners.bind('new', mallory);
    expect(owners.mayUse('used', alice)).toBe(true);
    expect(owners.mayUse('idle', alice)).toBe(false);
  });

  it("evicts a caller's own oldest sessions beyond its share, not other callers'", () => {
    const owners = new SessionOwners({ max: 10, perCaller: 3 });
    owners.bind('alice-1', alice);
    for (let i = 0; i < 20; i++) owners.bind(`flood-${i}`, mallory);
    expect(owners.mayUse('alice-1', alice)).toBe(true);
    expect(owners.size).toBe(4);
    expect(owners.mayUse('flood-19', mallory)).toBe(true);
    expect(owners.mayUse('flood-16', mallory)).toBe(false);
  });

  it('keeps a session issued again to another caller with its owner, and rebinds it to the same owner', () => {
    const owners = new SessionOwners();
    expect(owners.bind('s', alice)).toBe(true);
    owners.sawVersion('s', '2025-06-18');
    expect(owners.bind('s', mallory)).toBe(false);
    expect(owners.mayUse('s', alice)).toBe(true);
    expect(owners.mayUse('s', mallory)).toBe(false);
    expect(owners.bind('s', alice)).toBe(true);
    expect(owners.mayUse('s', alice)).toBe(true);
    expect(owners.size).toBe(1);
  });

  describe('onEvict', () => {
    function recording(): { evicted: [string, string | undefined][]; onEvict: OnEvict } {
      const evicted: [string, string | undefined][] = [];
      return { evicted, onEvict: (id, version) => void evicted.push([id, version]) };
    }

    it("reports a caller's oldest session pushed out by its per-caller cap, with its last version", () => {
      const { evicted, onEvict } = recording();
      const owners = new SessionOwners({ perCaller: 2, onEvict });
      owners.bind('a-1', alice);
      owners.sawVersion('a-1', '2025-06-18');
      owners.sawVersion('a-1', '2025-11-25');
      owners.bind('a-2', alice);
      owners.bind('m-1', mallory);
      expect(evicted).toEqual([]);
      owners.bind('a-3', alice);
      expect(evicted).toEqual([['a-1', '2025-11-25']]);
      owners.bind('a-4', alice);
      // a-2 never carried a version header (only its initialize was seen).
      expect(evicted).toEqual([
        ['a-1', '2025-11-25'],
        ['a-2', undefined],
      ]);
      expect(owners.mayUse('m-1', mallory)).toBe(true);
    });

    it('reports the least recently used session pushed out by the global cap, whoever owns it', () => {
      const { evicted, onEvict } = recording();
      const owners = new SessionOwners({ max: 2, onEvict });
      owners.bind('a-1', alice);
      owners.bind('a-2', alice);
      owners.sawVersion('a-2', '2025-06-18');
      expect(owners.mayUse('a-1', alice)).toBe(true); // a-2 is now the oldest in use
      owners.bind('m-1', mallory);
      expect(evicted).toEqual([['a-2', '2025-06-18']]);
      expect(owners.size).toBe(2);
    });

    it('is not called for a session unbound (ended), rebound, or named by nobody it knows', () => {
      const { evicted, onEvict } = recording();
      const owners = new SessionOwners({ max: 2, perCaller: 2, onEvict });
      owners.bind('a-1', alice);
      owners.bind('a-2', alice);
      owners.unbind('a-1');
      owners.unbind('never-bound');
      owners.sawVersion('never-bound', '2025-06-18');
      owners.bind('a-2', alice); // the same session issued again: no eviction
      owners.bind('a-3', alice);
      expect(owners.size).toBe(2);
      expect(evicted).toEqual([]);
      owners.bind('a-4', alice);
      expect(evicted.map(([id]) => id)).toEqual(['a-2']);
    });

    it('ends a session abandoned because its caller never heard of it, once', () => {
      const { evicted, onEvict } = recording();
      const owners = new SessionOwners({ onEvict });
      owners.bind('a-1', alice);
      owners.sawVersion('a-1', '2025-06-18');
      owners.abandon('a-1');
      owners.abandon('a-1');
      owners.abandon('never-bound');
      expect(evicted).toEqual([['a-1', '2025-06-18']]);
      expect(owners.mayUse('a-1', alice)).toBe(false);
    });

    it('refuses caps below 1 (the session just bound would be evicted at once)', () => {
      expect(() => new SessionOwners({ perCaller: 0 })).toThrow(TypeError);
      expect(() => new SessionOwners({ max: 0 })).toThrow(TypeError);
      expect(() => new SessionOwners({ max: Number.NaN })).toThrow(TypeError);
    });
  });
});

describe('SessionOwners: onEnd (what is kept per session elsewhere goes with it)', () => {
  function recording(opts: ConstructorParameters<typeof SessionOwners>[0] = {}) {
    const ended: string[] = [];
    const owners = new SessionOwners({ ...opts, onEnd: (id) => void ended.push(id) });
    return { ended, owners };
  }

  it('is told of a session its DELETE ended, bound here or not (forwarded as unknown)', () => {
    const { ended, owners } = recording();
    owners.bind('s-1', alice);
    owners.unbind('s-1');
    owners.unbind('never-bound');
    expect(ended).toEqual(['s-1', 'never-bound']);
  });

  it('is told of a session the upstream answered 404 for, whose binding goes with it', () => {
    const { ended, owners } = recording();
    owners.bind('s-1', alice);
    owners.notFound('s-1', alice);
    expect(ended).toEqual(['s-1']);
    expect(owners.size).toBe(0);
    expect(owners.mayUse('s-1', alice)).toBe(false);
  });

  it("ends nothing on a 404 to a request of another caller than the session's owner", () => {
    const { ended, owners } = recording();
    // The id ended and went anew to alice while mallory's request in it was under way.
    owners.bind('s-1', alice);
    owners.notFound('s-1', mallory);
    expect(ended).toEqual([]);
    expect(owners.mayUse('s-1', alice)).toBe(true);
  });

  it('ends a session unknown here on a 404 only while unknown sessions are refused (with forward, one caller was answered)', () => {
    const reject = recording();
    reject.owners.notFound('gone', alice);
    expect(reject.ended).toEqual(['gone']);
    const forward = recording({ unknown: 'forward' });
    forward.owners.notFound('elsewhere', mallory);
    expect(forward.ended).toEqual([]);
  });

  it('is told of a session evicted (by a cap, idle for a day, or abandoned) while unknown sessions are refused', () => {
    let now = 0;
    const { ended, owners } = recording({ max: 2, now: () => now });
    owners.bind('s-1', alice);
    owners.bind('s-2', alice);
    owners.bind('s-2', alice); // the same session issued again: not an end
    owners.bind('s-3', alice);
    expect(ended).toEqual(['s-1']);
    now = SESSION_IDLE_MS + 1;
    owners.bind('s-4', mallory);
    expect(ended).toEqual(['s-1', 's-2', 's-3']);
    owners.abandon('s-4');
    expect(ended).toEqual(['s-1', 's-2', 's-3', 's-4']);
  });

  it('is not told of a session evicted with unknownSessions: forward (still usable through the upstream)', () => {
    const { ended, owners } = recording({ max: 1, unknown: 'forward' });
    owners.bind('s-1', alice);
    owners.bind('s-2', alice);
    expect(owners.size).toBe(1);
    expect(ended).toEqual([]);
  });

  it('is not told of a session forgotten by this replica only (shared store: it may be picked up again)', async () => {
    let now = 0;
    const shared = {
      claim: async () => true,
      refresh: () => undefined,
      get: async () => null,
      delete: () => undefined,
    };
    const { ended, owners } = recording({ shared, now: () => now });
    await owners.bind('s-1', alice);
    now = SESSION_IDLE_MS + 1;
    await owners.bind('s-2', alice);
    expect(owners.size).toBe(1);
    expect(ended).toEqual([]);
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('SessionOwners: sessions nobody uses', () => {
  it('forgets one unused for a day and ends it at the upstream; one in use stays', () => {
    let now = 0;
    const ended: string[] = [];
    const owners = new SessionOwners({ now: () => now, onEvict: (id) => ended.push(id) });
    owners.bind('left', alice);
    owners.bind('used', alice);
    now = SESSION_IDLE_MS / 2;
    expect(owners.mayUse('used', alice)).toBe(true);
    now = SESSION_IDLE_MS + 1;
    // The next request (any session's) forgets it: its client left without a DELETE, as MCP clients often do.
    owners.bind('new', mallory);
    expect(ended).toEqual(['left']);
    expect(owners.mayUse('left', alice)).toBe(false);
    expect(owners.mayUse('used', alice)).toBe(true);
    expect(owners.size).toBe(2);
  });

  it('forgets a few hundred a minute at most: after a quiet day every session is idle at once', () => {
    let now = 0;
    const ended: string[] = [];
    const owners = new SessionOwners({ now: () => now, onEvict: (id) => ended.push(id) });
    for (let i = 0; i < 1_000; i++) owners.bind(`s-${i}`, principal({ id: `u-${i}` }));
    now = SESSION_IDLE_MS + 1;
    owners.bind('first', alice);
    // One request forgetting them all stalled for 1.5 s at 100,000, its DELETEs overflowing their queue.
    expect(ended).toHaveLength(MAX_FORGOTTEN_AT_ONCE);
    expect(ended.slice(0, 2)).toEqual(['s-0', 's-1']);
    owners.bind('second', alice);
    expect(ended).toHaveLength(MAX_FORGOTTEN_AT_ONCE);
    now += IDLE_SWEEP_MS;
    owners.bind('third', alice);
    expect(ended).toHaveLength(2 * MAX_FORGOTTEN_AT_ONCE);
  });

  it('keeps every session with unknownSessions: forward (forgotten, it would be forwarded for anyone)', () => {
    let now = 0;
    const owners = new SessionOwners({ unknown: 'forward', now: () => now });
    owners.bind('s-1', alice);
    now = SESSION_IDLE_MS + 1;
    owners.bind('s-2', alice);
    expect(owners.mayUse('s-1', mallory)).toBe(false);
    expect(owners.size).toBe(2);
  });

  it('times idleness on a monotonic clock: a wall clock stepped by a day forgets nothing', () => {
    vi.useFakeTimers();
    const ended: string[] = [];
    const owners = new SessionOwners({ onEvict: (id) => ended.push(id) });
    owners.bind('s-1', alice);
    vi.advanceTimersByTime(IDLE_SWEEP_MS);
    vi.setSystemTime(Date.now() + 2 * SESSION_IDLE_MS);
    owners.bind('s-2', alice);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(SESSION_IDLE_MS);
    owners.bind('s-3', alice);
    expect(ended).toEqual(['s-1']);
  });
});

describe('SessionOwners with a shared store', () => {
  /** An in-process stand-in for the store's bindings (the integration suite uses Redis), recording its calls. */
  function sharedMap(fail = false) {
    const map = new Map<string, string>();
    const ended = new Set<string>();
    const calls: string[] = [];
    const st = {
      map,
      calls,
      /** The store is down: every call rejects. */
      fail,
      shared: {
        claim: async (id: string, owner: string) => {
          calls.push(`claim ${id}`);
          if (st.fail) throw new Error('store down');
          const current = map.get(id);
          if (current !== undefined && current !== owner) return false;
          ended.delete(id);
          map.set(id, owner);
          return true;
        },
        refresh(id: string, owner: string) {
          calls.push(`refresh ${id}`);
          // The store's semantics: renews its owner's, writes back a lapsed one, never an ended one.
          if (!ended.has(id) && (map.get(id) ?? owner) === owner) map.set(id, owner);
        },
        get: async (id: string) => {
          calls.push(`get ${id}`);
          if (st.fail) throw new Error('store down');
          return map.get(id) ?? null;
        },
        delete(id: string) {
          calls.push(`delete ${id}`);
          map.delete(id);
          ended.add(id);
        },
      },
    };
    return st;
  }

  it('claims each binding there, and serves a session unknown here to the owner the store names', async () => {
    const s = sharedMap();
    const first = new SessionOwners({ shared: s.shared });
    expect(await first.bind('s-1', alice)).toBe(true);
    expect(s.calls).toEqual(['claim s-1']);
    // A restarted sidecar: nothing in its table, the binding in the store.
    const restarted = new SessionOwners({ shared: s.shared });
    expect(await restarted.mayUse('s-1', mallory)).toBe(false);
    expect(await restarted.mayUse('s-1', alice)).toBe(true);
    // Picked up: its TTL starts anew; bound here from then on, no second lookup, and still nobody else's.
    expect(s.calls.slice(-1)).toEqual(['refresh s-1']);
    s.calls.length = 0;
    expect(restarted.mayUse('s-1', alice)).toBe(true);
    expect(restarted.mayUse('s-1', mallory)).toBe(false);
    expect(s.calls).toEqual([]);
    expect(await restarted.mayUse('s-unknown', alice)).toBe(false);
  });

  it('refuses an id the store binds to another caller (an upstream issuing it twice), binding nothing', async () => {
    const s = sharedMap();
    const podA = new SessionOwners({ shared: s.shared });
    const podB = new SessionOwners({ shared: s.shared });
    expect(await podA.bind('dup', alice)).toBe(true);
    expect(await podB.bind('dup', mallory)).toBe(false);
    expect(s.map.get('dup')).toBe(ownerKey(alice));
    expect(podB.size).toBe(0);
    // Once ended, the id is free again.
    podA.unbind('dup');
    expect(await podB.bind('dup', mallory)).toBe(true);
  });

  it('binds here only when the store cannot be asked, and rejects what it cannot look up (not "not yours")', async () => {
    const s = sharedMap(true);
    const owners = new SessionOwners({ shared: s.shared });
    expect(await owners.bind('s-1', alice)).toBe(true);
    expect(owners.mayUse('s-1', alice)).toBe(true);
    s.map.set('s-2', ownerKey(alice));
    const later = new SessionOwners({ shared: s.shared });
    await expect(later.mayUse('s-2', alice)).rejects.toThrow();
    // Nothing was bound meanwhile: once the store answers, the owner it names gets the session.
    s.fail = false;
    expect(await later.mayUse('s-2', alice)).toBe(true);
  });

  it('forgets the binding there when the session ends or is evicted (and ended at the upstream)', async () => {
    const s = sharedMap();
    const ended: string[] = [];
    const owners = new SessionOwners({ shared: s.shared, max: 1, onEvict: (id) => ended.push(id) });
    await owners.bind('s-1', alice);
    await owners.bind('s-2', alice);
    expect(ended).toEqual(['s-1']);
    expect([...s.map.keys()]).toEqual(['s-2']);
    owners.unbind('s-2');
    expect(s.map.size).toBe(0);
    // One the upstream answered 404 for is gone there too: no replica, this one restarted included, serves it.
    await owners.bind('s-3', alice);
    owners.notFound('s-3', alice);
    expect(s.map.size).toBe(0);
    expect(s.calls.slice(-1)).toEqual(['delete s-3']);
    expect(await new SessionOwners({ shared: s.shared }).mayUse('s-3', alice)).toBe(false);
    // A 404 to a request whose session is no longer bound here (ended, and its id bound anew on another
    // replica meanwhile) leaves the store alone: that binding is another session's.
    s.map.set('s-4', ownerKey(mallory));
    owners.notFound('s-4', alice);
    expect(s.map.get('s-4')).toBe(ownerKey(mallory));
  });

  it('refreshes a binding in use once an hour, which never brings back one that ended', async () => {
    const s = sharedMap();
    let now = 0;
    const owners = new SessionOwners({ shared: s.shared, now: () => now });
    await owners.bind('s-1', alice);
    now = 3_599_000;
    owners.mayUse('s-1', alice);
    now = 3_600_000;
    owners.mayUse('s-1', alice);
    owners.mayUse('s-1', alice);
    expect(s.calls).toEqual(['claim s-1', 'refresh s-1']);
    // Lapsed in the store while in use: the next refresh writes it back.
    s.map.delete('s-1');
    now = 7_200_000;
    owners.mayUse('s-1', alice);
    expect(s.map.get('s-1')).toBe(ownerKey(alice));
    // Ended through another replica: this one's refresh leaves it ended.
    s.shared.delete('s-1');
    now = 10_800_000;
    owners.mayUse('s-1', alice);
    expect(s.map.has('s-1')).toBe(false);
  });

  it('forgets a session unused for a day here only: another replica may serve it, and the store ages it out', async () => {
    let now = 0;
    const s = sharedMap();
    const ended: string[] = [];
    const owners = new SessionOwners({ shared: s.shared, now: () => now, onEvict: (id) => ended.push(id) });
    await owners.bind('s-1', alice);
    now = SESSION_IDLE_MS + 1;
    await owners.bind('s-2', alice);
    expect(owners.size).toBe(1);
    expect(ended).toEqual([]);
    expect(s.calls).not.toContain('delete s-1');
    // Still bound in the store (used through another replica, say): served to its owner again.
    expect(await owners.mayUse('s-1', alice)).toBe(true);
  });
});
