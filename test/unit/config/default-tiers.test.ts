/**
 * The config's default rate-limit tiers (used for notifications, and for calls the policy gives no limit) hold
 * every role of the default policy, with the limit the policy gives that role's calls: an analyst's
 * notifications were held to the 10 / 1 default while its calls had 200 / 5.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as D from '../../../src/config/defaults.js';

interface RoleData {
  readonly rate_limit?: { readonly capacity: number; readonly refill_per_second: number };
}

describe('ratelimit.tiers defaults', () => {
  it("hold every role of the default policy at the policy's limit", () => {
    const data = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../../policies/data.json'), 'utf8'),
    ) as {
      authz: { roles: Record<string, RoleData> };
    };
    const tiers: Record<string, { capacity: number; refillPerSecond: number }> = D.RATELIMIT_TIERS;
    const roles = Object.entries(data.authz.roles);
    expect(roles.length).toBeGreaterThanOrEqual(5);
    for (const [role, r] of roles) {
      expect(tiers[role], role).toEqual({
        capacity: r.rate_limit?.capacity,
        refillPerSecond: r.rate_limit?.refill_per_second,
      });
    }
  });
});
