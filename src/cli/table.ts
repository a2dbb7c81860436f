/**
 * Output helpers for the CLI: a plain aligned text table for people, stable JSON for scripts, and the
 * one-line error convention (`mcp-authz: <message>`, exit code 1).
 *
 * @module
 */
import { ConfigError } from '../errors/errors.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  exit(code: number): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  exit: (code) => process.exit(code),
};

/** Columns padded to their widest cell; empty cells show `-`. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((row) => headers.map((_, i) => oneLine(row[i]) || '-'));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** Key: value lines, for one record; each value on its line, printable as a table cell is. */
export function formatFields(fields: Readonly<Record<string, unknown>>): string {
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  return Object.entries(fields)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${oneLine(display(v)) || '-'}`)
    .join('\n')
    .concat('\n');
}

export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function display(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.join(',') : '-';
  return String(value);
}

/**
 * Prints `mcp-authz: <message>` on one line and exits 1; a configuration error is printed as `serve` prints
 * it, one problem a line (a config with many problems would otherwise be one unreadable line).
 */
export function fail(io: CliIo, err: unknown): void {
  if (err instanceof ConfigError) {
    io.err(`mcp-authz: invalid configuration:\n${err.issues.map((i) => `  ${oneLine(i)}\n`).join('')}`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    io.err(`mcp-authz: ${oneLine(message)}\n`);
  }
  io.exit(1);
}

/**
 * One printable line: newlines become `; `, every other control character (ESC, BEL, CR, C1 …) is
 * shown as `\xNN` and a bidirectional control as `\uNNNN`. Table cells carry what callers sent (tool names, subjects, reasons), and an escape
 * sequence printed raw would act on the operator's terminal (clear it, retitle it, overwrite a row).
 */
export function oneLine(text: string | undefined): string {
  return (
    (text ?? '')
      .replace(/\s*\n\s*/g, '; ')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
      // Bidirectional controls and line separators: shown as `\uNNNN`, or a caller's name could reorder
      // what a terminal prints after it (Trojan Source).
      .replace(
        /[\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16)}`,
      )
      .trim()
  );
}
