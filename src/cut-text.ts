/**
 * Cutting caller-chosen text to a length a log line, a span or an error message can carry.
 *
 * @module
 */

/** `s` when at most `max` characters long, else its first `max` characters and `…`. */
export function cutText(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
