/**
 * A stack trace's lines, for `yaml-values.ts`: the indented lines after `No token:` are a log's error and its
 * stack, no credential's value, when every one of them is a frame as a runtime writes it:
 *
 * - V8 (Node), Java and .NET, a call and what is in its parentheses: `at verify (/app/a.js:1:2)`, `at async
 *   verify (file:///app/a.mjs:1:2)`, `at new Foo (<anonymous>)`, `at Layer.handle [as handle_request] (…)`,
 *   `at a.B.c(B.java:12)`, `at Foo.Bar(String s) in C:\x\y.cs:line 12`; V8's location alone, `at
 *   /app/a.js:1:2`, `at <anonymous>`; util.inspect's ` {` after the last one (the error's own fields follow);
 * - Java's `... 12 more`, .NET's `--- End of stack trace from previous location ---`;
 * - Ruby's `/app/x.rb:12:in 'verify'` (`` `verify' `` before Ruby 3.4), `from` before it;
 * - Python's `File "/app/x.py", line 3, in f`, the line of source under it (indented more) and the line of
 *   `^` and `~` under that; a syntax error's frame has no `, in f`, and the line under it is its source only
 *   with that line of marks after it (`File "a", line 1` and any line under it is no stack).
 *
 * Only these shapes are frames, and a call's or function's name holds no space: `at home` or `at x)` is text,
 * and a value holding such a line is redacted with the others. Each line is read once, by patterns anchored
 * at both ends whose parts cannot match the same characters twice.
 *
 * @module
 */

/** A call and its parentheses (V8, Java, .NET), a V8 alias (`[as handle_request]`) between them. */
const CALL_FRAME = /^at (?:async |new )?[^\s()]+(?: \[as [^\s\]]+\])? ?\(.*\)(?: \{)?$/;
/** V8's frame of a location alone: `at /app/a.js:1:2`, `at async file:///a.mjs:3:4`, `at <anonymous>`. */
const LOCATION_FRAME = /^at (?:async )?(?:\S+:\d+(?::\d+)?|<anonymous>)(?: \{)?$/;
/** .NET's file and line after the call: ` in C:\x\y.cs:line 12`. */
const DOTNET_LOCATION = /^ in .+:line \d+(?: \{)?$/;
const RUBY_FRAME = /^(?:from )?\S+:\d+:in [`'][^'`]*'$/;
/** Python's frame; with no function's name (group 1), a syntax error's. */
const PYTHON_FRAME = /^File "[^"]*", line \d+(, in \S+)?$/;
const PYTHON_MARKS = /^[~ ]*\^[~^ ]*$/;
/** Java's `... 12 more`; .NET's `--- End of stack trace from previous location ---`, `--- End of inner exception stack trace ---`. */
const ELISION = /^(?:\.\.\. \d+ more|--- End of [A-Za-z ]{1,64} ---)$/;

/**
 * Reads a value's lines one by one ({@link StackLines.accepts}): whether all of them so far are a stack's.
 */
export class StackLines {
  /** After a Python frame, the column of its line (its source may follow, indented more); -1 otherwise. */
  private python = -1;
  /** The last Python frame had no function's name: a syntax error's, its source line owes the marks under it. */
  private syntax = false;
  /** After a Python frame's source line: its `^~~~` marks may follow (must, after a syntax error's frame). */
  private marks: 'may' | 'must' | undefined;

  /** Whether the lines read so far end where a stack may: not between a syntax error's source and its marks. */
  get complete(): boolean {
    return this.marks !== 'must';
  }

  /** Whether `line` (without its indentation, at `column`) is a frame, or a Python frame's source or marks. */
  accepts(line: string, column: number): boolean {
    const marks = this.marks;
    this.marks = undefined;
    if (this.python !== -1 && column > this.python) {
      this.python = -1;
      this.marks = this.syntax ? 'must' : 'may';
      return true; // a Python frame's line of source
    }
    this.python = -1;
    if (marks !== undefined && PYTHON_MARKS.test(line)) return true;
    if (marks === 'must') return false;
    const python = PYTHON_FRAME.exec(line);
    if (python !== null) {
      this.python = column;
      this.syntax = python[1] === undefined;
      return true;
    }
    return isFrame(line);
  }
}

function isFrame(line: string): boolean {
  if (line.startsWith('at ')) {
    const dotnet = line.indexOf(') in ');
    if (dotnet !== -1 && DOTNET_LOCATION.test(line.slice(dotnet + 1)))
      return CALL_FRAME.test(line.slice(0, dotnet + 1));
    return CALL_FRAME.test(line) || LOCATION_FRAME.test(line);
  }
  return RUBY_FRAME.test(line) || ELISION.test(line);
}
