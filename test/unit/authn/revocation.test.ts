import { afterEach, describe, expect, it, vi } from 'vitest';
import { RevocationWatcher } from '../../../src/authn/revocation.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { REVOCATION_GRACE_SEC, type Store } from '../../../src/store/store.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';

const NOW = 1_800_000_000_000;

/** A store that is not the in-process MemoryStore, so the watcher has to poll it. */
function remoteLike(inner: MemoryStore): Store & { fail: boolean } {
  const s = {
    fail: false,
    revocationVersion: vi.fn(async () => {
      if (s.fail) throw new Error('store revocationVersion failed: not connected');
      return inner.revocationVersion();
    }),
    revocations: vi.fn(async () => inner.revocations()),
  };
  return s as unknown as Store & { fail: boolean };
}

describe('RevocationWatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('applies revocations in the memory store at once', async () => {
    const store = new MemoryStore({ now: () => NOW });
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => NOW });
    await w.start();
    expect(w.isTokenRevoked('j')).toBe(false);
    await store.revokeToken('j', NOW / 1000 + 60);
    expect(w.isTokenRevoked('j')).toBe(true);
    expect(w.status().state).toBe('ok');
  });

  it('keeps a token revocation past its expiry by the largest clock tolerance, then forgets it', async () => {
    const clock = { now: NOW };
    const store = new MemoryStore({ now: () => clock.now });
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => clock.now });
    await store.revokeToken('j', NOW / 1000 + 60);
    // A verifier still accepts the token up to its clock tolerance after exp: the revocation must outlast it.
    clock.now += 60_000 + (REVOCATION_GRACE_SEC - 1) * 1000;
    expect(w.isTokenRevoked('j')).toBe(true);
    clock.now += 1000;
    expect(w.isTokenRevoked('j')).toBe(false);
  });

  it('polls the version and reloads only when it changes', async () => {
    vi.useFakeTimers();
    const inner = new MemoryStore({ now: () => NOW });
    const store = remoteLike(inner);
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => NOW });
    await w.start();
    expect(store.revocations).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.revocationVersion).toHaveBeenCalledTimes(3);
    expect(store.revocations).toHaveBeenCalledTimes(1);
    await inner.revokeApiKey('nope');
    await inner.revokeToken('j', NOW / 1000 + 60);
    expect(w.isTokenRevoked('j')).toBe(false); // not yet polled
    await vi.advanceTimersByTimeAsync(500);
    expect(w.isTokenRevoked('j')).toBe(true);
    expect(store.revocations).toHaveBeenCalledTimes(2);
    await w.stop();
  });

  it('reloads when the version goes back (the store was emptied and counts again), not only when it grows', async () => {
    vi.useFakeTimers();
    const snapshots = [
      { version: 5, tokens: new Map<string, number>(), keys: new Set<string>() },
      // Redis flushed or failed over: the counter starts again, and a revocation is written.
      { version: 1, tokens: new Map([['j', NOW / 1000 + 60]]), keys: new Set(['k-1']) },
    ];
    let current = snapshots[0] as (typeof snapshots)[0];
    const store = {
      revocationVersion: async () => current.version,
      revocations: async () => current,
    } as unknown as Store;
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => NOW });
    await w.start();
    expect(w.isTokenRevoked('j')).toBe(false);
    current = snapshots[1] as (typeof snapshots)[0];
    await vi.advanceTimersByTimeAsync(500);
    expect(w.isTokenRevoked('j')).toBe(true);
    expect(w.isKeyRevoked('k-1')).toBe(true);
    await w.stop();
  });

  it('keeps the last snapshot and reports warn while the store fails', async () => {
    vi.useFakeTimers();
    const inner = new MemoryStore({ now: () => NOW });
    await inner.revokeToken('j', NOW / 1000 + 60);
    const store = remoteLike(inner);
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => NOW });
    await w.start();
    store.fail = true;
    await vi.advanceTimersByTimeAsync(500);
    expect(w.status().state).toBe('warn');
    expect(w.isTokenRevoked('j')).toBe(true);
    store.fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(w.status().state).toBe('ok');
    await w.stop();
  });

  it('logs a failed poll before the first load as such, not as falling back on a snapshot', async () => {
    const inner = new MemoryStore({ now: () => NOW });
    const store = remoteLike(inner);
    store.fail = true;
    const lines: string[] = [];
    const logger = createLogger('info', { write: (s: string) => void lines.push(s) });
    const w = new RevocationWatcher({ store, intervalMs: 60_000, logger, now: () => NOW });
    const messages = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    await w.start();
    expect(messages()).toEqual([
      'revocation polling failed; no snapshot loaded yet: API keys and tokens with a jti are refused (503) until a poll succeeds',
    ]);
    store.fail = false;
    await w.refresh();
    store.fail = true;
    await w.refresh();
    expect(messages().slice(1)).toEqual([
      'revocation polling recovered',
      'revocation polling failed; using the last snapshot',
    ]);
    await w.stop();
  });

  it('reports error when the first load fails, and refuses to answer until a load succeeds', async () => {
    vi.useFakeTimers();
    const inner = new MemoryStore({ now: () => NOW });
    await inner.revokeToken('j', NOW / 1000 + 60);
    const store = remoteLike(inner);
    store.fail = true;
    const w = new RevocationWatcher({ store, intervalMs: 500, logger: silentLogger(), now: () => NOW });
    await w.start();
    expect(w.status().state).toBe('error');
    // Nothing is known revoked yet: a revoked credential must not pass for an unrevoked one.
    for (const ask of [() => w.isTokenRevoked('j'), () => w.isKeyRevoked('k')]) {
      expect(ask).toThrow(expect.objectContaining({ code: 'ERR_AUTHN_UNAVAILABLE' }));
    }
    store.fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(w.isTokenRevoked('j')).toBe(true);
    expect(w.isKeyRevoked('k')).toBe(false);
    await w.stop();
  });
});
