/**
 * The counts waiting for the next flush, one entry per rule × target. Adding is a Map update (the request
 * path calls it); when `MAX_PENDING_TARGETS` distinct targets of one rule are waiting, counts for its new
 * ones are refused so the caller can count them as dropped. A flush drains the whole batch and turns it into the
 * store's `WindowHit`s, giving each entry an id.
 *
 * A failed flush hands its batch back (`requeue`) as slices kept apart from newer counts, each with its id
 * and its own time: counts that did reach the store before the failure are replaced when sent again, not
 * counted twice; and counts older than their rule's window are dropped, never sent as one fresh burst after
 * an outage (a caller failing once every 10 s would otherwise trip a 20-a-minute rule after 5 minutes of it).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { encodePart } from '../store/key-parts.js';
import type { WindowHit } from '../store/store.js';
import type { CompiledRule } from './rules.js';

/**
 * Distinct targets held between flushes, per rule (more are dropped and counted). Per rule, so a flood of
 * one kind (10,000 invented tool names a second) cannot crowd out another (the failed logins of an address
 * guessing credentials).
 */
export const MAX_PENDING_TARGETS = 10_000;
/** Slices a failed flush may leave waiting (the oldest go first beyond that, counted as dropped). */
export const MAX_REQUEUED_SLICES = 4 * MAX_PENDING_TARGETS;

/** Who one count is about (what a trip reports and a block targets). */
export interface PendingWho {
  subject: string | null;
  tenant: string | null;
  tool: string | null;
  ip: string | null;
}

export interface Pending {
  readonly rule: CompiledRule;
  /** `<encoded rule name>:<target>`: the window's key in the store. */
  readonly key: string;
  readonly subject: string | null;
  readonly tenant: string | null;
  readonly tool: string | null;
  ip: string | null;
  count: number;
  atMs: number;
  /** Set once the entry has been sent (`WindowHit.id`); kept when a failed flush adds it back. */
  id: string | undefined;
}

export class PendingCounts {
  #pending = new Map<string, Pending>();
  /** Slices of failed flushes, oldest first: sent again as they were, never merged with newer counts. */
  #requeued: Pending[] = [];
  /** Distinct targets waiting, per rule name. */
  #perRule = new Map<string, number>();

  get size(): number {
    return this.#pending.size + this.#requeued.length;
  }

  /** Adds `count` for this rule × target; false (nothing added) when too many targets are waiting. */
  add(rule: CompiledRule, target: string, who: PendingWho, count: number, atMs: number): boolean {
    return this.addKeyed(rule, `${encodePart(rule.rule.name)}:${target}`, who, who.ip, count, atMs);
  }

  /**
   * {@link add} with the entry's key already built (`<encoded rule name>:<target>`, see `call-keys.ts`) and
   * the address apart from who the count is about (a remembered `CallKeys` serves as `who`).
   */
  addKeyed(
    rule: CompiledRule,
    key: string,
    who: Readonly<Omit<PendingWho, 'ip'>>,
    ip: string | null,
    count: number,
    atMs: number,
  ): boolean {
    const p = this.#pending.get(key);
    if (p) {
      p.count += count;
      p.ip = ip ?? p.ip;
      if (atMs > p.atMs) p.atMs = atMs;
      return true;
    }
    const waiting = this.#perRule.get(rule.rule.name) ?? 0;
    if (waiting >= MAX_PENDING_TARGETS) return false;
    this.#perRule.set(rule.rule.name, waiting + 1);
    const { subject, tenant, tool } = who;
    this.#pending.set(key, { rule, key, subject, tenant, tool, ip, count, atMs, id: undefined });
    return true;
  }

  /**
   * Hands back a batch whose flush failed, as separate slices; returns how many counts were dropped for
   * room (slices past their window are dropped uncounted: the store would not count them either).
   */
  requeue(batch: readonly Pending[], nowMs: number): number {
    // One push per slice: spreading a batch of many rules' counts into one call overflows the stack.
    for (const p of batch) if (live(p, nowMs)) this.#requeued.push(p);
    let dropped = 0;
    const over = this.#requeued.length - MAX_REQUEUED_SLICES;
    if (over > 0) {
      for (const p of this.#requeued.splice(0, over)) dropped += p.count;
    }
    return dropped;
  }

  /** Everything waiting within its window, slices of failed flushes first; the set is empty afterwards. */
  drain(nowMs: number): Pending[] {
    const batch = [...this.#requeued.filter((p) => live(p, nowMs)), ...this.#pending.values()];
    this.#requeued = [];
    this.#pending = new Map();
    this.#perRule = new Map();
    return batch;
  }
}

/** A count still inside its rule's window at `nowMs`. */
function live(p: Pending, nowMs: number): boolean {
  return p.atMs > nowMs - p.rule.windowMs;
}

/** The store call's input for a drained batch, in the same order. */
export function toWindowHits(batch: readonly Pending[]): WindowHit[] {
  return batch.map((p) => {
    p.id ??= nextId();
    return {
      key: p.key,
      count: p.count,
      windowMs: p.rule.windowMs,
      threshold: p.rule.rule.threshold,
      atMs: p.atMs,
      id: p.id,
    };
  });
}

/** Window member ids: unique across replicas (a random prefix per process) and cheap (a counter). */
const ID_PREFIX = randomBytes(9).toString('base64url');
let idSeq = 0;
function nextId(): string {
  idSeq += 1;
  return `${ID_PREFIX}${idSeq.toString(36)}`;
}
