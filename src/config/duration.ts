/**
 * Human durations (`90s`, `15m`, `1h`, `30d`, `2w`) used by the CLI and the report, parsed in one place.
 *
 * @module
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * The longest duration taken: 100 years. More is a typo (extra zeros), and past ~270,000 years no date can
 * hold the end of it (an invalid Date, refused by the store with a message of its own).
 */
export const MAX_DURATION_MS = 100 * 365.25 * 86_400_000;

/** Milliseconds for `90s`, `15m`, `1h`, `30d`, `2w`; undefined when `text` is not such a duration. */
export function durationMs(text: string): number | undefined {
  const m = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : undefined;
}

/** Like `durationMs`, but throws a message fit to show the user. */
export function parseDuration(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new Error(`bad duration "${text}" (use e.g. 90s, 15m, 1h, 30d, 2w)`);
  if (ms <= 0) throw new Error(`duration must be positive: "${text}"`);
  if (ms > MAX_DURATION_MS) throw new Error(`duration too long: "${text}" (at most 100 years)`);
  return ms;
}
