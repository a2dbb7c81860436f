/**
 * A point in time as an operator writes it on a command line or in a query: ISO 8601 (RFC 3339) with its
 * zone, a bare date, or epoch seconds; nothing `Date` would read its own way.
 *
 * @module
 */

/**
 * An ISO 8601 date (midnight UTC), or date and time; `zone` is the time's `Z` or offset, when it has one. A
 * space may stand for the `T` (RFC 3339, `date --rfc-3339`), `t` and `z` for `T` and `Z` (RFC 3339 5.6),
 * and the offset may lack its colon (`date +%z`).
 */
const ISO_TIME =
  /^(?<y>\d{4})-(?<m>\d{2})-(?<d>\d{2})(?:(?<t>[Tt ])(?<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(?<zone>[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * ISO 8601, or epoch seconds. Nothing else `Date` reads its own way: `01/02/2027` (January 2, US order), and
 * a time without a zone (this machine's local time), would end a key or a revocation (or start a report) at another time.
 */
export function parseTime(text: string): Date {
  const t = text.trim();
  const iso = ISO_TIME.exec(t);
  if (iso?.groups?.t && !iso.groups.zone) {
    throw new Error(`time "${text}" has no time zone: add Z (UTC) or an offset such as +01:00`);
  }
  // `Date` rolls a day past its month's end into the next month (2027-02-30 is March 2).
  const { y, m, d: day, time, zone } = iso?.groups ?? {};
  if (iso && Number(day) > new Date(Date.UTC(Number(y), Number(m), 0)).getUTCDate()) {
    throw new Error(`bad time "${text}": no such day (${y}-${m} has fewer days)`);
  }
  // Given to `Date` in the one form ECMAScript defines (`T`, `+HH:MM`), not left to its own reading.
  const offset = zone?.toUpperCase().replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const normal = time ? `${y}-${m}-${day}T${time}${offset}` : t;
  const d = /^\d+$/.test(t) ? new Date(Number(t) * 1000) : iso ? new Date(normal) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) {
    throw new Error(`bad time "${text}" (use ISO 8601 such as 2027-01-31T18:00:00Z, or epoch seconds)`);
  }
  return d;
}
