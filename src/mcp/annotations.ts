/**
 * Tool annotations learned from the upstream's own `tools/list` replies, fed to the policy as
 * `resource.annotations`. For a tool not seen yet, the MCP defaults apply (`readOnlyHint: false`,
 * `destructiveHint: true`, `idempotentHint: false`, `openWorldHint: true`): an unknown tool is assumed to
 * be destructive until the server says otherwise, which is the safe direction.
 *
 * @module
 */

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

export class AnnotationCache {
  #tools = new Map<string, ToolAnnotations>();
  #learnedAt = 0;

  /** Replaces what is known about the listed tools (a full, unfiltered list from the upstream). */
  learn(tools: ReadonlyMap<string, Record<string, unknown>>, now = Date.now()): void {
    for (const [name, annotations] of tools) {
      this.#tools.set(name, listedToolAnnotations(annotations));
    }
    this.#learnedAt = now;
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

const UNSEEN: ToolAnnotations = Object.freeze({ ...MCP_DEFAULT_ANNOTATIONS, seen: false });
