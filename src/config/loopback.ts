/**
 * Whether a URL's host is this machine's loopback, for the config checks that care (a bundle token sent in
 * the clear, an upstream that is the sidecar itself).
 *
 * @module
 */
import { isIPv4 } from 'node:net';

/**
 * A URL hostname (`[::1]` bracketed or not) that is loopback: `localhost`, `::1`, or an IPv4 address in
 * 127/8 — only as an address: `127.example.com` is a name on the network.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}
