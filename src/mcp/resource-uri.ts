/**
 * Resource URIs in canonical form. The MCP TypeScript SDK server matches a requested URI after
 * `new URL(uri).toString()`, so `CRM://customers/c-1`, `crm://customers/./c-1` or ` crm://customers/c-1`
 * reach the same resource as `crm://customers/c-1` — while a policy matching URIs as text would judge them
 * as something else (an unknown resource, of the default sensitivity). The sidecar therefore refuses a
 * resource request whose URI is not written as the WHATWG URL serialisation gives it, and lists every
 * resource under that form (a server may list `file:///My Notes.md`; clients then read
 * `file:///My%20Notes.md`, which the server reads as the same).
 *
 * @module
 */

/** The canonical form of `uri`, or undefined when it is canonical already or not an absolute URL. */
export function nonCanonicalUri(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const canonical = new URL(uri).href;
  return canonical === uri ? undefined : canonical;
}
