/**
 * The `data` document of a bundle from its `data.json` files, merged as OPA merges them: the root one must
 * hold an object, a nested one (`a/b/data.json`) may hold any JSON value and is placed at `data.a.b`, objects
 * merge key by key at any depth, and a value defined twice is an error naming where.
 *
 * @module
 */
import { posix } from 'node:path';
import { BundleError } from './bundle.js';

/**
 * Merges every `data.json` of `files` (paths relative to the bundle root), in path order; `read` parses each
 * (`exact-data.ts` passes one that keeps integers beyond 2^53 as written).
 */
export function mergeDataFiles(
  files: ReadonlyMap<string, Buffer>,
  source: string,
  read: (text: string) => unknown = JSON.parse,
): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (posix.basename(path) !== 'data.json') continue;
    let doc: unknown;
    const text = content.toString('utf8');
    try {
      doc = read(text);
    } catch (err) {
      throw new BundleError(`bundle ${source}: ${path} is not valid JSON${jsonErrorWhere(text, err)}`, {
        cause: err,
      });
    }
    const dir = posix.dirname(path);
    mergeAt(data, dir === '.' ? [] : dir.split('/'), doc, `${source}/${path}`);
  }
  return data;
}

/**
 * Where JSON.parse stopped in `text`, for a policy author hunting a typo: ` at line L, column C: <message>`
 * (Node names only the offset), or `: <message>` when the message has no offset.
 */
function jsonErrorWhere(text: string, err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const at = /at position (\d+)/.exec(message);
  if (!at) return `: ${message}`;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/s, '')}`;
}

/**
 * Merges `doc` into `target` at `path`, as OPA does with a bundle's `data.json` files: the root document
 * must be an object; a nested one (`a/b/data.json`) may be any JSON value and is placed at `a.b`; objects on
 * both sides merge key by key, at any depth; two values of which one is not an object conflict. Keys are
 * set as own properties, never through the prototype chain (a folder named `__proto__` reaches no prototype).
 */
function mergeAt(target: Record<string, unknown>, path: string[], doc: unknown, where: string): void {
  const last = path.at(-1);
  if (last === undefined) {
    if (!isObject(doc)) throw new BundleError(`bundle ${where} must hold a JSON object (it is the root)`);
    mergeInto(target, doc, where);
    return;
  }
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) setOwn(node, key, {});
    else if (!isObject(next))
      throw new BundleError(`bundle data conflict at ${where}: ${key} is not an object`);
    node = node[key] as Record<string, unknown>;
  }
  mergeInto(node, { [last]: doc }, where);
}

function mergeInto(node: Record<string, unknown>, doc: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(doc)) {
    if (!Object.hasOwn(node, k)) setOwn(node, k, v);
    else if (isObject(node[k]) && isObject(v)) mergeInto(node[k] as Record<string, unknown>, v, where);
    else throw new BundleError(`bundle data conflict at ${where}: key ${k} defined twice`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The first data path the manifest's `roots` do not cover, or undefined when every one is covered (or the
 * manifest names no roots, or the root `""`, which covers all). OPA refuses such a bundle ("manifest roots …
 * do not permit data at path …"): roots are how bundles from several sources stay apart.
 */
export function pathOutsideRoots(
  data: Record<string, unknown>,
  roots: readonly string[] | undefined,
): string | undefined {
  if (roots === undefined) return undefined;
  const split = roots.map((r) => r.replace(/^\/+|\/+$/g, '')).map((r) => (r === '' ? [] : r.split('/')));
  if (split.some((r) => r.length === 0)) return undefined;
  const walk = (node: unknown, path: string[]): string | undefined => {
    // Under a root: covered, whatever lies below.
    if (split.some((r) => r.length <= path.length && r.every((part, i) => part === path[i])))
      return undefined;
    // On the way to a root: each key below must be covered in turn; anything else here is not.
    const onTheWay = split.some((r) => r.length > path.length && path.every((part, i) => part === r[i]));
    if (!onTheWay || !isObject(node)) return `/${path.join('/')}`;
    for (const [key, child] of Object.entries(node)) {
      const outside = walk(child, [...path, key]);
      if (outside !== undefined) return outside;
    }
    return undefined;
  };
  for (const [key, child] of Object.entries(data)) {
    const outside = walk(child, [key]);
    if (outside !== undefined) return outside;
  }
  return undefined;
}
