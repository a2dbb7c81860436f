/**
 * Globs as Go's `filepath.Match` reads them on `/` paths (OPA's `signing.exclude_files`): `*` and `?` stop
 * at `/` (a class does not), `[...]` classes (`^` negates, `a-z` ranges, `\` escapes inside too), `\`
 * escapes. A pattern Go refuses with `ErrBadPattern` (a trailing `\`, an unclosed class, a class that starts
 * or ends with `-` or is empty) compiles to null; a range written backwards (`[z-a]`) is valid and matches
 * nothing, as in Go.
 *
 * @module
 */

/** The glob as a regular expression over a whole path, or null for a pattern Go's `filepath.Match` refuses. */
export function compileGlob(glob: string): RegExp | null {
  const chars = Array.from(glob);
  let i = 0;
  /** One class character (escapes read), as a code point; null where Go's `getEsc` fails. */
  const classChar = (): number | null => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') return null;
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) return null;
    }
    i++;
    return c.codePointAt(0) as number;
  };
  let re = '';
  while (i < chars.length) {
    const c = chars[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) return null;
      re += codePoint(next.codePointAt(0) as number);
    } else if (c === '[') {
      i++;
      const negate = chars[i] === '^';
      if (negate) i++;
      let set = '';
      let ranges = 0;
      for (;;) {
        if (chars[i] === ']' && ranges > 0) break;
        const lo = classChar();
        if (lo === null) return null;
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          const h = classChar();
          if (h === null) return null;
          hi = h;
        }
        ranges++;
        if (lo <= hi) set += lo === hi ? codePoint(lo) : `${codePoint(lo)}-${codePoint(hi)}`;
      }
      // `[]` matches nothing and `[^]` anything, the separator too: Go's classes do not stop at `/`.
      re += `[${negate ? '^' : ''}${set}]`;
    } else re += codePoint(c.codePointAt(0) as number);
    i++;
  }
  return new RegExp(`^${re}$`, 'u');
}

/** Whether `path` matches `glob`; a pattern Go refuses matches nothing (`filepath.Match` returns false). */
export function globMatch(glob: string, path: string): boolean {
  return compileGlob(glob)?.test(path) ?? false;
}

function codePoint(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}
