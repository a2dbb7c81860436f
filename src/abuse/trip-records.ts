/**
 * The records a tripped rule produces, built from the pending count that tripped it: the `BlockEntry` a
 * `block` rule writes (an IPv4 address or an IPv6 /64 for `auth_failures_ip`, the subject in its tenant for
 * `tool_calls`, the key's subject in its own tenant for `auth_failures_subject`) and the frozen `AbuseEvent`
 * that is logged and handed to `onTrip`. Pure functions of their arguments.
 *
 * @module
 */
import type { AbuseEvent, BlockEntry } from '../store/store.js';
import type { Pending } from './pending-counts.js';
import { subjectBlockValue } from './targets.js';
import type { AbuseRule } from './types.js';

/** The block a `block` rule writes for this trip, lasting the rule's `blockMs` from `now`. */
export function tripBlockEntry(p: Pending, count: number, now: number): BlockEntry {
  const { rule, blockMs } = p.rule;
  return rule.kind === 'auth_failures_ip'
    ? blockEntry('ip', p.ip ?? '', rule, count, now, blockMs)
    : blockEntry('subject', subjectBlockValue(p.tenant, p.subject ?? ''), rule, count, now, blockMs);
}

/** The event for this trip; `blockedUntil` is the block's end (ISO), null for `alert` rules. */
export function tripEvent(p: Pending, count: number, now: number, blockedUntil: string | null): AbuseEvent {
  const rule = p.rule.rule;
  return Object.freeze({
    rule: rule.name,
    kind: rule.kind,
    subject: p.subject,
    tenant: p.tenant,
    ip: p.ip,
    tool: p.tool,
    count,
    windowSec: rule.windowSec,
    action: rule.action,
    blockedUntil,
    at: new Date(now).toISOString(),
  });
}

function blockEntry(
  target: BlockEntry['target'],
  value: string,
  rule: Readonly<AbuseRule>,
  count: number,
  now: number,
  blockMs: number,
): BlockEntry {
  const what = rule.kind === 'tool_calls' ? `calls of ${rule.tool ?? 'a tool'}` : 'failed authentications';
  return Object.freeze({
    target,
    value,
    reason: `abuse rule ${rule.name}: ${count} ${what} in ${rule.windowSec} s`,
    until: new Date(now + blockMs).toISOString(),
    createdAt: new Date(now).toISOString(),
  });
}
