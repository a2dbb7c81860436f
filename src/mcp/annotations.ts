/**
 * Tool annotations learned from the upstream's own `tools/list` replies, fed to the policy as
 * `resource.annotations`. For a tool not seen yet, the MCP defaults apply (`readOnlyHint: false`,
 * `destructiveHint: true`, `idempotentHint: false`, `openWorldHint: true`): an unknown tool is assumed to
 * be destructive until the server says otherwise, which is the safe direction. The same replies say which
 * parameters a tool mirrors into `Mcp-Param-*` headers (param-headers.ts).
 *
 * @module
 */
import type { ArgumentNames } from './argument-names.js';
import type { ParamHeader } from './param-headers.js';

export type ToolAnnotations = Readonly<Record<string, unknown>>;

/** The MCP specification's defaults for absent annotation hints. */
export const MCP_DEFAULT_ANNOTATIONS: ToolAnnotations = Object.freeze({
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
});

/** What a decision sees of a listed tool's annotations: the MCP defaults for the hints it leaves out. */
export function listedToolAnnotations(annotations: Readonly<Record<string, unknown>>): ToolAnnotations {
  return Object.freeze({ ...MCP_DEFAULT_ANNOTATIONS, ...annotations, seen: true });
}

/**
 * Tools remembered (annotations, and header-mirrored parameters), those listed longest ago forgotten first:
 * an upstream whose tool names change (per session, generated) would otherwise grow the cache for good. A
 * forgotten tool is unseen again: decided with the MCP defaults (destructive) until it is listed again.
 */
export const MAX_KNOWN_TOOLS = 10_000;

export class AnnotationCache {
  readonly #max: number;
  #tools = new Map<string, ToolAnnotations>();
  /** The parameters each listed tool mirrors into `Mcp-Param-*` headers (2026-07-28; usually none). */
  #paramHeaders = new Map<string, readonly ParamHeader[]>();
  /** The argument names each listed tool declares (argument-names.ts). */
  #argumentNames = new Map<string, ArgumentNames>();
  #learnedAt = 0;

  constructor(max = MAX_KNOWN_TOOLS) {
    this.#max = max;
  }

  /** Replaces what is known about the listed tools (a full, unfiltered list from the upstream). */
  learn(tools: ReadonlyMap<string, Record<string, unknown>>, now = Date.now()): void {
    for (const [name, annotations] of tools) {
      // Listed again: the youngest, the last to be forgotten.
      this.#tools.delete(name);
      this.#tools.set(name, listedToolAnnotations(annotations));
    }
    while (this.#tools.size > this.#max) {
      const oldest = this.#tools.keys().next().value as string;
      this.#tools.delete(oldest);
      this.#paramHeaders.delete(oldest);
      this.#argumentNames.delete(oldest);
    }
    this.#learnedAt = now;
  }

  /** Replaces what is known about the listed tools' header-mirrored parameters ({@link toolParamHeaders}). */
  learnParamHeaders(tools: ReadonlyMap<string, readonly ParamHeader[]>): void {
    for (const [name, declarations] of tools) {
      this.#paramHeaders.delete(name);
      if (declarations.length > 0) this.#paramHeaders.set(name, declarations);
    }
    while (this.#paramHeaders.size > this.#max) {
      this.#paramHeaders.delete(this.#paramHeaders.keys().next().value as string);
    }
  }

  /** Replaces what is known about the listed tools' declared argument names ({@link toolArgumentNames}). */
  learnArgumentNames(tools: ReadonlyMap<string, ArgumentNames>): void {
    for (const [name, names] of tools) {
      this.#argumentNames.delete(name);
      if (names.size > 0) this.#argumentNames.set(name, names);
    }
    while (this.#argumentNames.size > this.#max) {
      this.#argumentNames.delete(this.#argumentNames.keys().next().value as string);
    }
  }

  /** The argument names `tool` declares; undefined for a tool never listed or declaring none. */
  argumentNames(tool: string): ArgumentNames | undefined {
    return this.#argumentNames.get(tool);
  }

  /** The parameters `tool` mirrors into headers; none for a tool never listed or marking none. */
  paramHeaders(tool: string): readonly ParamHeader[] {
    return this.#paramHeaders.get(tool) ?? NONE;
  }

  has(tool: string): boolean {
    return this.#tools.has(tool);
  }

  /** Annotations for `tool` with MCP defaults filled in; `seen: false` marks a tool never listed. */
  get(tool: string): ToolAnnotations {
    return this.#tools.get(tool) ?? UNSEEN;
  }

  get size(): number {
    return this.#tools.size;
  }

  get learnedAt(): number {
    return this.#learnedAt;
  }
}

const NONE: readonly ParamHeader[] = Object.freeze([]);
const UNSEEN: ToolAnnotations = Object.freeze({ ...MCP_DEFAULT_ANNOTATIONS, seen: false });
