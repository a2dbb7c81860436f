/**
 * CLI tables print what callers sent (tool names, subjects, reasons): control characters must not reach
 * the operator's terminal as such.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { formatFields, formatTable, oneLine } from '../../../src/cli/table.js';

describe('oneLine', () => {
  it('shows escape sequences, BEL, CR and C1 controls as \\xNN', () => {
    expect(oneLine('evil\u001b]0;PWNED\u0007\u001b[2J\rx\u009b')).toBe(
      'evil\\x1b]0;PWNED\\x07\\x1b[2J\\x0dx\\x9b',
    );
  });
  it('shows bidirectional controls and line separators as \\uNNNN (Trojan Source)', () => {
    expect(oneLine('evil\u202eRTL\u2066x\u2028y')).toBe('evil\\u202eRTL\\u2066x\\u2028y');
  });
  it('joins lines and keeps ordinary text', () => {
    expect(oneLine('a\n  b')).toBe('a; b');
    expect(oneLine('tenant/alice – ok')).toBe('tenant/alice – ok');
  });
});

describe('formatTable', () => {
  it('never prints a control character from a cell', () => {
    const text = formatTable(['TOOL', 'REASON'], [['x\u001b[31m', 'denied\r\u0007']]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(text).toContain('x\\x1b[31m');
  });
});

describe('formatFields', () => {
  it('prints each value on its one line, control characters shown as in a table', () => {
    // `keys create` prints the new key's record so: a description pasted with a line break or an escape
    // sequence must not add lines that look like fields, nor act on the terminal.
    const text = formatFields({
      subject: 'bot\u001b[2J',
      description: 'one\nexpiresAt: never',
      roles: ['a\rb'],
    });
    expect(text).toBe('subject:     bot\\x1b[2J\ndescription: one; expiresAt: never\nroles:       a\\x0db\n');
  });
});
