/**
 * Cutting caller-chosen text to a length a log line, a span or an error message can carry.
 *
 * @module
 */

/** `s` when at most `max` characters long, else its first `max` characters and `…`. */
export function cutText(s: string, max: number): string {
  return s.length > max ? `${headOf(s, max)}…` : s;
}

/**
 * The first `max` UTF-16 units of `s`, one fewer when the last would be the first half of a surrogate pair:
 * a lone surrogate is no Unicode text, and strict JSON readers (serde_json, so Vector) refuse a line holding
 * its escape.
 */
export function headOf(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
