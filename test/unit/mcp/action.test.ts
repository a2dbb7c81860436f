import { describe, expect, it } from 'vitest';
import { COMPLETION_REF_NEEDED, classify, isRecord, malformedParams } from '../../../src/mcp/action.js';

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

describe('classify completion/complete', () => {
  const argument = { name: 'tenant', value: 'ac' };

  it('decides a ref/prompt as its prompt, with the argument completed and the context arguments', () => {
    const params = {
      ref: { type: 'ref/prompt', name: 'summarize' },
      argument,
      context: { arguments: { lang: 'en' } },
    };
    expect(classify('completion/complete', 4, params)).toEqual({
      method: 'completion/complete',
      id: 4,
      prompt: 'summarize',
      argument,
      arguments: { lang: 'en' },
      resource: { kind: 'prompt', name: 'summarize' },
    });
  });

  it('decides a ref/resource as the resource template it writes, as resources/templates/list names it', () => {
    const params = { ref: { type: 'ref/resource', uri: 'crm://{tenant}/customers/{id}' }, argument };
    expect(classify('completion/complete', 5, params)).toEqual({
      method: 'completion/complete',
      id: 5,
      uri: 'crm://{tenant}/customers/{id}',
      argument,
      arguments: {},
      resource: { kind: 'resource_template', name: 'crm://{tenant}/customers/{id}' },
    });
  });

  it('shows an argument name or value that is no string as empty, and no context as no arguments', () => {
    const params = {
      ref: { type: 'ref/prompt', name: 'p' },
      argument: { name: 7, value: null },
      context: [],
    };
    expect(classify('completion/complete', 6, params)).toMatchObject({
      argument: { name: '', value: '' },
      arguments: {},
    });
    expect(classify('completion/complete', 6, { ref: { type: 'ref/prompt', name: 'p' } })).toMatchObject({
      argument: { name: '', value: '' },
      arguments: {},
    });
  });

  it.each([
    ['no ref', { argument }],
    ['a ref that is no object', { ref: 'ref/prompt', argument }],
    ['a ref of another type', { ref: { type: 'ref/tool', name: 'delete_customer' }, argument }],
    ['a ref/prompt without a name', { ref: { type: 'ref/prompt', uri: 'x' }, argument }],
    ['a ref/resource whose uri is no string', { ref: { type: 'ref/resource', uri: ['x'] }, argument }],
  ])('gives %s no item, and no prompt, uri or arguments', (_label, params) => {
    expect(classify('completion/complete', 7, params)).toEqual({
      method: 'completion/complete',
      id: 7,
      resource: { kind: 'method', name: 'completion/complete' },
    });
    expect(malformedParams('completion/complete', params)).toBe(COMPLETION_REF_NEEDED);
  });
});

describe('malformedParams', () => {
  it('refuses arguments that are no object, of a call, a prompt, or a completion context', () => {
    expect(malformedParams('tools/call', { name: 'echo', arguments: ['x'] })).toBe(
      'arguments must be a JSON object',
    );
    expect(malformedParams('prompts/get', { name: 'p', arguments: 'x' })).toBe(
      'arguments must be a JSON object',
    );
    const ref = { type: 'ref/prompt', name: 'p' };
    const argument = { name: 'id', value: 'c' };
    expect(malformedParams('completion/complete', { ref, argument, context: { arguments: ['acme'] } })).toBe(
      'context.arguments must be a JSON object',
    );
    expect(malformedParams('completion/complete', { ref, argument, context: 'acme' })).toBe(
      'context must be a JSON object',
    );
  });

  it.each([
    ['no argument', undefined],
    ['an argument that is no object', 'id'],
    ['a name that is no string', { name: ['tenant'], value: '' }],
    ['a value that is no string', { name: 'id', value: { $gt: '' } }],
    ['no value', { name: 'id' }],
  ])('refuses a completion with %s: the policy would see it as an empty string', (_label, argument) => {
    const ref = { type: 'ref/prompt', name: 'p' };
    expect(malformedParams('completion/complete', { ref, argument })).toBe(
      'completion/complete needs the argument being completed ({"name": …, "value": …}, both strings)',
    );
  });

  it('passes what the Action shows as it is, and other methods', () => {
    expect(malformedParams('tools/call', { name: 'echo', arguments: { a: 1 } })).toBeUndefined();
    expect(malformedParams('tools/call', { name: 'echo', arguments: null })).toBeUndefined();
    expect(malformedParams('tools/call', undefined)).toBeUndefined();
    const ref = { type: 'ref/resource', uri: 'file:///{path}' };
    const argument = { name: 'path', value: '' };
    expect(
      malformedParams('completion/complete', { ref, argument, context: { arguments: { a: 'b' } } }),
    ).toBeUndefined();
    expect(malformedParams('completion/complete', { ref, argument })).toBeUndefined();
    expect(malformedParams('completion/complete', { ref, argument, context: null })).toBeUndefined();
    expect(malformedParams('ping', { ref: 'x', arguments: 'y' })).toBeUndefined();
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
