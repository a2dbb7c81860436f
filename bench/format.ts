/**
 * Number formatting shared by the progress lines and the RESULTS.md tables of `npm run bench`: requests
 * per second, milliseconds, signed differences, the spread of a target's rounds and per-round lists.
 *
 * @module
 */
import type { Aggregate } from './measure.js';

export function fmtRps(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : Math.round(v).toLocaleString('en-US');
}
export const ms = (v: number): string => v.toFixed(3);
export const plus = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;

export const spread = (a: Aggregate): string =>
  a.rpsRounds.length > 1 ? ` (${fmtRps(Math.min(...a.rpsRounds))}–${fmtRps(Math.max(...a.rpsRounds))})` : '';
export const roundsOf = (xs: number[], fmt: (v: number) => string) =>
  xs.length > 1 ? ` (rounds: ${xs.map(fmt).join(', ')})` : '';
