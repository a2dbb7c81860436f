import { describe, expect, it, vi } from 'vitest';
import { MAX_TOOL_NAME_CHARS, MCP_DEFAULT_ANNOTATIONS } from '../../../src/mcp/annotations.js';
import {
  filterListResult,
  isListMethod,
  LIST_METHODS,
  type ListItem,
  type ListMethod,
  toolAnnotations,
} from '../../../src/mcp/list-filter.js';

const notSecret = (item: ListItem) => !item.name.includes('secret');

const CASES: readonly [ListMethod, string, string, string][] = [
  ['tools/list', 'tools', 'name', 'tool'],
  ['prompts/list', 'prompts', 'name', 'prompt'],
  ['resources/list', 'resources', 'uri', 'resource'],
  ['resources/templates/list', 'resourceTemplates', 'uriTemplate', 'resource_template'],
];

describe('isListMethod', () => {
  it.each(CASES.map((c) => c[0]))('accepts %s', (m) => {
    expect(isListMethod(m)).toBe(true);
  });

  it.each(['tools/call', 'resources/read', 'constructor', 'toString', '__proto__', ''])('refuses %j', (m) => {
    expect(isListMethod(m)).toBe(false);
  });
});

describe('filterListResult', () => {
  it('knows exactly the four MCP list methods', () => {
    expect(Object.keys(LIST_METHODS).sort()).toEqual(CASES.map((c) => c[0]).sort());
  });

  it.each(CASES)('%s keeps visible items of result.%s, keyed by %s', (method, field, key, kind) => {
    const keep = { [key]: 'public-1', annotations: { readOnlyHint: true } };
    const result = { [field]: [keep, { [key]: 'secret-1' }], nextCursor: 'c2' };
    const visible = vi.fn(notSecret);

    const out = filterListResult(method, result, visible);

    expect(out).toEqual({ result: { [field]: [keep], nextCursor: 'c2' }, total: 2, kept: 1 });
    // An item is judged on what a call to it would be decided on: a tool on the MCP defaults for hints it
    // leaves out, a prompt or resource on none (its get or read is decided on none).
    const tool = kind === 'tool';
    expect(visible).toHaveBeenCalledWith({
      kind,
      name: 'public-1',
      annotations: tool ? { ...MCP_DEFAULT_ANNOTATIONS, readOnlyHint: true, seen: true } : {},
    });
    expect(visible).toHaveBeenCalledWith({
      kind,
      name: 'secret-1',
      annotations: tool ? { ...MCP_DEFAULT_ANNOTATIONS, seen: true } : {},
    });
  });

  it.each(CASES)('%s drops items without a string %3$s without asking the policy', (method, field, key) => {
    const items = [{ [key]: 'ok' }, { other: 'x' }, { [key]: 5 }, 'a string', null, ['array']];
    const visible = vi.fn(() => true);

    const out = filterListResult(method, { [field]: items }, visible);

    expect(out.result).toEqual({ [field]: [{ [key]: 'ok' }] });
    expect(out).toMatchObject({ total: 6, kept: 1 });
    expect(visible).toHaveBeenCalledTimes(1);
  });

  it('prunes every list field of the result, not only the one its method names', () => {
    // A reply routed under a reused id: a tools/list result pruned as if it answered prompts/list.
    const result = {
      tools: [{ name: 'public-tool' }, { name: 'secret-tool' }],
      prompts: [{ name: 'secret-prompt' }],
      resources: 'not a list',
    };
    const out = filterListResult('prompts/list', result, notSecret);
    expect(out).toEqual({
      result: { tools: [{ name: 'public-tool' }], prompts: [], resources: [] },
      total: 3,
      kept: 1,
    });
    expect(filterListResult('tools/list', { tools: 'x', nextCursor: 'c' }, notSecret).result).toEqual({
      tools: [],
      nextCursor: 'c',
    });
  });

  it('passes non-object annotations to the policy as none (the MCP defaults, for a tool)', () => {
    const visible = vi.fn(() => true);
    filterListResult('tools/list', { tools: [{ name: 'a', annotations: ['x'] }] }, visible);
    expect(visible).toHaveBeenCalledWith({
      kind: 'tool',
      name: 'a',
      annotations: { ...MCP_DEFAULT_ANNOTATIONS, seen: true },
    });
    filterListResult('prompts/list', { prompts: [{ name: 'p', annotations: 'x' }] }, visible);
    expect(visible).toHaveBeenCalledWith({ kind: 'prompt', name: 'p', annotations: {} });
    // Listed annotations of a resource are not what a read of it is decided on: not passed either.
    filterListResult(
      'resources/list',
      { resources: [{ uri: 'docs://a', annotations: { audience: ['user'], internal: true } }] },
      visible,
    );
    expect(visible).toHaveBeenCalledWith({ kind: 'resource', name: 'docs://a', annotations: {} });
  });

  it('judges a tool named too long to be learnt on the annotations of an unseen tool, as its call is decided', () => {
    const long = 'x'.repeat(MAX_TOOL_NAME_CHARS + 1);
    const kept = 'k'.repeat(MAX_TOOL_NAME_CHARS);
    const readOnly = { readOnlyHint: true, destructiveHint: false };
    const seen: ListItem[] = [];
    const out = filterListResult(
      'tools/list',
      {
        tools: [
          { name: long, annotations: readOnly },
          { name: kept, annotations: readOnly },
        ],
      },
      (item) => {
        seen.push(item);
        return item.annotations?.destructiveHint === false;
      },
    );
    expect(seen).toEqual([
      { kind: 'tool', name: long, annotations: { ...MCP_DEFAULT_ANNOTATIONS, seen: false } },
      { kind: 'tool', name: kept, annotations: { ...MCP_DEFAULT_ANNOTATIONS, ...readOnly, seen: true } },
    ]);
    // The caller may not see a destructive tool: the long one is removed, as its call would be refused.
    expect(out.result).toEqual({ tools: [{ name: kept, annotations: readOnly }] });
  });

  it('lists a resource under its canonical URI, the only form a read of it is accepted in', () => {
    const visible = vi.fn(() => true);
    const out = filterListResult(
      'resources/list',
      { resources: [{ uri: 'file:///home/ann/My Notes.md', name: 'notes' }, { uri: 'crm://customers/c-1' }] },
      visible,
    );
    expect(out.result).toEqual({
      resources: [{ uri: 'file:///home/ann/My%20Notes.md', name: 'notes' }, { uri: 'crm://customers/c-1' }],
    });
    expect(visible).toHaveBeenCalledWith({
      kind: 'resource',
      name: 'file:///home/ann/My%20Notes.md',
      annotations: {},
    });
    // Templates are not URIs: left as they are.
    const templates = { resourceTemplates: [{ uriTemplate: 'file:///{+path}' }] };
    expect(filterListResult('resources/templates/list', templates, () => true).result).toEqual(templates);
  });

  it('does not change the input result', () => {
    const result = { tools: [{ name: 'a' }, { name: 'secret' }] };
    filterListResult('tools/list', result, notSecret);
    expect(result.tools).toHaveLength(2);
  });

  it.each([
    ['null', null],
    ['a string', 'tools'],
    ['an array', [{ name: 'a' }]],
    ['an object without the field', { items: [{ name: 'a' }] }],
    ['an object whose field is not an array', { tools: { name: 'a' } }],
  ])('counts nothing for a result that is %s', (_label, result) => {
    const visible = vi.fn(() => true);
    expect(filterListResult('tools/list', result, visible)).toMatchObject({ total: 0, kept: 0 });
    expect(visible).not.toHaveBeenCalled();
  });

  it('marks the result private when the upstream set cacheScope', () => {
    const out = filterListResult('tools/list', { tools: [], cacheScope: 'public', ttlMs: 60_000 }, notSecret);
    expect(out.result).toEqual({ tools: [], cacheScope: 'private', ttlMs: 60_000 });
  });

  it('marks the result private when the upstream set only ttlMs', () => {
    const out = filterListResult('prompts/list', { prompts: [], ttlMs: 1000 }, notSecret);
    expect(out.result).toEqual({ prompts: [], ttlMs: 1000, cacheScope: 'private' });
  });

  it('adds no cacheScope when the upstream uses no caching fields', () => {
    const out = filterListResult('tools/list', { tools: [{ name: 'secret' }] }, notSecret);
    expect(out.result).not.toHaveProperty('cacheScope');
  });
});

describe('toolAnnotations', () => {
  it('maps each named tool to its annotations, or {} when it has none', () => {
    const map = toolAnnotations({
      tools: [
        { name: 'read', annotations: { readOnlyHint: true } },
        { name: 'write' },
        { name: 'odd', annotations: 'x' },
        { annotations: { readOnlyHint: true } },
        { name: 3 },
        'junk',
      ],
    });
    expect([...map]).toEqual([
      ['read', { readOnlyHint: true }],
      ['write', {}],
      ['odd', {}],
    ]);
  });

  it.each([null, 'x', [], {}, { tools: 'x' }])('returns an empty map for %j', (result) => {
    expect(toolAnnotations(result).size).toBe(0);
  });
});
