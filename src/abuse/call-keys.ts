/**
 * The pending-count keys of a caller's tool calls, remembered per principal. Every allowed call is counted
 * for the `tool_calls` rules, and building its target (three encoded parts joined) and each rule's key (a
 * new string, hashed again by every Map lookup) cost more than the count itself. A principal is one object
 * per credential in the token and key caches, so a caller's next call of the same tool finds the same key
 * strings (their hashes kept by V8) without building anything.
 *
 * At most {@link MAX_REMEMBERED_TOOLS} tools are remembered per principal (then its memory starts again);
 * a principal that leaves the caches takes its entry with it (a WeakMap).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../authn/principal.js';
import { cutText } from '../cut-text.js';
import { encodePart } from '../store/key-parts.js';
import type { CompiledRule } from './rules.js';
import { MAX_TARGET_TOOL_CHARS, UNLISTED_TOOLS } from './targets.js';

/** Tools remembered per principal: a caller naming more is served as before, its memory cleared. */
export const MAX_REMEMBERED_TOOLS = 32;

/** Who a call's counts are about, and the key of each rule that counts it. */
export interface CallKeys {
  readonly subject: string;
  readonly tenant: string | null;
  /** The tool as a trip reports it: cut to {@link MAX_TARGET_TOOL_CHARS}, or {@link UNLISTED_TOOLS}. */
  readonly tool: string;
  /** Per rule, in the order the memo was given them: its pending key, or undefined when it does not count the tool. */
  readonly keys: readonly (string | undefined)[];
}

interface Remembered {
  readonly listed: Map<string, CallKeys>;
  unlisted: CallKeys | undefined;
}

export class CallKeyMemo {
  readonly #rules: readonly CompiledRule[];
  /** Each rule's key prefix (`<encoded rule name>:`), built once. */
  readonly #prefixes: readonly string[];
  readonly #byPrincipal = new WeakMap<Principal, Remembered>();

  constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules;
    this.#prefixes = rules.map((r) => `${encodePart(r.rule.name)}:`);
  }

  /** The keys of `subject`'s call of `tool` (a tool never listed counts as {@link UNLISTED_TOOLS}). */
  keys(p: Principal, subject: string, tool: string, listed: boolean): CallKeys {
    let memo = this.#byPrincipal.get(p);
    if (memo === undefined) {
      memo = { listed: new Map(), unlisted: undefined };
      this.#byPrincipal.set(p, memo);
    }
    if (!listed) {
      memo.unlisted ??= this.#build(p, subject, tool, false);
      return memo.unlisted;
    }
    // A long name is built each time: the memory holds only names of a usual length.
    if (tool.length > MAX_TARGET_TOOL_CHARS) return this.#build(p, subject, tool, true);
    let k = memo.listed.get(tool);
    if (k === undefined) {
      if (memo.listed.size >= MAX_REMEMBERED_TOOLS) memo.listed.clear();
      k = this.#build(p, subject, tool, true);
      memo.listed.set(tool, k);
    }
    return k;
  }

  #build(p: Principal, subject: string, tool: string, listed: boolean): CallKeys {
    const long = listed && tool.length > MAX_TARGET_TOOL_CHARS;
    const counted = !listed
      ? UNLISTED_TOOLS
      : long
        ? `sha256:${createHash('sha256').update(tool).digest('base64url')}`
        : tool;
    const target = `${encodePart(p.tenant)}/${encodePart(subject)}/${encodePart(counted)}`;
    const keys = this.#rules.map((rule, i) =>
      // A rule counting only some tools matches the name as called (an unlisted one too, as before).
      rule.matchesTool(tool) ? `${this.#prefixes[i]}${target}` : undefined,
    );
    const shown = !listed ? UNLISTED_TOOLS : cutText(tool, MAX_TARGET_TOOL_CHARS);
    return { subject, tenant: p.tenant, tool: shown, keys };
  }
}
