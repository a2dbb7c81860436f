/**
 * Randomized (seeded, deterministic) checks of the JSON text scanner, the repeated-key refusal and the
 * `_meta` trace-context rewrite against JSON.parse and against the offsets the generator itself wrote.
 */
import { describe, expect, it } from 'vitest';
import { checkDuplicateKeys } from '../../../src/mcp/json-keys.js';
import {
  arrayElements,
  keysInText,
  objectMembers,
  rewrittenText,
  skipValue,
} from '../../../src/mcp/json-scan.js';
import { parseBody } from '../../../src/mcp/jsonrpc.js';
import { withOwnTraceContext } from '../../../src/mcp/meta-trace.js';

// ---------------------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32)

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j] as T, a[i] as T];
    }
    return a;
  }
}

// ---------------------------------------------------------------------------------------------------------
// A generator of valid JSON text that records where every value and member it wrote starts and ends.

type Node =
  | { kind: 'scalar'; start: number; end: number }
  | { kind: 'array'; start: number; end: number; elements: Node[] }
  | { kind: 'object'; start: number; end: number; members: Member[] };

interface Member {
  key: string;
  start: number;
  keyEnd: number;
  value: Node;
}

const SPACE = [' ', '\t', '\r', '\n'];
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};
/** Characters strings are made of: JSON's delimiters, what must be escaped, non-ASCII, astral. */
const STRING_CHARS = [
  'a',
  'z',
  '0',
  ' ',
  ':',
  ',',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '/',
  '\b',
  '\f',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '€',
  '\u2028',
  '\u2029',
  '\ufeff',
  'ſ',
  '\u212a',
  '😀',
  '𝄞',
];
/**
 * Keys: no two of these differ only in case (the parser refuses such objects), some are escaped-equal to
 * others once encoded differently, and several are names JS objects treat specially.
 */
const KEYS = [
  'a',
  'b',
  'id',
  'name',
  '_meta',
  'params',
  'x:y',
  '{"}[]',
  ' :',
  '',
  'é',
  '😀',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '0',
  '1',
  '01',
  'a\\b',
  'q"q',
  '\u2028',
  'ſx',
];

function hex4(cp: number, rng: Rng): string {
  const h = cp.toString(16).padStart(4, '0');
  return rng.chance(0.5) ? h : h.toUpperCase();
}

/** `s` as a JSON string literal, each character encoded at random: raw, short escape or \u escape. */
function encodeString(s: string, rng: Rng): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    const mustEscape = cp < 0x20 || ch === '"' || ch === '\\';
    const r = rng.next();
    if (cp > 0xffff) {
      // Astral: raw (a surrogate pair in the JS text) or both halves escaped.
      out += r < 0.5 ? ch : `\\u${hex4(ch.charCodeAt(0), rng)}\\u${hex4(ch.charCodeAt(1), rng)}`;
    } else if (!mustEscape && r < 0.6) {
      out += ch;
    } else if (SHORT_ESCAPES[ch] !== undefined && r < 0.85) {
      out += SHORT_ESCAPES[ch];
    } else {
      out += `\\u${hex4(cp, rng)}`;
    }
  }
  return `${out}"`;
}

function randomString(rng: Rng, max = 6): string {
  let s = '';
  const n = rng.int(max + 1);
  for (let i = 0; i < n; i++) s += rng.pick(STRING_CHARS);
  // Long runs of backslashes before a quote.
  if (rng.chance(0.1)) s += `${'\\'.repeat(rng.int(9))}"`;
  return s;
}

function randomNumber(rng: Rng): string {
  let t = rng.chance(0.3) ? '-' : '';
  t += rng.chance(0.3) ? '0' : String(1 + rng.int(9)) + String(rng.int(1000)).slice(0, rng.int(4));
  if (rng.chance(0.3)) t += `.${String(rng.int(1000)).padStart(1 + rng.int(3), '0')}`;
  if (rng.chance(0.3)) t += `${rng.pick(['e', 'E'])}${rng.pick(['', '+', '-'])}${rng.int(40)}`;
  return t;
}

interface GenOptions {
  /** Chance that an object repeats one of its keys (spelled alike or escaped differently). */
  repeatChance: number;
  maxDepth: number;
}

class Gen {
  out = '';
  /** How many members the text holds (repeats included). */
  members = 0;
  /** How many objects repeat a key. */
  repeats = 0;
  readonly rng: Rng;
  readonly opts: GenOptions;
  constructor(rng: Rng, opts: GenOptions) {
    this.rng = rng;
    this.opts = opts;
  }

  write(s: string): void {
    this.out += s;
  }
  ws(): void {
    if (this.rng.chance(0.5)) return;
    const n = 1 + this.rng.int(3);
    for (let i = 0; i < n; i++) this.write(this.rng.pick(SPACE));
  }

  value(depth: number): Node {
    const r = this.rng.next();
    if (depth < this.opts.maxDepth && r < 0.25) return this.object(depth + 1);
    if (depth < this.opts.maxDepth && r < 0.4) return this.array(depth + 1);
    return this.scalar();
  }

  scalar(text?: string): Node {
    const start = this.out.length;
    if (text === undefined) {
      const r = this.rng.next();
      if (r < 0.45) text = encodeString(randomString(this.rng), this.rng);
      else if (r < 0.8) text = randomNumber(this.rng);
      else text = this.rng.pick(['true', 'false', 'null']);
    }
    this.write(text);
    return { kind: 'scalar', start, end: this.out.length };
  }

  array(depth: number, elements?: (() => Node)[]): Node {
    const start = this.out.length;
    this.write('[');
    this.ws();
    const writers = elements ?? Array.from({ length: this.rng.int(5) }, () => () => this.value(depth));
    const nodes: Node[] = [];
    writers.forEach((w, i) => {
      if (i > 0) {
        this.write(',');
        this.ws();
      }
      nodes.push(w());
      this.ws();
    });
    this.write(']');
    return { kind: 'array', start, end: this.out.length, elements: nodes };
  }

  /**
   * An object: `fixed` members first (in a random order with the random ones), their keys encoded at random;
   * may repeat a key when the options say so.
   */
  object(depth: number, fixed: [string, () => Node][] = [], randomCount?: number): Node {
    const used = new Set(fixed.map(([k]) => k));
    const entries: [string, () => Node][] = [...fixed];
    const n = randomCount ?? this.rng.int(5);
    for (let i = 0; i < n; i++) {
      const k = this.rng.chance(0.85) ? this.rng.pick(KEYS) : randomString(this.rng, 4);
      if (used.has(k) || [...used].some((u) => u !== k && u.toLowerCase() === k.toLowerCase())) continue;
      if (!/^[^A-Z\u0080-\uffff]*$/.test(k) && !KEYS.includes(k)) continue; // keep clear of case folding
      if (k.includes('\u0000')) continue; // the parser refuses a key holding U+0000 (jsonrpc.test.ts)
      used.add(k);
      entries.push([k, () => this.value(depth)]);
    }
    this.rng.shuffle(entries);
    if (entries.length > 0 && this.rng.chance(this.opts.repeatChance)) {
      const [k] = this.rng.pick(entries);
      entries.splice(this.rng.int(entries.length + 1), 0, [k, () => this.value(depth)]);
      this.repeats++;
    }
    const start = this.out.length;
    this.write('{');
    this.ws();
    const members: Member[] = [];
    entries.forEach(([k, w], i) => {
      if (i > 0) {
        this.write(',');
        this.ws();
      }
      const mStart = this.out.length;
      this.write(encodeString(k, this.rng));
      const keyEnd = this.out.length;
      this.ws();
      this.write(':');
      this.ws();
      members.push({ key: k, start: mStart, keyEnd, value: w() });
      this.members++;
      this.ws();
    });
    this.write('}');
    return { kind: 'object', start, end: this.out.length, members };
  }

  /** A whole text: one value with space around it. */
  document(top: () => Node): Node {
    this.ws();
    const node = top();
    this.ws();
    return node;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A canonical form of a JSON value (keys sorted; `__proto__` as an ordinary key). */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return Object.is(v, -0) ? '-0' : JSON.stringify(v);
}

/** How many keys JSON.parse's objects hold in all. */
function parsedKeys(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, e) => n + parsedKeys(e), 0);
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  for (const k of Object.keys(v)) n += 1 + parsedKeys((v as Record<string, unknown>)[k]);
  return n;
}

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** Where the space before `i` starts. */
function spaceBefore(t: string, i: number): number {
  while (i > 0 && isWs(t[i - 1])) i--;
  return i;
}

/**
 * An independent reference: the index after the JSON value at `i` (after space), by recursive descent.
 * Throws on anything that is not JSON.
 */
function refEnd(t: string, i: number): number {
  const sp = (j: number): number => {
    while (isWs(t[j])) j++;
    return j;
  };
  const str = (j: number): number => {
    if (t[j] !== '"') throw new Error(`string expected at ${j}`);
    for (j++; j < t.length; j++) {
      if (t[j] === '\\') j++;
      else if (t[j] === '"') return j + 1;
    }
    throw new Error('unterminated string');
  };
  const val = (j: number): number => {
    j = sp(j);
    const c = t[j];
    if (c === '"') return str(j);
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      j = sp(j + 1);
      if (t[j] === close) return j + 1;
      for (;;) {
        if (c === '{') {
          j = sp(str(j));
          if (t[j] !== ':') throw new Error(`colon expected at ${j}`);
          j++;
        }
        j = sp(val(j));
        if (t[j] === close) return j + 1;
        if (t[j] !== ',') throw new Error(`comma expected at ${j}`);
        j = sp(j + 1);
      }
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(t.slice(j));
    if (!m) throw new Error(`value expected at ${j}`);
    return j + m[0].length;
  };
  return val(i);
}

/** Checks every scanner function on `node` and all below it. */
function checkNode(t: string, node: Node): void {
  const before = spaceBefore(t, node.start);
  expect(skipValue(t, node.start)).toBe(node.end);
  expect(skipValue(t, before)).toBe(node.end);
  expect(refEnd(t, before)).toBe(node.end);
  if (node.kind === 'object') {
    const members = objectMembers(t, before);
    expect(members).toBeDefined();
    expect(members).toHaveLength(node.members.length);
    expect(arrayElements(t, before)).toBeUndefined();
    node.members.forEach((m, i) => {
      const got = members?.[i];
      expect(got?.key).toBe(m.key);
      expect(got?.key).toBe(JSON.parse(t.slice(m.start, m.keyEnd)));
      expect(got?.start).toBe(m.start);
      expect(got?.value).toBe(m.value.start);
      expect(got?.end).toBe(m.value.end);
      // The span is a member on its own: `{<member>}` parses to that one key and its value.
      const span = t.slice(got?.start ?? 0, got?.end ?? 0);
      const alone = JSON.parse(`{${span}}`) as Record<string, unknown>;
      expect(Object.keys(alone)).toEqual([m.key]);
      expect(canon(alone[m.key])).toBe(canon(JSON.parse(t.slice(m.value.start, m.value.end))));
      checkNode(t, m.value);
    });
  } else if (node.kind === 'array') {
    expect(arrayElements(t, before)).toEqual(node.elements.map((e) => e.start));
    expect(objectMembers(t, before)).toBeUndefined();
    for (const e of node.elements) checkNode(t, e);
  } else {
    expect(objectMembers(t, before)).toBeUndefined();
    expect(arrayElements(t, before)).toBeUndefined();
    expect(() => JSON.parse(t.slice(node.start, node.end))).not.toThrow();
  }
}

// ---------------------------------------------------------------------------------------------------------
// MCP message bodies

const TRACE_VARIANTS: Record<string, string[]> = {
  traceparent: ['traceparent', 'Traceparent', 'TRACEPARENT', 'traceParent'],
  tracestate: ['tracestate', 'TraceState', 'traceſtate', 'TRACEſTATE', 'tracesTate'],
  baggage: ['baggage', 'Baggage', 'BAGGAGE', 'bagGage'],
};
/** `_meta` spelt otherwise is refused by the parser (json-keys.ts), for another reason than a repeat. */
const META_VARIANTS = ['_meta'];
/** _meta keys that are not trace context (none folds to a trace key or to another). */
const META_OTHERS = ['progressToken', 'a', 'x:y', 'trace', 'traceparents', 'bag', 'baggage2', 'é', 'ſx'];

/** The reference of Go's folding for the keys used here. */
const fold = (k: string): string => k.toLowerCase().replace(/ſ/g, 's');
const TRACE = new Set(['traceparent', 'tracestate', 'baggage']);

interface MessageOut {
  /** The `_meta` value of its params, when it has one. */
  meta?: Node;
  /** Whether it is a request or notification whose params._meta is an object with a trace key. */
  carries: boolean;
}

function message(g: Gen, kind: 'request' | 'notification' | 'response', id: string, out: MessageOut[]): Node {
  const rng = g.rng;
  const result: MessageOut = { carries: false };
  const fixed: [string, () => Node][] = [['jsonrpc', () => g.scalar(encodeString('2.0', rng))]];
  if (kind !== 'notification') fixed.push(['id', () => g.scalar(id)]);
  if (kind === 'response') {
    // A client's answer: its result may hold a _meta with a trace key, which is never rewritten.
    fixed.push([
      'result',
      () => g.object(3, [['_meta', () => g.object(4, [['traceparent', () => g.scalar('"client"')]], 0)]]),
    ]);
  } else {
    fixed.push([
      'method',
      () => g.scalar(encodeString(kind === 'request' ? 'tools/call' : 'notifications/progress', rng)),
    ]);
    if (rng.chance(0.9)) fixed.push(['params', () => params(g, result)]);
  }
  out.push(result);
  return g.object(2, fixed, 0);
}

function params(g: Gen, result: MessageOut): Node {
  const rng = g.rng;
  const fixed: [string, () => Node][] = [];
  if (rng.chance(0.85)) {
    const metaKey = rng.pick(META_VARIANTS);
    fixed.push([
      metaKey,
      () => {
        const start = g.out.length;
        if (rng.chance(0.1)) {
          // No object: a string, array or null _meta is not trace context.
          const node = rng.chance(0.5) ? g.scalar(rng.pick(['null', '"traceparent"', '1'])) : g.array(4);
          result.meta = node;
          return node;
        }
        const members: [string, () => Node][] = [];
        for (const variants of Object.values(TRACE_VARIANTS)) {
          if (rng.chance(0.4)) members.push([rng.pick(variants), () => g.value(5)]);
        }
        for (const k of META_OTHERS) if (rng.chance(0.2)) members.push([k, () => g.value(5)]);
        const node = g.object(4, members, 0);
        result.meta = node;
        result.carries = members.some(([k]) => TRACE.has(fold(k)));
        expect(node.start).toBe(start);
        return node;
      },
    ]);
  }
  // A decoy: trace context in the arguments' own _meta is the tool's business, never rewritten.
  if (rng.chance(0.3)) {
    fixed.push([
      'arguments',
      () => g.object(4, [['_meta', () => g.object(5, [['traceparent', () => g.scalar('"decoy"')]], 0)]]),
    ]);
  }
  return g.object(3, fixed);
}

/** A body of one message or a batch; `out` gets each message's _meta. */
function body(g: Gen, out: MessageOut[]): Node {
  const rng = g.rng;
  const kinds = ['request', 'request', 'notification', 'response'] as const;
  if (rng.chance(0.6))
    return g.document(() => message(g, rng.chance(0.8) ? 'request' : 'notification', '1', out));
  const n = 1 + rng.int(4);
  return g.document(() =>
    g.array(
      1,
      Array.from(
        { length: n },
        (_, i) => () => message(g, rng.pick(kinds), rng.chance(0.5) ? `${i}` : `"r${i}"`, out),
      ),
    ),
  );
}

/** What the forwarded body must parse to: `text` parsed, the trace keys of each params._meta replaced. */
function expectedAfterRewrite(text: string, headers: Record<string, string>): unknown {
  const copy = JSON.parse(text) as unknown;
  const messages = (Array.isArray(copy) ? copy : [copy]) as Record<string, unknown>[];
  for (const m of messages) {
    if (!('method' in m)) continue;
    const p = m.params as Record<string, unknown> | undefined;
    if (!p) continue;
    const metaKey = Object.keys(p).find((k) => fold(k) === '_meta');
    const meta = metaKey === undefined ? undefined : p[metaKey];
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) continue;
    const o = meta as Record<string, unknown>;
    const trace = Object.keys(o).filter((k) => TRACE.has(fold(k)));
    if (trace.length === 0) continue;
    for (const k of trace) delete o[k];
    if (headers.traceparent !== undefined) {
      o.traceparent = headers.traceparent;
      if (headers.tracestate !== undefined) o.tracestate = headers.tracestate;
    }
  }
  return copy;
}

const OWN = '00-11111111111111111111111111111111-2222222222222222-01';
const HEADERS: Record<string, string>[] = [
  {},
  { traceparent: OWN },
  { traceparent: OWN, tracestate: 'sc=1,"q"' },
  { tracestate: 'alone' },
];

// ---------------------------------------------------------------------------------------------------------

describe('json-scan agrees with JSON.parse on random valid JSON', () => {
  it('skipValue, objectMembers, arrayElements and keysInText on 2,000 random texts', () => {
    const rng = new Rng(0x5eed1);
    let objects = 0;
    for (let n = 0; n < 2000; n++) {
      const g = new Gen(rng, { repeatChance: 0, maxDepth: 1 + rng.int(5) });
      const node = g.document(() => g.value(0));
      const t = g.out;
      const parsed = JSON.parse(t) as unknown;
      expect(keysInText(t), t).toBe(g.members);
      expect(keysInText(t), t).toBe(parsedKeys(parsed));
      expect(() => checkDuplicateKeys(t, parsedKeys(parsed)), t).not.toThrow();
      expect(skipValue(t, 0), t).toBe(node.end);
      checkNode(t, node);
      if (node.kind === 'object') objects++;
    }
    expect(objects).toBeGreaterThan(200);
  });

  it('counts every key of a text that repeats keys, and checkDuplicateKeys refuses exactly those', () => {
    const rng = new Rng(0x5eed2);
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      const g = new Gen(rng, { repeatChance: 0.3, maxDepth: 2 + rng.int(3) });
      const node = g.document(() => g.value(0));
      const t = g.out;
      const parsed = JSON.parse(t) as unknown;
      expect(keysInText(t), t).toBe(g.members);
      checkNode(t, node);
      if (g.repeats > 0) {
        expect(parsedKeys(parsed), t).toBeLessThan(g.members);
        expect(() => checkDuplicateKeys(t, parsedKeys(parsed)), t).toThrow(/an object repeats a key/);
        refused++;
      } else {
        expect(parsedKeys(parsed), t).toBe(g.members);
        expect(() => checkDuplicateKeys(t, parsedKeys(parsed)), t).not.toThrow();
      }
    }
    expect(refused).toBeGreaterThan(200);
  });
});

describe('parseBody refuses exactly the bodies whose objects repeat a key', () => {
  it('on 2,000 random MCP bodies, single and batched, repeats anywhere (message, params, nested)', () => {
    const rng = new Rng(0x5eed3);
    let refused = 0;
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      const g = new Gen(rng, { repeatChance: rng.chance(0.5) ? 0 : 0.08, maxDepth: 7 });
      body(g, []);
      const t = g.out;
      expect(() => JSON.parse(t), t).not.toThrow();
      if (g.repeats > 0) {
        expect(() => parseBody(Buffer.from(t)), t).toThrow(/an object repeats a key/);
        refused++;
      } else {
        const parsed = parseBody(Buffer.from(t));
        const json = JSON.parse(t) as unknown;
        expect(parsed.batch).toBe(Array.isArray(json));
        expect(parsed.messages).toHaveLength(Array.isArray(json) ? json.length : 1);
        accepted++;
      }
    }
    expect(refused).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(300);
  });
});

describe('withOwnTraceContext on random bodies', () => {
  it('rewrites exactly the trace keys of each params._meta and leaves every other byte as sent', () => {
    const rng = new Rng(0x5eed4);
    let rewritten = 0;
    let untouched = 0;
    for (let n = 0; n < 2000; n++) {
      const g = new Gen(rng, { repeatChance: 0, maxDepth: 7 });
      const messages: MessageOut[] = [];
      body(g, messages);
      const t = g.out;
      const input = Buffer.from(t, 'utf8');
      const parsed = parseBody(input);
      const headers = rng.pick(HEADERS);
      const output = withOwnTraceContext(input, parsed, headers);
      const out = output.toString('utf8');
      const expected = expectedAfterRewrite(t, headers);
      expect(canon(JSON.parse(out)), t).toBe(canon(expected));
      // The output is still one the parser accepts (no repeated or case-colliding keys introduced).
      expect(() => parseBody(output), out).not.toThrow();

      const carrying = messages.filter((m) => m.carries);
      if (carrying.length === 0) {
        expect(output, t).toBe(input);
        untouched++;
        continue;
      }
      rewritten++;
      // Byte for byte outside each rewritten _meta object; inside, a JSON object holding the kept members'
      // own bytes.
      let pos = 0;
      let prev = 0;
      for (const m of carrying) {
        const meta = m.meta as Node & { kind: 'object' };
        const seg = t.slice(prev, meta.start);
        expect(out.slice(pos, pos + seg.length), t).toBe(seg);
        pos += seg.length;
        expect(out[pos], t).toBe('{');
        const end = refEnd(out, pos);
        const replaced = out.slice(pos, end);
        for (const member of meta.members) {
          if (TRACE.has(fold(member.key))) continue;
          expect(replaced, t).toContain(t.slice(member.start, member.value.end));
        }
        expect(replaced.toLowerCase()).not.toContain('"baggage"');
        pos = end;
        prev = meta.end;
      }
      expect(out.slice(pos), t).toBe(t.slice(prev));
      // And as bytes: up to the first rewritten _meta and after the last, the very bytes received.
      const firstMeta = carrying[0]?.meta;
      if (!firstMeta) throw new Error('no message carries trace context');
      const first = firstMeta.start;
      const head = Buffer.byteLength(t.slice(0, first));
      const tail = Buffer.byteLength(t.slice(prev));
      expect(output.subarray(0, head).equals(input.subarray(0, head))).toBe(true);
      expect(output.subarray(output.length - tail).equals(input.subarray(input.length - tail))).toBe(true);
    }
    expect(rewritten).toBeGreaterThan(500);
    expect(untouched).toBeGreaterThan(200);
  });
});

describe('rewrittenText on random batches', () => {
  /**
   * A rewrite of `before` as the reply filter makes one: each element kept (the same object), dropped, or
   * replaced by a new value; kept ones at times repeated or moved.
   */
  function rewrite(rng: Rng, before: unknown[]): unknown[] {
    const after: unknown[] = [];
    for (const m of before) {
      const r = rng.next();
      if (r < 0.45) after.push(m);
      else if (r < 0.6) continue;
      else if (r < 0.85)
        after.push(typeof m === 'object' && m !== null ? { ...m, rewritten: [1, '"],['] } : m);
      else after.push(rng.pick([{ fresh: '\\"' }, ['[', ']'], 2 ** 60, 'x', null]));
    }
    if (after.length > 1 && rng.chance(0.2)) after.push(after[rng.int(after.length)]);
    return rng.chance(0.2) ? rng.shuffle(after) : after;
  }

  it('gives exactly the rewrite, each kept element as written, on 3,000 random batches', () => {
    const rng = new Rng(0x5eed5);
    for (let n = 0; n < 3000; n++) {
      const g = new Gen(rng, { repeatChance: 0.1, maxDepth: 1 + rng.int(4) });
      const elements = Array.from(
        { length: rng.int(6) },
        () => () => (rng.chance(0.8) ? g.object(1) : g.value(1)),
      );
      const node = g.document(() => g.array(0, elements));
      const t = g.out;
      const before = JSON.parse(t) as unknown[];
      const after = rewrite(rng, before);
      const out = rewrittenText(t, before, after);
      const spans = node.kind === 'array' ? node.elements : [];
      const expected = after.map((m) => {
        const i = typeof m === 'object' && m !== null ? before.indexOf(m) : -1;
        const span = spans[i];
        return span ? t.slice(span.start, span.end) : JSON.stringify(m);
      });
      expect(out, t).toBe(`[${expected.join(',')}]`);
      // Kept messages parse to the very values judged (-0 included); the rest to their JSON.stringify.
      const values = after.map((m) =>
        typeof m === 'object' && m !== null && before.includes(m)
          ? m
          : (JSON.parse(JSON.stringify(m)) as unknown),
      );
      expect(canon(JSON.parse(out)), t).toBe(canon(values));
    }
  });

  it('serialises the rewrite of a value that is no batch, and of an empty batch', () => {
    const before = JSON.parse(' { "id" : 1 } ') as unknown;
    expect(rewrittenText(' { "id" : 1 } ', before, { id: 2 })).toBe('{"id":2}');
    expect(rewrittenText(' [ ] ', JSON.parse(' [ ] '), [])).toBe('[]');
    expect(rewrittenText('[{"a":1}]', JSON.parse('[{"a":1}]'), { a: 1 })).toBe('{"a":1}');
  });

  it('runs in linear time on a large batch of hostile strings, half of it rewritten', () => {
    const n = 5_000;
    const t = `[${Array.from({ length: n }, (_, i) => `{"id":${i},"s":"${'\\\\\\"],['.repeat(20)}"}`).join(' , ')}]`;
    const before = JSON.parse(t) as Record<string, unknown>[];
    const after = before.map((m, i) => (i % 2 === 0 ? m : { ...m, s: '' }));
    const t0 = performance.now();
    const out = rewrittenText(t, before, after);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(canon(JSON.parse(out))).toBe(canon(after));
  });
});

describe('edges JSON.parse accepts', () => {
  it('handles a top-level scalar with space around it, and space-only padding around containers', () => {
    for (const t of [
      ' 1 ',
      '\t-0\n',
      ' "a\\"b" ',
      '\r\ntrue',
      'null ',
      ' 1E+5',
      '0.5e-3\t',
      ' {} ',
      '[ ]\n',
    ]) {
      JSON.parse(t);
      expect(skipValue(t, 0), JSON.stringify(t)).toBe(t.trimEnd().length);
      expect(keysInText(t)).toBe(0);
    }
  });

  it('scans 10,000 levels of nesting without recursion (and the parser refuses beyond 128)', () => {
    const depth = 10_000;
    const t = `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
    expect(skipValue(t, 0)).toBe(t.length);
    expect(keysInText(t)).toBe(depth);
    expect(objectMembers(t, 0)?.[0]?.end).toBe(t.length - 1);
    expect(() => parseBody(Buffer.from(t))).toThrow(/deeper than 128/);
  });

  it('refuses a repeated __proto__ key and accepts a single one', () => {
    const msg = (params: string) =>
      Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"ping","params":${params}}`);
    expect(() => parseBody(msg('{"__proto__":{},"__proto__":{"_meta":{"baggage":"a"}}}'))).toThrow(
      /an object repeats a key/,
    );
    expect(() => parseBody(msg('{"__proto__":1,"__pro\\u0074o__":2}'))).toThrow(/an object repeats a key/);
    expect(parseBody(msg('{"__proto__":{"_meta":{"traceparent":"x"}}}')).messages).toHaveLength(1);
    // A _meta under __proto__ is no params._meta: nothing to rewrite.
    const b = msg('{"__proto__":{"_meta":{"traceparent":"x"}}}');
    expect(withOwnTraceContext(b, parseBody(b), { traceparent: OWN })).toBe(b);
  });

  it('scans keys and strings holding lone surrogate escapes (which the parser then refuses)', () => {
    const t = '{"\\ud800":"\\udc00\\"","b":{"\\uDBFF\\":":1}}';
    expect(keysInText(t)).toBe(3);
    expect(objectMembers(t, 0)?.map((m) => m.key)).toEqual(['\ud800', 'b']);
    expect(objectMembers(t, t.indexOf('{', 1))?.[0]?.key).toBe('\udbff":');
    expect(() =>
      parseBody(Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":${t}}}`)),
    ).toThrow(/lone UTF-16 surrogate/);
  });

  it('refuses a BOM before the body (JSON.parse does), so the scanner never has to skip one', () => {
    expect(() => parseBody(Buffer.from('\ufeff{"jsonrpc":"2.0","id":1,"method":"ping"}'))).toThrow(
      /not valid JSON/,
    );
  });
});

describe('cost: linear in the body', () => {
  const time = (f: () => void): number => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  // Generous bounds: a quadratic scan of these megabyte inputs takes minutes.
  const BOUND_MS = 500;

  it('skips long runs of backslashes and escaped quotes in strings', () => {
    const n = 500_000;
    for (const t of [
      `"${'\\\\'.repeat(n)}"`,
      `"${'\\"'.repeat(n)}"`,
      `"${'\\\\\\"'.repeat(n / 2)}"`,
      `[${Array.from({ length: n / 10 }, () => '"\\\\\\\\\\\\\\""').join(',')}]`,
      `{${Array.from({ length: n / 10 }, (_, i) => `"k${i}\\\\":"\\":"`).join(',')}}`,
    ]) {
      JSON.parse(t);
      expect(time(() => skipValue(t, 0))).toBeLessThan(BOUND_MS);
      expect(time(() => keysInText(t))).toBeLessThan(BOUND_MS);
      expect(skipValue(t, 0)).toBe(t.length);
    }
  });

  it('refuses or accepts a body of many colons in strings, and many members, in linear time', () => {
    const n = 100_000;
    const colons = Buffer.from(
      `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"${':'.repeat(n)}","b":${JSON.stringify(
        Array.from({ length: n / 10 }, (_, i) => `${i}:${i}`),
      )}}}`,
    );
    expect(time(() => parseBody(colons))).toBeLessThan(BOUND_MS);
    const members = `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    expect(time(() => objectMembers(members, 0))).toBeLessThan(BOUND_MS);
    expect(objectMembers(members, 0)).toHaveLength(n);
  });

  it('rewrites a batch of many messages each carrying trace context in linear time', () => {
    const n = 5_000;
    const text = `[${Array.from(
      { length: n },
      (_, i) =>
        `{"jsonrpc":"2.0","id":${i},"method":"ping","params":{"x":"${'\\\\'.repeat(20)}","_meta":{"baggage":"a","k":${i}}}}`,
    ).join(',')}]`;
    const b = Buffer.from(text);
    const parsed = parseBody(b, n);
    let out: Buffer = Buffer.alloc(0);
    expect(time(() => (out = withOwnTraceContext(b, parsed, { traceparent: OWN })))).toBeLessThan(BOUND_MS);
    const json = JSON.parse(out.toString()) as { params: { _meta: unknown } }[];
    expect(json[n - 1]?.params._meta).toEqual({ k: n - 1, traceparent: OWN });
  });
});
