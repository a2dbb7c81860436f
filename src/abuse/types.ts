/**
 * The abuse detector's public types. `AbuseEvent` and `BlockEntry` are stored records, so they are
 * defined next to the store interface and re-exported here.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import type { Component } from '../lifecycle.js';
import type { BlockEntry } from '../store/store.js';

export type { AbuseEvent, BlockEntry } from '../store/store.js';

/**
 * One detection rule. `tool_calls` counts per subject × tool (the rule's `tool` glob picks the tools,
 * default all); `auth_failures_subject` per claimed subject; `auth_failures_ip` per client address.
 */
export interface AbuseRule {
  name: string;
  kind: 'tool_calls' | 'auth_failures_subject' | 'auth_failures_ip';
  /** Glob (`*`, `?`), `tool_calls` only. */
  tool?: string;
  /** Trips when the count in the window EXCEEDS this (threshold 100 → the 101st event). */
  threshold: number;
  windowSec: number;
  action: 'alert' | 'block';
  /** How long a `block` lasts (default `DEFAULT_BLOCK_SEC`). */
  blockSec?: number;
}

/** Counters to feed metrics; monotonic over the detector's life. */
export interface AbuseDetectorStats {
  /** Rules tripped by this replica (each trip happens on exactly one replica). */
  readonly trips: number;
  /** Blocks written by this replica. */
  readonly blocks: number;
  /** Failed store calls (flushes, polls, block writes). */
  readonly storeErrors: number;
  /** Events dropped because too many distinct targets were waiting for a flush. */
  readonly dropped: number;
}

/** Whom a refused credential belongs to. */
export interface CredentialOwner {
  readonly subject: string;
  readonly tenant: string | null;
}

export interface AbuseDetector extends Component {
  /**
   * Counts a tool call; fire-and-forget, never awaited on the request path (no store call). `listed`: the
   * upstream has listed the tool; calls of names it never listed (which the caller may invent by the
   * thousand) are counted together, under {@link UNLISTED_TOOLS}, as the rate limiter buckets them.
   */
  recordCall(p: Principal, tool: string, ip: string, listed?: boolean): void;
  /**
   * Counts a failed authentication against the address and, when the credential's owner is known for sure
   * (an API key's), against that subject of that tenant (no store call).
   */
  recordAuthFailure(owner: CredentialOwner | null, ip: string, reason: string): void;
  /** The block that applies to this caller or address, from the local snapshot (synchronous). */
  isBlocked(p: Principal | null, ip: string): BlockEntry | null;
  /** Writes pending counts now (trips and blocks follow); concurrent calls share one flush. Never throws. */
  flush(): Promise<void>;
  /** Reloads the block snapshot now if its version changed. Never throws. */
  refresh(): Promise<void>;
  /** The live blocks in the local snapshot. */
  currentBlocks(): BlockEntry[];
  stats(): AbuseDetectorStats;
}
