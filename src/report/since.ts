/**
 * The report's `--since` / `?since=`: a duration back from now (`90m`, `24h`, `7d`, `1w`) or a point in
 * time (ISO 8601, or epoch seconds).
 *
 * @module
 */

import { durationMs } from '../config/duration.js';

export const DEFAULT_SINCE = '24h';

/** Epoch ms of the start; throws `RangeError` with a message fit to show the user. */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  const ms = durationMs(t);
  if (ms !== undefined) {
    if (ms <= 0) throw new RangeError(`since must be a positive duration: "${text}"`);
    return nowMs - ms;
  }
  const at = /^\d+$/.test(t) ? Number(t) * 1000 : Date.parse(t);
  if (!Number.isFinite(at))
    throw new RangeError(`bad since "${text}" (use a duration like 24h or 7d, or an ISO 8601 time)`);
  if (at >= nowMs) throw new RangeError(`since must be in the past: "${text}"`);
  return at;
}
