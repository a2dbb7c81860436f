import { describe, expect, it } from 'vitest';
import { classify, isRecord } from '../../../src/mcp/action.js';

describe('classify', () => {
  it('classifies tools/call by tool name with its arguments', () => {
    expect(classify('tools/call', 1, { name: 'delete_repo', arguments: { repo: 'a' } })).toEqual({
      method: 'tools/call',
      id: 1,
      tool: 'delete_repo',
      arguments: { repo: 'a' },
      resource: { kind: 'tool', name: 'delete_repo' },
    });
  });

  it('classifies prompts/get by prompt name', () => {
    expect(classify('prompts/get', 'p', { name: 'summarize', arguments: { lang: 'en' } })).toEqual({
      method: 'prompts/get',
      id: 'p',
      prompt: 'summarize',
      arguments: { lang: 'en' },
      resource: { kind: 'prompt', name: 'summarize' },
    });
  });

  it.each(['resources/read', 'resources/subscribe', 'resources/unsubscribe'])(
    'classifies %s by uri',
    (method) => {
      expect(classify(method, 3, { uri: 'file:///etc/hosts' })).toEqual({
        method,
        id: 3,
        uri: 'file:///etc/hosts',
        resource: { kind: 'resource', name: 'file:///etc/hosts' },
      });
    },
  );

  it.each(['initialize', 'tools/list', 'resources/templates/list', 'ping', 'completion/complete'])(
    'classifies %s as the method itself, without tool, prompt or uri',
    (method) => {
      const a = classify(method, null, { name: 'x', uri: 'y' });
      expect(a).toEqual({ method, id: null, resource: { kind: 'method', name: method } });
      expect(a.tool).toBeUndefined();
    },
  );

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an array', ['delete_repo']],
    ['a string', 'delete_repo'],
  ])('falls back to empty names when params is %s', (_label, params) => {
    expect(classify('tools/call', 1, params)).toMatchObject({
      tool: '',
      arguments: {},
      resource: { name: '' },
    });
    expect(classify('prompts/get', 1, params)).toMatchObject({ prompt: '', arguments: {} });
    expect(classify('resources/read', 1, params)).toMatchObject({
      uri: '',
      resource: { kind: 'resource', name: '' },
    });
  });

  it('ignores names, uris and arguments of the wrong type', () => {
    expect(classify('tools/call', 1, { name: 42, arguments: ['a'] })).toMatchObject({
      tool: '',
      arguments: {},
      resource: { kind: 'tool', name: '' },
    });
    expect(classify('prompts/get', 1, { name: { x: 1 }, arguments: 'x' })).toMatchObject({
      prompt: '',
      arguments: {},
    });
    expect(classify('resources/read', 1, { uri: 7 })).toMatchObject({ uri: '' });
  });
});

describe('isRecord', () => {
  it('accepts plain objects only', () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord([])).toBe(false);
    expect(isRecord(null)).toBe(false);
    expect(isRecord('x')).toBe(false);
  });
});
