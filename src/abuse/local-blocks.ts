/**
 * This replica's snapshot of the blocks, keyed `<target>:<value>`, which the request path checks without
 * a store call. A poll replaces the whole snapshot; a block written here is applied at once (never
 * shortening a longer one), in place: a trip storm of thousands of addresses costs one Map update each.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import type { BlockEntry } from '../store/store.js';
import {
  abuseIpTarget,
  anyTenantBlockValue,
  ipv6Prefix64,
  normalizeIp,
  subjectBlockValue,
} from './targets.js';

/**
 * Live blocks beyond which a tripped `block` rule of an address only reports: a spray of addresses must not
 * grow the block list (which every replica reloads whole after each change) without bound. Subject blocks
 * are always written (their subjects authenticated, or own an API key).
 */
export const MAX_LIVE_BLOCKS = 5_000;

interface LiveBlock {
  readonly entry: BlockEntry;
  readonly untilMs: number;
}

/** The snapshot key of a block. */
export function blockField(entry: BlockEntry): string {
  return `${entry.target}:${entry.value}`;
}

export class LocalBlocks {
  readonly #blocks: Map<string, LiveBlock>;
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(entries: readonly BlockEntry[] = []) {
    this.#blocks = new Map();
    for (const entry of entries)
      this.#blocks.set(blockField(entry), { entry, untilMs: Date.parse(entry.until) });
  }

  get size(): number {
    return this.#blocks.size;
  }

  /**
   * How many blocks have not ended at `now`: the ended ones are dropped first (at most once a second, so a
   * spray of trips at the cap does not walk the whole map for each).
   */
  liveSize(now: number): number {
    if (now - this.#prunedAt >= 1_000) {
      this.#prunedAt = now;
      for (const [field, b] of this.#blocks) if (b.untilMs <= now) this.#blocks.delete(field);
    }
    return this.#blocks.size;
  }

  /**
   * The block on this address (or its IPv6 /64), else on this subject in its tenant, else in any tenant;
   * ended ones ignored.
   */
  find(p: Principal | null, ip: string, now: number): BlockEntry | null {
    const byIp = ip ? this.#byIp(ip, now) : null;
    if (byIp || !p || p.id === null) return byIp;
    return (
      this.#live(`subject:${subjectBlockValue(p.tenant, p.id)}`, now) ??
      this.#live(`subject:${anyTenantBlockValue(p.id)}`, now)
    );
  }

  /**
   * The block on this address, else on what the `auth_failures_ip` rules block for it (`abuseIpTarget`): the
   * IPv4 address a NAT64 address carries, or an IPv6 address's /64 (that of a NAT64 address too).
   */
  #byIp(ip: string, now: number): BlockEntry | null {
    const exact = this.#live(`ip:${normalizeIp(ip)}`, now);
    if (exact || !ip.includes(':')) return exact;
    const target = abuseIpTarget(ip);
    const prefix = ipv6Prefix64(ip);
    return (
      this.#live(`ip:${target}`, now) ??
      (prefix && prefix !== target ? this.#live(`ip:${prefix}`, now) : null)
    );
  }

  /** The blocks that have not ended at `now`. */
  current(now: number): BlockEntry[] {
    return [...this.#blocks.values()].filter((b) => b.untilMs > now).map((b) => b.entry);
  }

  /** The block held on this field, ended or not. */
  entry(field: string): BlockEntry | undefined {
    return this.#blocks.get(field)?.entry;
  }

  /** Holds `entry` until `untilMs` unless the block held on its field lasts at least as long. */
  extend(entry: BlockEntry, untilMs: number): void {
    const field = blockField(entry);
    const current = this.#blocks.get(field);
    if (!current || current.untilMs < untilMs) {
      this.#blocks.set(field, { entry, untilMs });
    }
  }

  #live(field: string, now: number): BlockEntry | null {
    const b = this.#blocks.get(field);
    return b && b.untilMs > now ? b.entry : null;
  }
}
