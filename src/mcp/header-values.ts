/**
 * Reading the request headers MCP 2026-07-28 mirrors from the body (`MCP-Protocol-Version`, `Mcp-Method`,
 * `Mcp-Name`, `Mcp-Param-*`): the revision that introduced them, the Base64 sentinel form of a value, the
 * count of field lines a header was sent on (Node joins repeated lines into one value), and the protocol
 * version a request's `_meta` names. Shared by the parse stage and the `Mcp-Param-*` check.
 *
 * @module
 */
import { isRecord } from './action.js';

/** The first revision whose clients mirror body fields into headers, and whose servers must check them. */
export const HEADER_MIRRORING_SINCE = '2026-07-28';

const SENTINEL = /^=\?base64\?(.*)\?=$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** `ignoreBOM`: a leading U+FEFF is part of the value (a client encodes it), not a mark to strip. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A header value with the `=?base64?…?=` sentinel decoded (a value without the exact sentinel is literal);
 * undefined when the sentinel holds no valid Base64 or no valid UTF-8 (decoded leniently, bytes that are
 * not UTF-8 would become U+FFFD and match a body's U+FFFD).
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const m = SENTINEL.exec(raw);
  if (!m) return raw;
  const b64 = m[1] ?? '';
  if (!BASE64.test(b64)) return undefined;
  try {
    return UTF8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

/** How many field lines named `name` (lower case) `rawHeaders` (name, value, name, value, …) holds. */
export function fieldLines(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const h = rawHeaders[i] as string;
    if (h.length === name.length && h.toLowerCase() === name) n++;
  }
  return n;
}

/** The protocol version a request's `params._meta` names (2026-07-28), if it names one as a string. */
export function metaVersion(params: unknown): string | undefined {
  const meta = isRecord(params) && isRecord(params._meta) ? params._meta : undefined;
  const v = meta?.['io.modelcontextprotocol/protocolVersion'];
  return typeof v === 'string' ? v : undefined;
}
