import { describe, expect, it } from 'vitest';
import {
  AnnotationCache,
  MAX_CHANGES_REMEMBERED,
  MAX_TOOL_NAME_CHARS,
  MCP_DEFAULT_ANNOTATIONS,
} from '../../../src/mcp/annotations.js';
import { toolArgumentNames } from '../../../src/mcp/argument-names.js';
import { toolParamHeaders } from '../../../src/mcp/param-headers.js';

const DEFAULTS = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

describe('MCP_DEFAULT_ANNOTATIONS', () => {
  it('pins the MCP specification defaults (unknown tools are assumed destructive)', () => {
    expect(MCP_DEFAULT_ANNOTATIONS).toEqual(DEFAULTS);
    expect(Object.isFrozen(MCP_DEFAULT_ANNOTATIONS)).toBe(true);
  });
});

describe('AnnotationCache', () => {
  it('answers the MCP defaults with seen: false for a tool never listed', () => {
    const cache = new AnnotationCache();
    expect(cache.get('unknown')).toEqual({ ...DEFAULTS, seen: false });
    expect(cache.has('unknown')).toBe(false);
    expect(cache.size).toBe(0);
    expect(cache.learnedAt).toBe(0);
  });

  it('lets learned hints override the defaults and fills in the rest', () => {
    const cache = new AnnotationCache();
    cache.learn(
      new Map([['read_file', { readOnlyHint: true, destructiveHint: false, title: 'Read' }]]),
      1234,
    );
    expect(cache.get('read_file')).toEqual({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
      title: 'Read',
      seen: true,
    });
    expect(cache.has('read_file')).toBe(true);
    expect(cache.size).toBe(1);
    expect(cache.learnedAt).toBe(1234);
  });

  it('marks a listed tool without annotations as seen with the defaults', () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['t', {}]]));
    expect(cache.get('t')).toEqual({ ...DEFAULTS, seen: true });
  });

  it('does not let the upstream claim seen: false', () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['t', { seen: false }]]));
    expect(cache.get('t').seen).toBe(true);
  });

  it('replaces (not merges) what it knew about a tool listed again', () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['t', { readOnlyHint: true }]]), 1);
    cache.learn(new Map([['t', { idempotentHint: true }]]), 2);
    expect(cache.get('t')).toMatchObject({ readOnlyHint: false, idempotentHint: true });
    expect(cache.learnedAt).toBe(2);
  });

  it('keeps tools that a later list does not mention', () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['a', { readOnlyHint: true }]]));
    cache.learn(new Map([['b', {}]]));
    expect(cache.get('a')).toMatchObject({ readOnlyHint: true, seen: true });
    expect(cache.size).toBe(2);
  });

  it('hands out frozen objects, so a caller cannot change what others see', () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['t', { readOnlyHint: true }]]));
    expect(Object.isFrozen(cache.get('t'))).toBe(true);
    expect(Object.isFrozen(cache.get('never-listed'))).toBe(true);
  });

  it('keeps the header-mirrored parameters of the last list, and forgets those a tool no longer marks', () => {
    const cache = new AnnotationCache();
    const marked = { type: 'object', properties: { r: { type: 'string', 'x-mcp-header': 'Region' } } };
    expect(cache.paramHeaders('q')).toEqual([]);
    cache.learnParamHeaders(toolParamHeaders({ tools: [{ name: 'q', inputSchema: marked }, { name: 'p' }] }));
    expect(cache.paramHeaders('q').map((d) => d.header)).toEqual(['mcp-param-region']);
    expect(cache.paramHeaders('p')).toEqual([]);
    cache.learnParamHeaders(toolParamHeaders({ tools: [{ name: 'q', inputSchema: { type: 'object' } }] }));
    expect(cache.paramHeaders('q')).toEqual([]);
  });

  it('remembers a bounded number of tools, those listed longest ago forgotten first (then unseen again)', () => {
    const cache = new AnnotationCache(3);
    const marked = { type: 'object', properties: { r: { type: 'string', 'x-mcp-header': 'Region' } } };
    cache.learn(
      new Map([
        ['a', { readOnlyHint: true }],
        ['b', {}],
        ['c', {}],
      ]),
    );
    cache.learnParamHeaders(toolParamHeaders({ tools: [{ name: 'a', inputSchema: marked }] }));
    cache.learn(new Map([['a', { readOnlyHint: true }]])); // listed again: the youngest
    for (let i = 0; i < 1_000; i++) cache.learn(new Map([[`gen-${i}`, {}]]));
    expect(cache.size).toBe(3);
    expect(cache.get('a').seen).toBe(false);
    expect(cache.get('a').destructiveHint).toBe(true);
    expect(cache.paramHeaders('a')).toEqual([]);
    expect(cache.has('gen-999')).toBe(true);
    const kept = new AnnotationCache(3);
    kept.learn(
      new Map([
        ['a', {}],
        ['b', {}],
        ['c', {}],
      ]),
    );
    kept.learn(new Map([['a', {}]]));
    kept.learn(new Map([['d', {}]]));
    expect([kept.has('a'), kept.has('b'), kept.has('c'), kept.has('d')]).toEqual([true, false, true, true]);
  });

  it('learns nothing of a tool whose name is over 128 characters: it stays unseen', () => {
    const long = 'x'.repeat(MAX_TOOL_NAME_CHARS + 1);
    const kept = 'k'.repeat(MAX_TOOL_NAME_CHARS);
    const listing = {
      tools: [long, kept].map((name) => ({
        name,
        annotations: { readOnlyHint: true },
        inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
      })),
    };
    const cache = new AnnotationCache();
    cache.learn(new Map([long, kept].map((name) => [name, { readOnlyHint: true }])));
    cache.learnParamHeaders(toolParamHeaders(listing));
    cache.learnArgumentNames(toolArgumentNames(listing));
    expect(cache.size).toBe(1);
    expect(cache.has(long)).toBe(false);
    expect(cache.get(long)).toEqual({ ...DEFAULTS, seen: false });
    expect(cache.paramHeaders(long)).toEqual([]);
    expect(cache.argumentNames(long)).toBeUndefined();
    expect(cache.get(kept)).toMatchObject({ readOnlyHint: true, seen: true });
    expect(cache.paramHeaders(kept)).toHaveLength(1);
    expect(cache.argumentNames(kept)?.kept).toBe(1);
  });

  it('forgets every tool’s annotations when the upstream says its tools changed, keeping the checks they add', () => {
    const listing = {
      tools: [
        {
          name: 'wipe',
          annotations: { readOnlyHint: true },
          inputSchema: {
            type: 'object',
            properties: { tenant: { type: 'string' }, region: { type: 'string', 'x-mcp-header': 'Region' } },
          },
        },
      ],
    };
    const cache = new AnnotationCache();
    cache.learn(new Map([['wipe', { readOnlyHint: true }]]));
    cache.learnParamHeaders(toolParamHeaders(listing));
    cache.learnArgumentNames(toolArgumentNames(listing));
    expect(cache.generation).toBe(0);
    cache.toolsChanged();
    // Unseen: the MCP defaults (destructive), looked up again when called.
    expect(cache.generation).toBe(1);
    expect(cache.has('wipe')).toBe(false);
    expect(cache.size).toBe(0);
    expect(cache.get('wipe')).toEqual({ ...DEFAULTS, seen: false });
    // Its marks and argument names still check its calls until it is listed again (forgotten, none would).
    expect(cache.paramHeaders('wipe')).toHaveLength(1);
    expect(cache.argumentNames('wipe')?.names.get('tenant')).toBe('tenant');
    cache.toolsChanged();
    expect(cache.generation).toBe(2);
    cache.learn(new Map([['wipe', { destructiveHint: true }]]));
    expect(cache.get('wipe')).toMatchObject({ readOnlyHint: false, destructiveHint: true, seen: true });
  });

  it('acts on a tools change event once (a resumed stream replays it), the oldest remembered forgotten first', () => {
    const cache = new AnnotationCache();
    const listed = () => cache.learn(new Map([['read', { readOnlyHint: true }]]));
    listed();
    cache.toolsChanged({ session: 's', id: 'e-1' });
    expect([cache.generation, cache.has('read')]).toEqual([1, false]);
    listed();
    cache.toolsChanged({ session: 's', id: 'e-1' });
    expect([cache.generation, cache.has('read')]).toEqual([1, true]);
    // Another session's event, or one without an id, is another change.
    cache.toolsChanged({ session: 't', id: 'e-1' });
    cache.toolsChanged();
    expect(cache.generation).toBe(3);
    for (let i = 0; i < MAX_CHANGES_REMEMBERED; i++) cache.toolsChanged({ session: 'u', id: `${i}` });
    listed();
    cache.toolsChanged({ session: 's', id: 'e-1' });
    expect(cache.has('read')).toBe(false);
  });
});
