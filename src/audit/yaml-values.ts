/**
 * A YAML value written on the lines after its key, for `key-value-secrets.ts`: `password:` and nothing else on
 * its line, or a block scalar's indicator (`token: |`, `key: >-`, a comment after it allowed), node properties
 * (a tag or an anchor: `password: !vault |`, `key: !!binary |`, `password: &pw`) or a comment, then the lines
 * indented more than the key (`password:\n  hunter2`, `token: |\n  abc\n  def`). The value is all of those
 * lines, blank lines between them included, up to the first line that is not indented more than the key's (a
 * sibling key, or the text's end): a block scalar's lines, a plain scalar folded over lines, or a mapping or
 * sequence under a credential's name (`credentials:\n  user: bob\n  pass: x`), which the audit walk masks whole
 * as an object's value too; not a stack trace after an error's message (`No token:\n    at verify
 * (/app/a.js:1:2)`), when every line is a frame (`stack-frames.ts`), nor a make recipe under a target named like
 * a credential whose every line opens with an expansion (`rotate-token:\n\t$(MAKE) x`). The key's indentation is its column: `- password:` (a sequence's entry) counts
 * the `- `. Spaces indent, and tabs too, though YAML allows none there: text indented by a tab
 * (`password:\n\thunter2`) is no YAML's but may hold the value, so a tab counts up to the next multiple of 8
 * columns, as a terminal shows it. Linear: the key's line is read back once (only
 * the last key on a line ends it), and the value's lines once.
 *
 * @module
 */
import { StackLines } from './stack-frames.js';

/**
 * A make recipe's line, after a target at the line's start: a tab first, then (past `@`, `-` or `+`) a
 * variable's or function's expansion, `$(MAKE) x`, `@$(GO) build`, `${DOCKER} push`: no credential's value.
 */
const RECIPE_LINE = /\t[ \t]*[@+-]{0,3}\$[({][A-Za-z_][\w.-]{0,63}[)}\s]/y;

const SPACE = 0x20;
const TAB = 0x09;
/** A tab's stop: a terminal's. */
const TAB_STOP = 8;
const LF = 0x0a;
const CR = 0x0d;
/**
 * What may stand after the key's `:` on its line: node properties (a tag, `!vault` or `!!binary`, an anchor,
 * `&pw`; each ends at a space or the line's end), a block scalar's header (`|` or `>`, an indentation digit
 * and a chomping sign in either order), a comment. A property is read at most 128 characters far, a comment
 * 256: the line's end must follow, and a line holding many keys (`(token: | #(token: | #…`, `(token:&(…`) was
 * read to its end from each, quadratic (2.2 s for 128 KiB). A longer tag or comment is no YAML's.
 */
const HEADER =
  /((?:[!&]\S{0,127}(?:[ \t]+|(?=\r?\n))){0,2})([|>](?:[1-9][+-]?|[+-][1-9]?)?)?[ \t]*(#[^\r\n]{0,255})?(?=\r?\n)/y;

/**
 * Where the value of the key starting at `key` lies, when its `:` is followed (spaces skipped, up to `at`) by
 * the line's end or a {@link HEADER} and the lines after it hold the value: from its first character (from
 * the header's, when it has no block indicator) to the end of its last line; undefined otherwise. `kept`:
 * those lines are a stack trace's or a make recipe's, no value (nothing else on the key's line, and every line
 * a frame, or an expansion after a tab under a key at the line's start).
 */
export function valueOnNextLines(
  text: string,
  key: number,
  at: number,
): { start: number; end: number; kept: boolean } | undefined {
  let p = at;
  HEADER.lastIndex = p;
  const header = HEADER.exec(text);
  // Properties or a comment and no block header (`password: &pw`, `password: # below`): a word there may be
  // the credential in text that is no YAML, so it goes with the lines.
  const from = header === null || header[2] !== undefined || header[0] === '' ? -1 : at;
  if (header !== null) p = HEADER.lastIndex;
  if (text.charCodeAt(p) === CR) p++;
  if (text.charCodeAt(p) !== LF) return undefined;
  const indent = columnOf(text, lineStart(text, key), key);
  // `No token:` and an indented stack after it (a log's error): no value, when nothing else is on the key's
  // line and every line of it is a frame; one line that is none (`password:\n  at x)\n  hunter2`) and all go.
  const frames = header === null || header[0] === '' ? new StackLines() : undefined;
  let stack = frames !== undefined;
  let recipe = stack && indent === 0;
  let start = -1;
  let end = -1;
  for (p++; p < text.length; ) {
    let q = p;
    let column = 0;
    for (let c = text.charCodeAt(q); c === SPACE || c === TAB; c = text.charCodeAt(++q))
      column = c === TAB ? column - (column % TAB_STOP) + TAB_STOP : column + 1;
    const c = text.charCodeAt(q);
    const blank = q >= text.length || c === LF || (c === CR && text.charCodeAt(q + 1) === LF);
    // A line not indented more than the key ends the value, unread.
    if (!blank && column <= indent) break;
    let eol = text.indexOf('\n', q);
    if (eol === -1) eol = text.length;
    if (!blank) {
      if (start === -1) start = q;
      end = text.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
      stack &&= frames?.accepts(text.slice(q, end), column) === true;
      RECIPE_LINE.lastIndex = p;
      recipe &&= RECIPE_LINE.test(text);
    }
    p = eol + 1;
  }
  const kept = (stack && frames?.complete === true) || recipe;
  return start === -1 ? undefined : { start: from === -1 ? start : from, end, kept };
}

/** Past the white space at `at` when a line break is in it; `at` otherwise. */
export function afterLineBreaks(text: string, at: number): number {
  let p = at;
  let breaks = false;
  for (
    let c = text.charCodeAt(p);
    c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    c = text.charCodeAt(++p)
  )
    breaks ||= c === 0x0a;
  return breaks ? p : at;
}

/** The column of `at` on the line starting at `start`, a tab counted up to its stop. */
function columnOf(text: string, start: number, at: number): number {
  let column = 0;
  for (let i = start; i < at; i++)
    column = text.charCodeAt(i) === TAB ? column - (column % TAB_STOP) + TAB_STOP : column + 1;
  return column;
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}
