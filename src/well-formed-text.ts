/**
 * Text with a UTF-8 form. JSON allows a lone surrogate (`"\ud800"`), which has none: it would reach the
 * policy, logs and identity headers as U+FFFD, so two subjects could look alike. Token claims and API-key
 * records are both checked with {@link WellFormedText}.
 *
 * @module
 */
import { z } from 'zod';

/** Whether `s` has a UTF-8 form (no lone surrogates): `String.prototype.isWellFormed`, which ES2022 lacks. */
export function isWellFormedText(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** A non-empty, well-formed string: an empty tenant, role or scope is no value. */
export const WellFormedText = z.string().min(1).refine(isWellFormedText, 'is not well-formed Unicode');
