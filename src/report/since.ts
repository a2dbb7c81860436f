/**
 * The report's `--since` / `?since=`: a duration back from now (`90m`, `24h`, `7d`, `1w`) or a point in
 * time (ISO 8601 with its zone, a date, or epoch seconds: `parseTime`).
 *
 * @module
 */

import { durationMs } from '../config/duration.js';
import { parseTime } from '../iso-time.js';

export const DEFAULT_SINCE = '24h';

/** Epoch ms of the start; throws `RangeError` with a message fit to show the user. */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  const ms = durationMs(t);
  if (ms !== undefined) {
    if (ms <= 0) throw new RangeError(`since must be a positive duration: "${text}"`);
    return nowMs - ms;
  }
  let at: number;
  try {
    at = parseTime(t).getTime();
  } catch (err) {
    // `Date.parse` took `01/02/2027` (January 2) and a time without a zone (this machine's local time).
    // `?since=…T10:00+01:00` arrives with a space for the `+` (query decoding).
    const hint = /\d \d{2}:?\d{2}$/.test(t) ? ' (in a URL query, write + as %2B)' : '';
    throw new RangeError(
      `bad since "${text}": ${(err as Error).message}; or a duration like 24h or 7d${hint}`,
    );
  }
  if (at >= nowMs) throw new RangeError(`since must be in the past: "${text}"`);
  return at;
}
