/**
 * List replies under `policy.dryRun`: nothing is pruned, but the policy's `visible` still decides every item,
 * and the items it would hide are named in one info line per reply, so a rollout shows what callers would
 * stop seeing as well as what they would be refused.
 *
 * @module
 */
import type { ListItem, VisibleFn } from '../mcp/list-filter.js';

/** Names at most this many hidden items per line (the count is always whole). */
export const MAX_NAMED_HIDDEN = 50;

/**
 * Shows every item; calls `report` once per list reply (the items of one reply are decided in one go) with
 * the count and the first {@link MAX_NAMED_HIDDEN} names (`kind:name`) of those `visible` refused.
 */
export function showAllButReport(
  visible: VisibleFn,
  report: (hidden: { readonly count: number; readonly names: readonly string[] }) => void,
): VisibleFn {
  let names: string[] = [];
  let count = 0;
  return (item: ListItem) => {
    if (visible(item)) return true;
    if (count === 0) {
      queueMicrotask(() => {
        report({ count, names });
        names = [];
        count = 0;
      });
    }
    count++;
    if (names.length < MAX_NAMED_HIDDEN) names.push(`${item.kind}:${item.name}`);
    return true;
  };
}
