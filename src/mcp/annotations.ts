/**
 * Tool annotations learned from the upstream's own `tools/list` replies, fed to the policy as
 * `resource.annotations`. For a tool not seen yet, the MCP defaults apply (`readOnlyHint: false`,
 * `destructiveHint: true`, `idempotentHint: false`, `openWorldHint: true`): an unknown tool is assumed to
 * be destructive until the server says otherwise, which is the safe direction. The same replies say which
 * parameters a tool mirrors into `Mcp-Param-*` headers (param-headers.ts), and which argument names it
 * declares (argument-names.ts). All of it is bounded: by tools, by argument names all tools together, and
 * by the length of a tool's name.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../telemetry/logger.js';
import { type ArgumentNames, MAX_ARGUMENT_NAMES } from './argument-names.js';
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
 * The longest tool name learnt (MCP 2025-11-25: names SHOULD be 1 to 128 characters). A longer one is never
 * remembered, so it stays unseen — decided with the MCP defaults (destructive), its `Mcp-Param-*` marks and
 * argument spellings unknown — however often it is listed: 10,000 tools named 16 KiB each held about 170 MB.
 */
export const MAX_TOOL_NAME_CHARS = 128;

/** Whether a tool of this name is remembered when listed ({@link MAX_TOOL_NAME_CHARS}). */
export function learnableToolName(name: string): boolean {
  return name.length <= MAX_TOOL_NAME_CHARS;
}

/**
 * The annotations a call to a listed tool is decided on, which its list item is judged on too (`visible`):
 * its own hints with the MCP defaults for those it leaves out, or, for a name too long to be learnt, those
 * of a tool never seen listed.
 */
export function toolAnnotationsAsCalled(
  name: string,
  annotations: Readonly<Record<string, unknown>>,
): ToolAnnotations {
  return learnableToolName(name) ? listedToolAnnotations(annotations) : UNSEEN;
}

/**
 * Tools remembered (annotations, and header-mirrored parameters), those listed longest ago forgotten first:
 * an upstream whose tool names change (per session, generated) would otherwise grow the cache for good. A
 * forgotten tool is unseen again: decided with the MCP defaults (destructive) until it is listed again.
 */
export const MAX_KNOWN_TOOLS = 10_000;

/**
 * Declared argument names remembered, all tools together (each keeps at most `MAX_ARGUMENT_NAMES`): about
 * 35 MB with ASCII names of 128 characters, up to about 65 MB with names outside Latin-1 (two bytes a
 * character, and folded too: measured), 6 to 12 MB for short ones; 10,000 tools of 1,024 names would hold
 * gigabytes. Beyond it the tools listed longest ago are forgotten whole, as beyond `MAX_KNOWN_TOOLS`: unseen
 * again (decided with the MCP defaults, looked up at the upstream when called), rather than remembered with
 * their arguments' spellings unchecked.
 */
export const MAX_KNOWN_ARGUMENT_NAMES = 100_000;

/**
 * Tools remembered as having been warned about for declaring more than `MAX_ARGUMENT_NAMES` names (one `warn`
 * line each, not one per listing), those warned about longest ago forgotten first. With the default bounds at most 97
 * such tools are remembered at once (`MAX_KNOWN_ARGUMENT_NAMES` / 1,024), so this holds ten times as many.
 */
export const MAX_WARNED_TOOLS = 1_024;

/** What an upstream sends when its list of tools changed (MCP `ToolListChangedNotification`). */
export const TOOLS_LIST_CHANGED = 'notifications/tools/list_changed';

/**
 * {@link TOOLS_LIST_CHANGED} events acted on, remembered by session and SSE event id (their SHA-256), those
 * seen longest ago forgotten first: a stream resumed with `Last-Event-ID` replays them, and a caller could
 * otherwise have every tool forgotten as often as it liked.
 */
export const MAX_CHANGES_REMEMBERED = 1_024;

export class AnnotationCache {
  readonly #max: number;
  #tools = new Map<string, ToolAnnotations>();
  /** The parameters each listed tool mirrors into `Mcp-Param-*` headers (2026-07-28; usually none). */
  #paramHeaders = new Map<string, readonly ParamHeader[]>();
  /** The argument names each listed tool declares (argument-names.ts). */
  #argumentNames = new Map<string, ArgumentNames>();
  /** The names `#argumentNames` keeps, all tools together. */
  #argumentNameCount = 0;
  readonly #maxArgumentNames: number;
  #learnedAt = 0;
  /** Counts the upstream's {@link TOOLS_LIST_CHANGED} notifications: listings asked for before one teach nothing. */
  #generation = 0;
  readonly #logger: Logger | undefined;
  /** Tools warned about for declaring more names than are kept ({@link MAX_WARNED_TOOLS}). */
  readonly #warned = new Set<string>();
  /** The change events acted on ({@link MAX_CHANGES_REMEMBERED}). */
  readonly #changes = new Set<string>();

  constructor(max = MAX_KNOWN_TOOLS, maxArgumentNames = MAX_KNOWN_ARGUMENT_NAMES, logger?: Logger) {
    this.#max = max;
    this.#maxArgumentNames = maxArgumentNames;
    this.#logger = logger;
  }

  /** Replaces what is known about the listed tools (a full, unfiltered list from the upstream). */
  learn(tools: ReadonlyMap<string, Record<string, unknown>>, now = Date.now()): void {
    for (const [name, annotations] of tools) {
      if (!learnableToolName(name)) continue;
      // Listed again: the youngest, the last to be forgotten.
      this.#tools.delete(name);
      this.#tools.set(name, listedToolAnnotations(annotations));
    }
    while (this.#tools.size > this.#max) this.#forget(this.#tools.keys().next().value as string);
    this.#learnedAt = now;
  }

  /** Replaces what is known about the listed tools' header-mirrored parameters ({@link toolParamHeaders}). */
  learnParamHeaders(tools: ReadonlyMap<string, readonly ParamHeader[]>): void {
    for (const [name, declarations] of tools) {
      if (!learnableToolName(name)) continue;
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
      if (!learnableToolName(name)) continue;
      this.#dropArgumentNames(name);
      if (names.kept === 0 && !names.truncated) continue;
      if (names.truncated) this.#warnTruncated(name);
      this.#argumentNames.set(name, names);
      this.#argumentNameCount += names.kept;
    }
    while (this.#argumentNames.size > this.#max) {
      this.#dropArgumentNames(this.#argumentNames.keys().next().value as string);
    }
    // With the default bounds the tool listed last is never forgotten here: it keeps at most 1% of them.
    while (this.#argumentNameCount > this.#maxArgumentNames) {
      this.#forget(this.#argumentNames.keys().next().value as string);
    }
  }

  /**
   * Says once that `tool` declares more argument names than are kept: calls naming any past them are denied,
   * which only the denial said before, to the caller and in the audit record.
   */
  #warnTruncated(tool: string): void {
    if (this.#logger === undefined || this.#warned.has(tool)) return;
    this.#warned.add(tool);
    if (this.#warned.size > MAX_WARNED_TOOLS)
      this.#warned.delete(this.#warned.values().next().value as string);
    this.#logger.warn(
      { tool, kept: MAX_ARGUMENT_NAMES },
      `tool declares more than ${MAX_ARGUMENT_NAMES} argument names; the sidecar keeps the first ${MAX_ARGUMENT_NAMES} and denies calls naming any other`,
    );
  }

  /** Forgets all that is known of `tool`: it is unseen again. */
  #forget(tool: string): void {
    this.#tools.delete(tool);
    this.#paramHeaders.delete(tool);
    this.#dropArgumentNames(tool);
  }

  #dropArgumentNames(tool: string): void {
    const names = this.#argumentNames.get(tool);
    if (names === undefined) return;
    this.#argumentNames.delete(tool);
    this.#argumentNameCount -= names.kept;
  }

  /**
   * The upstream said its tools changed ({@link TOOLS_LIST_CHANGED}): every tool is unseen again — decided with
   * the MCP defaults (destructive, `seen: false`), looked up at the upstream when next called — until it is
   * listed again, rather than decided on annotations the upstream may since have changed (a read-only tool
   * made destructive). Its `Mcp-Param-*` marks and argument names are kept until then: they only add checks,
   * which an unseen tool would go without, so a caller whose tool call makes the upstream send this cannot
   * have a case-spelt argument or a header pass unchecked in the meantime. Listings under way when it came teach
   * nothing ({@link generation}). `event`, the session and SSE event id it came as, is acted on once: a stream
   * resumed with `Last-Event-ID` replays it, and what was listed since is not forgotten again.
   */
  toolsChanged(event?: { readonly session: string; readonly id: string }): void {
    if (event !== undefined) {
      const key = createHash('sha256').update(`${event.session}\n${event.id}`).digest('base64url');
      if (this.#changes.has(key)) return;
      this.#changes.add(key);
      if (this.#changes.size > MAX_CHANGES_REMEMBERED)
        this.#changes.delete(this.#changes.values().next().value as string);
    }
    this.#generation++;
    if (this.#tools.size === 0) return;
    this.#logger?.info(
      { tools: this.#tools.size },
      'upstream tools changed (notifications/tools/list_changed): tool annotations forgotten until listed again',
    );
    this.#tools.clear();
  }

  /**
   * How many times the upstream said its tools changed: a listing asked for under another generation may
   * predate the change, and is not learnt.
   */
  get generation(): number {
    return this.#generation;
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
