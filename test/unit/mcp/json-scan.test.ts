import { describe, expect, it } from 'vitest';
import {
  arrayElements,
  keysInText,
  objectMembers,
  roundedInteger,
  skipValue,
} from '../../../src/mcp/json-scan.js';
import { parseBody } from '../../../src/mcp/jsonrpc.js';

describe('json-scan: members found in the text of valid JSON', () => {
  it('skips any value: strings with escaped quotes and backslashes, nesting, numbers and literals', () => {
    const t = ' {"a":"x\\"}]\\\\","b":[1,{"c":"]}"}],"d":-1.5e3,"e":true} ,';
    expect(skipValue(t, 0)).toBe(t.lastIndexOf('}') + 1);
    expect(skipValue('12.5e-3 ,', 0)).toBe(7);
    expect(skipValue('null]', 0)).toBe(4);
    expect(skipValue('"a\\\\"x', 0)).toBe(5);
  });

  it('lists an object’s members with decoded keys and the span of each, whatever the spacing', () => {
    const t = '{ "a" : 1 ,\n "\\u005fmeta":{"x":"}"} ,"c":[ ] }';
    const members = objectMembers(t, 0) ?? [];
    expect(members.map((m) => m.key)).toEqual(['a', '_meta', 'c']);
    expect(members.map((m) => t.slice(m.start, m.end))).toEqual([
      '"a" : 1',
      '"\\u005fmeta":{"x":"}"}',
      '"c":[ ]',
    ]);
    expect(members.map((m) => t[m.value])).toEqual(['1', '{', '[']);
    expect(objectMembers('{}', 0)).toEqual([]);
    expect(objectMembers(' [1]', 0)).toBeUndefined();
  });

  it('finds where each element of an array starts', () => {
    const t = '[ {"a":"],"} , 2,"x" ]';
    expect((arrayElements(t, 0) ?? []).map((i) => t[i])).toEqual(['{', '2', '"']);
    expect(arrayElements('[]', 0)).toEqual([]);
    expect(arrayElements('{}', 0)).toBeUndefined();
  });

  it('finds the first integer literal a double cannot hold, skipping strings, fractions and exponents', () => {
    expect(roundedInteger('{"a":9007199254740992,"b":"9007199254740993","c":-9007199254740993}')).toBe(
      '-9007199254740993',
    );
    expect(
      roundedInteger('[1152921504606846976,9007199254740993.0,9007199254740993e0,1e300,-0]'),
    ).toBeUndefined();
    expect(roundedInteger('{"k\\\\":"9007199254740993","n":[123456789012345678]}')).toBe(
      '123456789012345678',
    );
  });

  it('counts the keys of the text: colons outside strings only', () => {
    expect(keysInText('{"a":"12:00","b":{"c\\":":"https://x"}}')).toBe(3);
    expect(keysInText('[1,2]')).toBe(0);
  });
});

describe('parseBody: repeated keys', () => {
  const body = (params: string) =>
    Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${params}}`);

  it('refuses an object that repeats a key, at any depth, spelled alike or escaped', () => {
    for (const params of [
      '{"name":"read_customer","name":"delete_customer"}',
      '{"name":"e","arguments":{"a":{"x":1,"x":2}}}',
      '{"name":"e","arguments":{"tenant":"acme","t\\u0065nant":"globex"}}',
      '{"name":"e","arguments":{"at":"12:00","at":"13:00"}}',
    ]) {
      expect(() => parseBody(body(params)), params).toThrow(/an object repeats a key/);
    }
  });

  it('takes colons in strings and the same key in different objects for what they are', () => {
    const params = '{"name":"e","arguments":{"url":"https://x:8080/a","a":{"k":1},"b":{"k":"12:00"}}}';
    expect(parseBody(body(params)).messages).toHaveLength(1);
  });
});
