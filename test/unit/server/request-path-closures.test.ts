/**
 * V8 allocates a function literal written straight into a property (`ctx.refund = () => …`) in the old
 * generation, taking it for a method. Made per request, such a closure dies there and keeps whatever it
 * captures (the request's decisions, arguments, rate-limit results) alive through every scavenge until the
 * next full collection: measured, a fifth of the sidecar's garbage-collection cost. The request path
 * assigns a closure to a local first (`const refund = () => …; ctx.refund = refund`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../src');

/** Assignments made once at start, not per request. */
const ONCE = new Set(['telemetry/gauge-temporality.ts']);

const FUNCTION_INTO_PROPERTY =
  /[\w$\])]\s*(?:\.\s*#?[\w$]+|\[[^\]\n]+\])\s*(?:\?\?=|\|\|=|=(?![=>]))\s*(?:async\s+)?(?:function\b|\([^()\n]*\)(?:\s*:\s*[^=\n]+?)?\s*=>|[\w$]+\s*=>)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('closures on the request path', () => {
  it('the pattern finds a function literal written into a property, and not the usual shapes', () => {
    for (const bad of [
      'ctx.refundRateLimit = () =>',
      'ctx.refund = (): void => {',
      'this.#onX = async (e) => {',
      "o['k'] = function () {",
      'a.b ??= x =>',
    ])
      expect(FUNCTION_INTO_PROPERTY.test(bad), bad).toBe(true);
    for (const ok of [
      'const refund = () => {',
      'ctx.refundRateLimit = refund;',
      'a.b === (x) => 1',
      'readonly #onClose = (): void => {',
      'a.b = f(() => 1)',
    ])
      expect(FUNCTION_INTO_PROPERTY.test(ok), ok).toBe(false);
  });

  it('no source file writes a function literal straight into a property (V8 would pretenure it)', () => {
    const found: string[] = [];
    for (const file of sources(SRC)) {
      const name = relative(SRC, file);
      if (ONCE.has(name)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (!/^\s*(\/\/|\*)/.test(line) && FUNCTION_INTO_PROPERTY.test(line))
            found.push(`${name}:${i + 1}`);
        });
    }
    expect(found).toEqual([]);
  });
});
