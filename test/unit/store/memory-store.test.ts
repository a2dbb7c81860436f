import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { type ApiKeyRecord, REVOCATION_GRACE_SEC } from '../../../src/store/store.js';

const T0 = 1_800_000_000_000;

function record(id: string, createdAt = '2026-01-01T00:00:00.000Z'): ApiKeyRecord {
  return {
    id,
    hash: 'ab'.repeat(32),
    subject: `svc-${id}`,
    tenant: null,
    roles: ['r'],
    scopes: [],
    clearance: null,
    description: null,
    createdAt,
    expiresAt: null,
    active: true,
    lastUsedAt: null,
    usageCount: 0,
  };
}

describe('MemoryStore', () => {
  it('keeps session bindings for their TTL; another owner cannot claim one; an ended one is not refreshed', async () => {
    let now = 0;
    const s = new MemoryStore({ now: () => now });
    expect(await s.claimSessionOwner('s-1', 'owner-a', 1_000)).toBe(true);
    expect(await s.claimSessionOwner('s-1', 'owner-b', 1_000)).toBe(false);
    expect(await s.sessionOwner('s-1')).toBe('owner-a');
    now = 1_000;
    expect(await s.sessionOwner('s-1')).toBeNull();
    // Lapsed while in use elsewhere: a refresh writes it again.
    expect(await s.claimSessionOwner('s-1', 'owner-a', 1_000, true)).toBe(true);
    expect(await s.sessionOwner('s-1')).toBe('owner-a');
    // Ended: no refresh brings it back, a new claim (the id issued anew) may.
    await s.endSession('s-1', 1_000);
    expect(await s.sessionOwner('s-1')).toBeNull();
    expect(await s.claimSessionOwner('s-1', 'owner-a', 1_000, true)).toBe(false);
    expect(await s.claimSessionOwner('s-1', 'owner-b', 1_000)).toBe(true);
  });

  it('puts, gets and lists API keys (oldest first)', async () => {
    const s = new MemoryStore();
    await s.putApiKey(record('b', '2026-01-02T00:00:00.000Z'));
    await s.putApiKey(record('a'));
    expect(await s.getApiKey('a')).toEqual(record('a'));
    expect(await s.getApiKey('zz')).toBeNull();
    expect((await s.listApiKeys()).map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('adds usage and never moves lastUsedAt back', async () => {
    const s = new MemoryStore();
    await s.putApiKey(record('a'));
    await s.recordApiKeyUsage('a', 3, '2026-01-05T00:00:00.000Z');
    await s.recordApiKeyUsage('a', 2, '2026-01-04T00:00:00.000Z');
    await s.recordApiKeyUsage('missing', 1, '2026-01-04T00:00:00.000Z');
    expect(await s.getApiKey('a')).toMatchObject({ usageCount: 5, lastUsedAt: '2026-01-05T00:00:00.000Z' });
    expect(await s.getApiKey('missing')).toBeNull();
  });

  it('revokes a key: inactive, in the revoked set, version bumped', async () => {
    const s = new MemoryStore();
    await s.putApiKey(record('a'));
    expect(await s.revokeApiKey('nope')).toBe(false);
    expect(await s.revocationVersion()).toBe(0);
    expect(await s.revokeApiKey('a')).toBe(true);
    expect((await s.getApiKey('a'))?.active).toBe(false);
    expect(await s.revocationVersion()).toBe(1);
    expect((await s.revocations()).keys.has('a')).toBe(true);
  });

  it('keeps token revocations until their expiry and the grace after it, then forgets them', async () => {
    const clock = { now: T0 };
    const s = new MemoryStore({ now: () => clock.now });
    await s.revokeToken('j1', T0 / 1000 + 60);
    await s.revokeToken('j2', T0 / 1000 + 120);
    expect(await s.revocationVersion()).toBe(2);
    expect([...(await s.revocations()).tokens.keys()]).toEqual(['j1', 'j2']);
    clock.now += 60_000 + REVOCATION_GRACE_SEC * 1000 - 1000;
    expect([...(await s.revocations()).tokens.keys()]).toEqual(['j1', 'j2']);
    clock.now += 1000;
    expect([...(await s.revocations()).tokens.keys()]).toEqual(['j2']);
  });

  it('keeps the later expiry when a token is revoked twice', async () => {
    const s = new MemoryStore({ now: () => T0 });
    await s.revokeToken('j', T0 / 1000 + 120);
    await s.revokeToken('j', T0 / 1000 + 60);
    expect((await s.revocations()).tokens.get('j')).toBe(T0 / 1000 + 120);
  });

  it('serves the same snapshot object until something changes', async () => {
    const s = new MemoryStore({ now: () => T0 });
    const a = s.snapshot();
    expect(s.snapshot()).toBe(a);
    await s.revokeToken('j', T0 / 1000 + 60);
    expect(s.snapshot()).not.toBe(a);
    expect(s.snapshot().version).toBe(1);
  });

  it('reports ok', () => {
    expect(new MemoryStore().status().state).toBe('ok');
  });
});
