import { describe, expect, it } from 'vitest';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { misspeltArgument, toolArgumentNames } from '../../../src/mcp/argument-names.js';

const listed = {
  tools: [
    { name: 'find', inputSchema: { type: 'object', properties: { tenant: {}, userId: {}, class: {} } } },
    { name: 'bare', inputSchema: { type: 'object' } },
    { name: 'odd', inputSchema: { type: 'object', properties: { Mode: {}, mode: {} } } },
  ],
};

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
  });

  it('is remembered per listed tool, forgotten when a listing declares none', () => {
    const cache = new AnnotationCache();
    cache.learnArgumentNames(names);
    expect(cache.argumentNames('find')?.get('userid')).toBe('userId');
    expect(cache.argumentNames('bare')).toBeUndefined();
    cache.learnArgumentNames(toolArgumentNames({ tools: [{ name: 'find', inputSchema: {} }] }));
    expect(cache.argumentNames('find')).toBeUndefined();
  });
});
