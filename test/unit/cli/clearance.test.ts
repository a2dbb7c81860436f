/**
 * `keys create --clearance` against the configured policy (src/cli/clearance.ts): a level the default
 * policy's data does not list is named with the levels it does; a known level, a bundle that cannot be
 * read and a URL say nothing.
 *
 * @module
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { clearanceWarning } from '../../../src/cli/clearance.js';
import { defaultPolicyBundle } from '../../helpers/policy.js';

let bundle: string;

beforeAll(async () => {
  bundle = await defaultPolicyBundle();
});

describe('clearanceWarning', () => {
  it('names a level the policy does not list, with the levels it does', async () => {
    expect(await clearanceWarning(bundle, 'confidental')).toBe(
      `clearance "confidental" is not a sensitivity level of the policy at ${bundle} (public, internal, confidential, restricted): the policy ranks it below every level, so the key gets no more than its roles' clearance`,
    );
  });

  it('says nothing for a known level, an unreadable bundle or a URL', async () => {
    expect(await clearanceWarning(bundle, 'confidential')).toBeUndefined();
    expect(await clearanceWarning('/nonexistent/bundle', 'x')).toBeUndefined();
    expect(await clearanceWarning('https://bundles.example/b.tar.gz', 'x')).toBeUndefined();
  });
});
