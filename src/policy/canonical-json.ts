/**
 * The bytes OPA hashes for a structured bundle file (`data.json`, `.manifest`) when it signs or verifies a
 * bundle (OPA v1/bundle/hash.go `walk`): the file is parsed (Go's encoding/json with UseNumber, so a number
 * stays the literal written in the source: `1.0`, `1e2`, `-0` and big integers are not reformatted) and
 * written again with object keys sorted by their UTF-8 bytes (Go's `slices.Sort` of strings), no whitespace,
 * and strings as Go's encoder writes them with HTML escaping off: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
 * other control characters as `\u00xx`, U+2028/U+2029 as `\u2028`/`\u2029`, everything else as raw UTF-8.
 * A key given twice keeps its last value (a Go map). A lone surrogate escape decodes to U+FFFD, as in Go.
 *
 * Refused (an error, never a different hash): text that is not JSON (OPA would try it as YAML) and bytes
 * that are not valid UTF-8 (Go and the WHATWG decoder replace them differently).
 *
 * @module
 */

type Node =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'array'; readonly items: Node[] }
  | { readonly kind: 'object'; readonly entries: Map<string, Node> };

/** A literal as written: Go keeps a number's text (json.Number), so `1.0` is hashed as `1.0`. */
const SCALAR = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The canonical form OPA hashes of the JSON document `bytes` (a UTF-8 BOM is skipped, as OPA does). */
export function canonicalJson(bytes: Uint8Array): Buffer {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new Error('not valid UTF-8');
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  JSON.parse(text); // validates (same grammar as Go's json.Valid); the tokenizer below trusts it
  const parser = new Tokenizer(text);
  const node = parser.value();
  return Buffer.from(write(node), 'utf8');
}

class Tokenizer {
  #pos = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  value(): Node {
    this.#skipSpace();
    const c = this.#text[this.#pos];
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return { kind: 'literal', text: goString(this.#string()) };
    SCALAR.lastIndex = this.#pos;
    const m = SCALAR.exec(this.#text);
    if (!m) throw new Error(`unexpected JSON at offset ${this.#pos}`);
    this.#pos += m[0].length;
    return { kind: 'literal', text: m[0] };
  }

  #object(): Node {
    this.#pos++; // {
    const entries = new Map<string, Node>();
    this.#skipSpace();
    if (this.#text[this.#pos] === '}') {
      this.#pos++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.#skipSpace();
      const key = this.#string();
      this.#skipSpace();
      this.#pos++; // :
      entries.delete(key); // last one wins; its order does not matter, keys are sorted
      entries.set(key, this.value());
      this.#skipSpace();
      if (this.#text[this.#pos++] === '}') return { kind: 'object', entries };
    }
  }

  #array(): Node {
    this.#pos++; // [
    const items: Node[] = [];
    this.#skipSpace();
    if (this.#text[this.#pos] === ']') {
      this.#pos++;
      return { kind: 'array', items };
    }
    for (;;) {
      items.push(this.value());
      this.#skipSpace();
      if (this.#text[this.#pos++] === ']') return { kind: 'array', items };
    }
  }

  /** A string literal's value, lone surrogates replaced by U+FFFD (Go's decoder does that). */
  #string(): string {
    const start = this.#pos;
    let i = start + 1;
    for (;;) {
      const c = this.#text[i];
      if (c === '\\') i += 2;
      else if (c === '"') break;
      else i++;
    }
    this.#pos = i + 1;
    return wellFormed(JSON.parse(this.#text.slice(start, i + 1)) as string);
  }

  #skipSpace(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.#pos++;
    }
  }
}

/** `s` with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, not in lib ES2023). */
function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function write(node: Node): string {
  switch (node.kind) {
    case 'literal':
      return node.text;
    case 'array':
      return `[${node.items.map(write).join(',')}]`;
    case 'object': {
      const keys = [...node.entries.keys()]
        .map((k) => ({ k, b: Buffer.from(k, 'utf8') }))
        .sort((x, y) => Buffer.compare(x.b, y.b));
      return `{${keys.map(({ k }) => `${goString(k)}:${write(node.entries.get(k) as Node)}`).join(',')}}`;
    }
  }
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** A string as Go's encoding/json writes it with SetEscapeHTML(false). */
export function goString(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is escaped
  const escaped = s.replace(/["\\\u0000-\u001f\u2028\u2029]/g, (c) => {
    return SHORT_ESCAPES[c] ?? `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `"${escaped}"`;
}
