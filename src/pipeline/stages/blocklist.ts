/**
 * Blocks set by abuse detection (or an operator) are enforced on every request by every replica, from a
 * local snapshot: an IP block before authentication (a blocked address costs no token check), a subject
 * block right after it.
 *
 * @module
 */
import type { AbuseDetector } from '../../abuse/detector.js';
import { RateLimitError } from '../../errors/errors.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function blocklistStage(detector: AbuseDetector, target: 'ip' | 'subject'): Stage {
  return {
    name: 'blocklist',
    run(ctx) {
      const principal = target === 'subject' ? (ctx.principal ?? null) : null;
      if (target === 'subject' && !principal) return CONTINUE;
      const block = detector.isBlocked(principal, ctx.clientIp);
      if (!block || (target === 'ip' && block.target !== 'ip')) return CONTINUE;
      const retry = Math.max(1, Math.ceil((Date.parse(block.until) - ctx.now.getTime()) / 1000));
      return deny(
        new RateLimitError(
          'ERR_ABUSE_BLOCKED',
          `Forbidden: ${block.target === 'ip' ? 'this address' : 'this caller'} is blocked until ${block.until}`,
          {
            data: { blocked_until: block.until, reason: block.reason },
            headers: { 'retry-after': String(retry) },
          },
        ),
      );
    },
  };
}
