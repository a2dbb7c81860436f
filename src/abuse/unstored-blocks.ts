/**
 * Blocks this replica tripped but could not write to the store (Redis down at that moment). They are
 * enforced here at once, and they must outlive this replica's next reload of the blocks, which replaces its
 * whole snapshot with the store's: each reload lays them on top again (never shortening a longer block), and
 * each poll that reaches the store tries to write them again, until one succeeds or the block ends.
 *
 * @module
 */
import type { BlockEntry, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { blockField, type LocalBlocks, MAX_LIVE_BLOCKS } from './local-blocks.js';

export class UnstoredBlocks {
  readonly #entries = new Map<string, BlockEntry>();
  /** The blocks of the store's last snapshot, by field, with their ends (ms). */
  #stored = new Map<string, number>();

  get size(): number {
    return this.#entries.size;
  }

  /** Keeps `entry` (the longer of it and one held on its field); the oldest goes past the cap. */
  add(entry: BlockEntry): void {
    const field = blockField(entry);
    const held = this.#entries.get(field);
    if (held && Date.parse(held.until) >= Date.parse(entry.until)) return;
    this.#entries.delete(field);
    if (this.#entries.size >= MAX_LIVE_BLOCKS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(field, entry);
  }

  /**
   * Takes the store's new snapshot (`entries`, loaded into `blocks`) and lays the blocks held here that have
   * not ended on it. A block the last snapshot held, unended, and this one lacks was lifted by an operator:
   * one held here on the same subject or address goes too, lest it undo the lift.
   */
  reloaded(entries: readonly BlockEntry[], blocks: LocalBlocks, now: number): void {
    const stored = new Map(entries.map((e) => [blockField(e), Date.parse(e.until)]));
    for (const [field, until] of this.#stored)
      if (until > now && !stored.has(field)) this.#entries.delete(field);
    this.#stored = stored;
    for (const [field, entry] of this.#entries) {
      const until = Date.parse(entry.until);
      if (until <= now) this.#entries.delete(field);
      else blocks.extend(entry, until);
    }
  }

  /**
   * Writes each held block to `store`, up to the first failure (the rest wait for the next poll); whether any
   * was written.
   */
  async store(store: Store, now: number, logger: Logger): Promise<boolean> {
    let stored = 0;
    try {
      for (const [field, entry] of [...this.#entries]) {
        if (Date.parse(entry.until) > now) {
          await store.putBlock(entry, { extendOnly: true, nowMs: now });
          stored++;
        }
        this.#entries.delete(field);
      }
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'abuse blocks still not stored');
    }
    if (stored > 0) logger.info({ blocks: stored }, 'abuse blocks not stored before are stored now');
    return stored > 0;
  }
}
