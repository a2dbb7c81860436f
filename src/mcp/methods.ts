/**
 * The MCP client request methods (revisions 2025-06-18 … 2026-07-28). A fixed vocabulary for what callers
 * may not choose freely: metric labels, and rate-limit buckets (an invented method name must not get a
 * bucket of its own).
 *
 * @module
 */

export const MCP_METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'tasks/update',
  'server/discover',
  'subscriptions/listen',
] as const;

const KNOWN: ReadonlySet<string> = new Set(MCP_METHODS);

/** Whether `method` is one of {@link MCP_METHODS}. */
export function isMcpMethod(method: string): boolean {
  return KNOWN.has(method);
}
