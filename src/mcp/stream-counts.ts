/**
 * Open event streams per caller. Each open stream (a Streamable HTTP GET stream, a legacy SSE stream)
 * holds an upstream connection for as long as it lasts, and those connections are not capped (so that
 * streams cannot starve POSTs of the pool): without a per-caller bound, one caller could open thousands
 * and hold as many sockets on the upstream. MCP clients open one GET stream per session.
 *
 * @module
 */
import { abuseIpTarget } from '../abuse/targets.js';
import type { Principal } from '../authn/principal.js';
import { ownerKey } from './owner-key.js';

/**
 * Open streams of all anonymous callers together, whatever their addresses: per-address counting alone
 * would let a caller with many addresses (IPv6) hold any number of upstream connections. An address is
 * counted as the abuse rules count it, an IPv6 one by its /64 (what one host is handed): counted one by
 * one, a single host could take all of these alone, and every other anonymous caller's streams got 429.
 */
export const MAX_ANONYMOUS_STREAMS = 1_024;

export class StreamCounts {
  readonly #open = new Map<string, number>();
  readonly #max: number;
  #anonymous = 0;

  constructor(maxPerCaller: number) {
    this.#max = maxPerCaller;
  }

  /**
   * Counts a new stream of `caller` (anonymous callers, who are all one principal, per client address or
   * IPv6 /64 and at most {@link MAX_ANONYMOUS_STREAMS} together); returns the function that uncounts it, or
   * undefined when full.
   */
  open(caller: Principal, clientIp: string): (() => void) | undefined {
    const anonymous = caller.authMethod === 'anonymous';
    const key = anonymous ? `anonymous@${abuseIpTarget(clientIp)}` : ownerKey(caller);
    const n = this.#open.get(key) ?? 0;
    if (n >= this.#max || (anonymous && this.#anonymous >= MAX_ANONYMOUS_STREAMS)) return undefined;
    this.#open.set(key, n + 1);
    if (anonymous) this.#anonymous++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      if (anonymous) this.#anonymous--;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }

  get max(): number {
    return this.#max;
  }
}
