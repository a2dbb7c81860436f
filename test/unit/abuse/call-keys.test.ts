/**
 * A caller's tool-call counts are keyed the same whether their keys were just built or remembered: the memo
 * hands back the same key strings for the same principal and tool, names each rule that counts the tool,
 * keeps callers apart, and stays bounded (long names built each time, at most MAX_REMEMBERED_TOOLS a caller).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CallKeyMemo, MAX_REMEMBERED_TOOLS } from '../../../src/abuse/call-keys.js';
import { compileRules } from '../../../src/abuse/rules.js';
import { MAX_TARGET_TOOL_CHARS, UNLISTED_TOOLS } from '../../../src/abuse/targets.js';
import type { Principal } from '../../../src/authn/principal.js';
import { cutText } from '../../../src/cut-text.js';

const rules = compileRules([
  { name: 'burst', kind: 'tool_calls', threshold: 100, windowSec: 60, action: 'alert' },
  { name: 'deletes/min', kind: 'tool_calls', tool: 'delete_*', threshold: 5, windowSec: 60, action: 'alert' },
]);

const principal = (id: string, tenant: string | null): Principal => ({
  id,
  tenant,
  roles: ['user'],
  scopes: [],
  clearance: null,
  authMethod: 'jwt',
  claims: {},
});

describe('CallKeyMemo', () => {
  it('keys a call per rule that counts its tool, as the pending counts name it', () => {
    const memo = new CallKeyMemo(rules);
    const alice = principal('alice@example.com', 'acme');
    expect(memo.keys(alice, 'alice@example.com', 'echo', true)).toEqual({
      subject: 'alice@example.com',
      tenant: 'acme',
      tool: 'echo',
      keys: ['burst:acme/alice%40example.com/echo', undefined],
    });
    expect(memo.keys(alice, 'alice@example.com', 'delete_file', true).keys).toEqual([
      'burst:acme/alice%40example.com/delete_file',
      'deletes%2Fmin:acme/alice%40example.com/delete_file',
    ]);
    expect(memo.keys(alice, 'alice@example.com', 'delete_anything', false)).toEqual({
      subject: 'alice@example.com',
      tenant: 'acme',
      tool: UNLISTED_TOOLS,
      keys: [
        'burst:acme/alice%40example.com/(unlisted%20tools)',
        'deletes%2Fmin:acme/alice%40example.com/(unlisted%20tools)',
      ],
    });
  });

  it('hands back the same keys for the same principal and tool, and keeps principals apart', () => {
    const memo = new CallKeyMemo(rules);
    const alice = principal('alice', 'acme');
    const first = memo.keys(alice, 'alice', 'echo', true);
    expect(memo.keys(alice, 'alice', 'echo', true)).toBe(first);
    const bob = principal('bob', null);
    expect(memo.keys(bob, 'bob', 'echo', true).keys[0]).toBe('burst:/bob/echo');
    expect(memo.keys(alice, 'alice', 'echo', true)).toBe(first);
  });

  it('counts a long name under its hash, built each time; forgets the tools of a caller past the bound', () => {
    const memo = new CallKeyMemo(rules);
    const alice = principal('alice', 'acme');
    const long = 'x'.repeat(MAX_TARGET_TOOL_CHARS + 1);
    const k = memo.keys(alice, 'alice', long, true);
    const hash = createHash('sha256').update(long).digest('base64url');
    expect(k.keys[0]).toBe(`burst:acme/alice/sha256%3A${hash}`);
    expect(k.tool).toBe(cutText(long, MAX_TARGET_TOOL_CHARS));
    expect(memo.keys(alice, 'alice', long, true)).not.toBe(k);
    const echo = memo.keys(alice, 'alice', 'echo', true);
    for (let i = 1; i < MAX_REMEMBERED_TOOLS; i++) memo.keys(alice, 'alice', `tool${i}`, true);
    expect(memo.keys(alice, 'alice', 'echo', true)).toBe(echo);
    memo.keys(alice, 'alice', 'one-too-many', true);
    const again = memo.keys(alice, 'alice', 'echo', true);
    expect(again).not.toBe(echo);
    expect(again).toEqual(echo);
  });
});
