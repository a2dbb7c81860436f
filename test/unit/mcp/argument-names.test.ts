import { describe, expect, it } from 'vitest';
import {
  AnnotationCache,
  MAX_KNOWN_ARGUMENT_NAMES,
  MAX_KNOWN_TOOLS,
  MAX_WARNED_TOOLS,
} from '../../../src/mcp/annotations.js';
import {
  MAX_ARGUMENT_NAMES,
  misspeltArgument,
  spellingReason,
  toolArgumentNames,
} from '../../../src/mcp/argument-names.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';

const listed = {
  tools: [
    { name: 'find', inputSchema: { type: 'object', properties: { tenant: {}, userId: {}, class: {} } } },
    { name: 'bare', inputSchema: { type: 'object' } },
    { name: 'odd', inputSchema: { type: 'object', properties: { Mode: {}, mode: {} } } },
  ],
};

/** A `tools/list` result of one tool `name` declaring the properties `props`. */
const listing = (name: string, props: readonly string[]) => ({
  tools: [
    { name, inputSchema: { type: 'object', properties: Object.fromEntries(props.map((p) => [p, {}])) } },
  ],
});
/** `n` property names, `a0000`, `a0001`, …, in declaration order. */
const props = (n: number, prefix = 'a') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

describe('argument names a tool declares', () => {
  const names = toolArgumentNames(listed);

  it('passes arguments spelt as declared, and undeclared ones no declared name folds to', () => {
    expect(
      misspeltArgument({ tenant: 'a', userId: 'u', class: 1, extra: true }, names.get('find')),
    ).toBeUndefined();
    expect(misspeltArgument({ Tenant: 'a' }, names.get('bare'))).toBeUndefined();
    expect(misspeltArgument({ Tenant: 'a' }, undefined)).toBeUndefined();
    // Both declared: each spelt as declared.
    expect(misspeltArgument({ Mode: 1, mode: 2 }, names.get('odd'))).toBeUndefined();
  });

  it('finds one spelt in another case, as Go folds it (ſ for s, K for k)', () => {
    const find = names.get('find');
    expect(misspeltArgument({ Tenant: 'globex' }, find)).toEqual(['Tenant', 'tenant']);
    expect(misspeltArgument({ userid: 'u' }, find)).toEqual(['userid', 'userId']);
    expect(misspeltArgument({ claſſ: 1 }, find)).toEqual(['claſſ', 'class']);
    expect(misspeltArgument({ tenant: 'a', USERID: 'u' }, find)).toEqual(['USERID', 'userId']);
    expect(spellingReason(['Tenant', 'tenant'])).toBe(
      'argument "Tenant" is tenant spelt in another case; spell it as the tool declares',
    );
  });

  it('is remembered per listed tool, forgotten when a listing declares none', () => {
    const cache = new AnnotationCache();
    cache.learnArgumentNames(names);
    expect(cache.argumentNames('find')?.names.get('userid')).toBe('userId');
    expect(cache.argumentNames('bare')).toBeUndefined();
    cache.learnArgumentNames(toolArgumentNames({ tools: [{ name: 'find', inputSchema: {} }] }));
    expect(cache.argumentNames('find')).toBeUndefined();
  });
});

describe('the bounds on argument names kept', () => {
  it('are 1,024 per tool and 100,000 in all', () => {
    expect(MAX_ARGUMENT_NAMES).toBe(1_024);
    expect(MAX_KNOWN_ARGUMENT_NAMES).toBe(100_000);
  });

  it('keeps every name of a tool declaring 1,024, and checks them all', () => {
    const all = toolArgumentNames(listing('t', props(MAX_ARGUMENT_NAMES))).get('t');
    expect(all).toMatchObject({ kept: MAX_ARGUMENT_NAMES, truncated: false });
    expect(misspeltArgument({ a1023: 1, undeclared: 2 }, all)).toBeUndefined();
    expect(misspeltArgument({ A1023: 1 }, all)).toEqual(['A1023', 'a1023']);
  });

  it('keeps the first 1,024 names of a tool declaring more, and refuses any other key (its spelling is unknown)', () => {
    // 1.5 million properties in a 16 MiB listing held about 150 MB; names over 128 characters, which are
    // never checked, are not kept and not counted.
    const long = 'x'.repeat(129);
    const many = toolArgumentNames(listing('t', [long, ...props(1_500)])).get('t');
    expect(many).toMatchObject({ kept: MAX_ARGUMENT_NAMES, truncated: true });
    expect(many?.names.has(long)).toBe(false);
    expect(many?.names.get('a1023')).toBe('a1023');
    expect(many?.names.has('a1024')).toBe(false);
    // The names kept are checked as any tool's; a key spelt as one of them in another case says so.
    expect(misspeltArgument({ a0000: 1, a1023: 2, [long]: 3 }, many)).toBeUndefined();
    expect(misspeltArgument({ A0007: 1 }, many)).toEqual(['A0007', 'a0007']);
    // Another key — a declared name past the first 1,024, one spelt in another case, or none — is refused.
    expect(misspeltArgument({ a0000: 1, a1024: 2 }, many)).toEqual(['a1024', undefined]);
    expect(misspeltArgument({ A1499: 1 }, many)).toEqual(['A1499', undefined]);
    expect(misspeltArgument({ other: 1 }, many)).toEqual(['other', undefined]);
    expect(spellingReason(['a1024', undefined])).toBe(
      'argument "a1024" is not among the first 1024 the tool declares, the only ones the sidecar keeps of a tool declaring more: its spelling cannot be checked',
    );
    // Remembered so: the cache keeps the refusal, not an unchecked tool.
    const cache = new AnnotationCache();
    cache.learnArgumentNames(toolArgumentNames(listing('t', props(1_500))));
    expect(misspeltArgument({ a1024: 1 }, cache.argumentNames('t'))).toEqual(['a1024', undefined]);
  });

  it('forgets the tools listed longest ago whole once all tools together keep more names than the bound', () => {
    const cache = new AnnotationCache(10_000, 2_500);
    const list = (name: string) => {
      const result = listing(name, props(1_000));
      cache.learn(new Map([[name, {}]]));
      cache.learnArgumentNames(toolArgumentNames(result));
    };
    list('a');
    list('b');
    expect(cache.argumentNames('a')?.kept).toBe(1_000);
    list('c');
    // 3,000 names: `a`, listed longest ago, is unseen again (the MCP defaults, looked up when called), not a
    // tool remembered with its arguments unchecked.
    expect(cache.has('a')).toBe(false);
    expect(cache.argumentNames('a')).toBeUndefined();
    expect([cache.has('b'), cache.has('c')]).toEqual([true, true]);
    // Listed again, it is the youngest: `b` goes instead.
    list('a');
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);
    // A listing keeping fewer names frees room: nothing more is forgotten.
    cache.learnArgumentNames(toolArgumentNames(listing('c', props(10))));
    list('d');
    expect([cache.has('a'), cache.has('c'), cache.has('d')]).toEqual([true, true, true]);
  });

  it('warns once per tool that declares more names than are kept, not once per listing', () => {
    const lines: string[] = [];
    const cache = new AnnotationCache(
      MAX_KNOWN_TOOLS,
      MAX_KNOWN_ARGUMENT_NAMES,
      createLogger('info', lineCollector(lines)),
    );
    const warned = () =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'warn');
    // Listed again and again (each client's tools/list, each discovery): one line, naming the tool and the cap.
    for (let i = 0; i < 3; i++) cache.learnArgumentNames(toolArgumentNames(listing('wide', props(1_500))));
    cache.learnArgumentNames(toolArgumentNames(listing('narrow', props(MAX_ARGUMENT_NAMES))));
    expect(warned()).toEqual([
      expect.objectContaining({
        tool: 'wide',
        kept: MAX_ARGUMENT_NAMES,
        msg: `tool declares more than ${MAX_ARGUMENT_NAMES} argument names; the sidecar keeps the first ${MAX_ARGUMENT_NAMES} and denies calls naming any other`,
      }),
    ]);
    // Bounded: the tools warned about longest ago are forgotten (and warned about again if listed again).
    for (let i = 0; i < MAX_WARNED_TOOLS; i++) {
      cache.learnArgumentNames(toolArgumentNames(listing(`w${i}`, props(MAX_ARGUMENT_NAMES + 1))));
    }
    expect(warned()).toHaveLength(1 + MAX_WARNED_TOOLS);
    cache.learnArgumentNames(toolArgumentNames(listing(`w${MAX_WARNED_TOOLS - 1}`, props(1_100))));
    expect(warned()).toHaveLength(1 + MAX_WARNED_TOOLS);
    cache.learnArgumentNames(toolArgumentNames(listing('wide', props(1_500))));
    expect(warned()).toHaveLength(2 + MAX_WARNED_TOOLS);
  });
});
