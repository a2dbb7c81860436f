/**
 * Abuse detection: sliding-window counters in the store, rules that trip once per window, and blocks
 * every replica enforces from a local snapshot.
 *
 * The request path only calls `recordCall` / `recordAuthFailure` (a Map update) and `isBlocked` (Map
 * lookups). Counts are batched per rule × target and flushed every `flushIntervalMs` in ONE store call
 * (one Lua script for all windows); the store says which window crossed its threshold, atomically across
 * replicas, so each crossing trips exactly once fleet-wide. A trip is logged, handed to `onTrip` (audit,
 * metrics, `SecurityCounters.anomaly`) and, for `block` rules, written as a block. Blocks are polled like
 * revocations: the cheap block version every `pollIntervalMs`, the full list only when it changed. A count
 * is timed by its flush, so window edges are as precise as the flush interval.
 *
 * This file is the orchestration; the parts: `pending-counts.ts`, `local-blocks.ts` (the snapshot),
 * `unstored-blocks.ts` (blocks the store missed), `trip-records.ts` (a trip's event and block).
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import type { ComponentStatus } from '../lifecycle.js';
import { encodePart } from '../store/key-parts.js';
import type { BlockEntry, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { CallKeyMemo } from './call-keys.js';
import { blockField, LocalBlocks, MAX_LIVE_BLOCKS } from './local-blocks.js';
import { type Pending, PendingCounts, type PendingWho, toWindowHits } from './pending-counts.js';
import { type CompiledRule, compileRules } from './rules.js';
import { abuseIpTarget } from './targets.js';
import { tripBlockEntry, tripEvent } from './trip-records.js';
import type { AbuseDetector, AbuseDetectorStats, AbuseEvent, AbuseRule, CredentialOwner } from './types.js';
import { UnstoredBlocks } from './unstored-blocks.js';

export { MAX_LIVE_BLOCKS } from './local-blocks.js';
export type { AbuseDetector, AbuseDetectorStats, AbuseEvent, AbuseRule, BlockEntry } from './types.js';

export const ABUSE_POLL_INTERVAL_MS = 500;
export const ABUSE_FLUSH_INTERVAL_MS = 1_000;
const NO_SNAPSHOT_YET =
  'no snapshot loaded yet: only blocks this replica trips are enforced until a poll succeeds';

export interface AbuseDetectorOptions {
  readonly store: Store;
  readonly rules: readonly AbuseRule[];
  readonly logger: Logger;
  /** Epoch ms (tests). */
  readonly now?: () => number;
  /** Called once per trip (fleet-wide); must not throw (a throw is logged and ignored). */
  readonly onTrip?: (e: AbuseEvent) => void;
  readonly pollIntervalMs?: number;
  readonly flushIntervalMs?: number;
}

export function createAbuseDetector(opts: AbuseDetectorOptions): AbuseDetector {
  return new StoreAbuseDetector(opts);
}

class StoreAbuseDetector implements AbuseDetector {
  readonly name = 'abuse';
  readonly #o: AbuseDetectorOptions;
  readonly #now: () => number;
  readonly #toolRules: CompiledRule[];
  readonly #callKeys: CallKeyMemo;
  readonly #subjectRules: CompiledRule[];
  readonly #ipRules: CompiledRule[];
  readonly #pending = new PendingCounts();
  #blocks = new LocalBlocks();
  readonly #unstored = new UnstoredBlocks();
  #version = -1;
  #loaded = false;
  #running = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;
  #pollFailingSince: number | null = null;
  #flushFailingSince: number | null = null;
  #stats = { trips: 0, blocks: 0, storeErrors: 0, dropped: 0 };
  /** The block cap was met since the last block written (warned once). */
  #capWarned = false;

  constructor(o: AbuseDetectorOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    const rules = compileRules(o.rules);
    this.#toolRules = rules.filter((r) => r.rule.kind === 'tool_calls');
    this.#callKeys = new CallKeyMemo(this.#toolRules);
    this.#subjectRules = rules.filter((r) => r.rule.kind === 'auth_failures_subject');
    this.#ipRules = rules.filter((r) => r.rule.kind === 'auth_failures_ip');
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.refresh();
    this.#schedulePoll();
    this.#flushTimer = setInterval(
      () => void this.flush(),
      this.#o.flushIntervalMs ?? ABUSE_FLUSH_INTERVAL_MS,
    );
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    this.#pollTimer = undefined;
    this.#flushTimer = undefined;
    await this.#flushing; // a flush under way took only the counts made before it: the next writes the rest
    await this.flush();
    await this.#polling;
    if (this.#unstored.size > 0) await this.refresh(); // writes them, once a reload showed no lift
  }

  status(): ComponentStatus {
    const failing = this.#pollFailingSince ?? this.#flushFailingSince;
    const rules = this.#toolRules.length + this.#subjectRules.length + this.#ipRules.length;
    if (!this.#loaded)
      return { state: failing !== null ? 'error' : 'not_ready', detail: 'blocks not loaded', rules };
    const blocks = this.#blocks.size;
    if (failing === null) return { state: 'ok', rules, blocks };
    const detail = `abuse store calls failing since ${new Date(failing).toISOString()}; blocks may be stale`;
    return { state: 'warn', detail, rules, blocks };
  }

  stats(): AbuseDetectorStats {
    return { ...this.#stats };
  }

  recordCall(p: Principal, tool: string, ip: string, listed = true): void {
    if (p.id === null || this.#toolRules.length === 0) return;
    const call = this.#callKeys.keys(p, p.id, tool, listed);
    const now = this.#now();
    for (let i = 0; i < call.keys.length; i++) {
      const key = call.keys[i];
      const rule = this.#toolRules[i];
      if (key !== undefined && rule !== undefined && !this.#pending.addKeyed(rule, key, call, ip, 1, now))
        this.#stats.dropped++;
    }
  }

  recordAuthFailure(owner: CredentialOwner | null, ip: string, _reason: string): void {
    if (owner !== null && owner.subject !== '') {
      const { subject, tenant } = owner;
      const target = `${encodePart(tenant)}/${encodePart(subject)}`;
      for (const rule of this.#subjectRules) this.#add(rule, target, { subject, tenant, tool: null, ip });
    }
    if (this.#ipRules.length === 0 || !ip) return;
    const addr = abuseIpTarget(ip);
    for (const rule of this.#ipRules)
      this.#add(rule, encodePart(addr), { subject: null, tenant: null, tool: null, ip: addr });
  }

  isBlocked(p: Principal | null, ip: string): BlockEntry | null {
    if (this.#blocks.size === 0) return null;
    return this.#blocks.find(p, ip, this.#now());
  }

  currentBlocks(): BlockEntry[] {
    return this.#blocks.current(this.#now());
  }

  flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  refresh(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  #add(rule: CompiledRule, target: string, who: PendingWho, count = 1, atMs = this.#now()): void {
    if (!this.#pending.add(rule, target, who, count, atMs)) this.#stats.dropped += count;
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.size === 0) return;
    const now = this.#now();
    const batch = this.#pending.drain(now);
    if (batch.length === 0) return;
    const hits = toWindowHits(batch);
    let results: Awaited<ReturnType<Store['countInWindows']>>;
    try {
      results = await this.#o.store.countInWindows(hits, now);
    } catch (err) {
      this.#stats.storeErrors++;
      // With their ids: a write that landed before the failure is replaced, counts past their window dropped.
      this.#stats.dropped += this.#pending.requeue(batch, now);
      if (this.#flushFailingSince === null) {
        this.#flushFailingSince = now;
        this.#o.logger.warn({ err: (err as Error).message }, 'abuse counts not written; will retry');
      }
      return;
    }
    if (this.#flushFailingSince !== null) this.#o.logger.info('abuse counting resumed');
    this.#flushFailingSince = null;
    const trips = batch.flatMap((p, i) => {
      const r = results[i];
      return r?.tripped ? [{ p, count: r.count }] : [];
    });
    for (const { p, count } of trips) await this.#trip(p, count, now);
    // Once per flush, not per block: each poll after a block reloads the whole list.
    if (trips.some(({ p }) => p.rule.rule.action === 'block')) void this.refresh();
  }

  async #trip(p: Pending, count: number, now: number): Promise<void> {
    const rule = p.rule.rule;
    this.#stats.trips++;
    const blockedUntil = rule.action === 'block' ? await this.#block(p, count, now) : null;
    const event = tripEvent(p, count, now, blockedUntil);
    this.#o.logger.warn({ abuse: event }, `abuse rule "${rule.name}" tripped`);
    try {
      this.#o.onTrip?.(event);
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'abuse onTrip handler failed');
    }
  }

  /**
   * Writes the block (never shortening a longer one) and applies it here at once; returns its end, or null
   * for an address when {@link MAX_LIVE_BLOCKS} live ones are held already (the trip is then only reported).
   */
  async #block(p: Pending, count: number, now: number): Promise<string | null> {
    const entry = tripBlockEntry(p, count, now);
    const field = blockField(entry);
    const capped = entry.target === 'ip' && this.#blocks.size >= MAX_LIVE_BLOCKS;
    if (capped && !this.#blocks.entry(field) && this.#blocks.liveSize(now) >= MAX_LIVE_BLOCKS) {
      if (!this.#capWarned)
        this.#o.logger.warn({ max: MAX_LIVE_BLOCKS }, 'abuse block cap reached; alerting only');
      this.#capWarned = true;
      return null;
    }
    this.#capWarned = false;
    try {
      await this.#o.store.putBlock(entry, { extendOnly: true, nowMs: now });
      this.#stats.blocks++;
    } catch (err) {
      this.#stats.storeErrors++;
      this.#o.logger.error(
        { err: (err as Error).message, target: entry.target, value: entry.value },
        'abuse block not stored; enforced by this replica only until the store takes it',
      );
      this.#unstored.add(entry);
    }
    this.#blocks.extend(entry, now + p.rule.blockMs);
    return (this.#blocks.entry(field) ?? entry).until;
  }

  #schedulePoll(): void {
    if (!this.#running) return;
    this.#pollTimer = setTimeout(() => {
      void this.refresh().then(() => this.#schedulePoll());
    }, this.#o.pollIntervalMs ?? ABUSE_POLL_INTERVAL_MS);
    this.#pollTimer.unref();
  }

  async #reload(now: number): Promise<void> {
    const snap = await this.#o.store.blocks(now);
    const next = new LocalBlocks(snap.entries);
    this.#unstored.reloaded(snap.entries, next, now);
    if (this.#loaded) this.#o.logger.debug({ version: snap.version, blocks: next.size }, 'blocks reloaded');
    this.#blocks = next;
    this.#version = snap.version;
  }

  async #poll(): Promise<void> {
    const { store, logger } = this.#o;
    const now = this.#now();
    try {
      // Reloaded before the blocks held here are written, so an operator's lift is seen, not written over.
      if ((await store.blockVersion()) !== this.#version) await this.#reload(now);
      if (await this.#unstored.store(store, now, logger)) await this.#reload(now);
      this.#loaded = true;
      if (this.#pollFailingSince !== null) logger.info('block polling recovered');
      this.#pollFailingSince = null;
    } catch (err) {
      this.#stats.storeErrors++;
      if (this.#pollFailingSince === null) {
        this.#pollFailingSince = now;
        // Before the first load there is no snapshot to fall back on: only this replica's own blocks apply.
        const then = this.#loaded ? 'using the last snapshot' : NO_SNAPSHOT_YET;
        logger.warn({ err: (err as Error).message }, `block polling failed; ${then}`);
      }
    }
  }
}
