/**
 * The caller's address as the sidecar determines it (the policy's `context.client_ip`, the audit record's
 * `client_ip`, the abuse rules' and the rate limits' key): behind `trustProxyHops` trusted proxies, the entry
 * of `X-Forwarded-For` the outermost of them wrote, counted from the right (the entries to its left are the
 * client's own to write); else the connecting peer.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { forwardedAddress, normalizeIp } from '../abuse/targets.js';

export function clientIpOf(req: IncomingMessage, trustProxyHops: number): string {
  if (trustProxyHops > 0) {
    const xff = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const candidate = xff[xff.length - trustProxyHops];
    if (candidate) return normalizeIp(forwardedAddress(candidate));
  }
  return normalizeIp(req.socket.remoteAddress ?? '');
}
