/**
 * Who a block or a window is about, as strings. A subject block's value is `<tenant>/<subject>` with
 * both parts `encodePart`-encoded; the tenant `*` means any tenant (an operator's block of a subject
 * everywhere) and an empty tenant a caller without one. Addresses are normalised, so `::ffff:10.0.0.1` and
 * `10.0.0.1`, or two spellings of one IPv6 address, are the same target.
 *
 * @module
 */
import { isIP } from 'node:net';
import { encodePart } from '../store/key-parts.js';

/**
 * A tool name longer than this is counted under its SHA-256 and reported cut to this length: the caller
 * picks the name, and its window and pending counts live for minutes (a megabyte name cost a megabyte each).
 */
export const MAX_TARGET_TOOL_CHARS = 128;

/**
 * The one count of a subject's calls to tool names the upstream never listed: each invented name would open
 * a window of its own in the store, and a per-tool rule would never see a caller trying many names.
 */
export const UNLISTED_TOOLS = '(unlisted tools)';

export const ANY_TENANT = '*';

/** `acme/alice`; `/alice` for a caller without a tenant. */
export function subjectBlockValue(tenant: string | null, subject: string): string {
  return `${encodePart(tenant)}/${encodePart(subject)}`;
}

/** `*\/alice`: the subject in every tenant. */
export function anyTenantBlockValue(subject: string): string {
  return `${ANY_TENANT}/${encodePart(subject)}`;
}

/**
 * An operator's `--subject`: `tenant/subject`, `*\/subject` (any tenant), `/subject` (no tenant) or a bare
 * `subject` (any tenant). The subject is everything after the first `/`.
 */
export function parseSubjectArg(text: string): string {
  const slash = text.indexOf('/');
  if (slash === -1) {
    if (!text) throw new Error('empty subject');
    return anyTenantBlockValue(text);
  }
  const tenant = text.slice(0, slash);
  const subject = text.slice(slash + 1);
  if (!subject) throw new Error(`no subject after "/" in "${text}" (use tenant/subject)`);
  return tenant === ANY_TENANT ? anyTenantBlockValue(subject) : subjectBlockValue(tenant || null, subject);
}

/**
 * An `X-Forwarded-For` entry without the port some proxies add (Azure Application Gateway writes
 * `203.0.113.7:50123`, others `[2001:db8::7]:443`): with it, each connection of one client was a client of
 * its own to the abuse rules and the per-client shares.
 */
export function forwardedAddress(entry: string): string {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed?.[1]) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  return v4?.[1] ?? text;
}

/** Canonical text of an address; anything that is not an IP is returned trimmed and lower-cased. */
export function normalizeIp(ip: string): string {
  const text = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped?.[1]) return mapped[1];
  if (isIP(text) === 6) {
    let canonical: string;
    try {
      canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    } catch {
      return text;
    }
    // An IPv4-mapped address written in hex (`::ffff:a00:1`, as URL serialisation also gives it) is the
    // IPv4 address (10.0.0.1), so blocks and rules see one client, not two.
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (hex?.[1] && hex[2]) {
      const hi = Number.parseInt(hex[1], 16);
      const lo = Number.parseInt(hex[2], 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return canonical;
  }
  return text;
}

/**
 * The /64 an IPv6 address belongs to (`2001:db8:0:1::/64`), the unit one subscriber or host is handed:
 * counting and blocking single IPv6 addresses would let a client rotate through its /64 unhindered, and
 * fill the store with a block per address. Undefined for anything else.
 */
export function ipv6Prefix64(ip: string): string | undefined {
  const groups = ipv6Groups(normalizeIp(ip));
  if (groups === undefined) return undefined;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a canonical IPv6 address (from {@link normalizeIp}), else undefined. */
function ipv6Groups(addr: string): number[] | undefined {
  if (isIP(addr) !== 6) return undefined;
  const [head = '', tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * The IPv4 client a NAT64 gateway's well-known prefix (`64:ff9b::/96`, RFC 6052) carries in its last 32 bits:
 * every IPv4 client behind the gateway shares the prefix's /64, so one abuser there would block them all.
 */
function nat64Client(addr: string): string | undefined {
  const g = ipv6Groups(addr);
  if (g?.[0] !== 0x64 || g[1] !== 0xff9b || g[2] || g[3] || g[4] || g[5]) return undefined;
  const hi = g[6] as number;
  const lo = g[7] as number;
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** What the `auth_failures_ip` rules count and block: an IPv4 address, or an IPv6 address's /64. */
export function abuseIpTarget(ip: string): string {
  const addr = normalizeIp(ip);
  return nat64Client(addr) ?? ipv6Prefix64(addr) ?? addr;
}
