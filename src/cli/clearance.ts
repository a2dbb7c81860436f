/**
 * A check for `keys create --clearance`: the clearance is a level of the policy's data (the default policy's
 * `authz.sensitivity_levels`), and a misspelt one is no error to the policy, which ranks an unknown
 * clearance below every level. The configured bundle is read when it is a local path; a level it does not
 * list is named in a warning with the levels it does list. Nothing is said when the bundle cannot be read
 * or lists no levels (another policy's data).
 *
 * @module
 */

import { readBundle } from '../policy/bundle.js';
import { isUrl } from '../policy/bundle-download.js';

/** The warning for `level` against the policy at `bundle`, or undefined when there is none to give. */
export async function clearanceWarning(bundle: string, level: string): Promise<string | undefined> {
  if (isUrl(bundle)) return undefined;
  let levels: unknown;
  try {
    const data = (await readBundle(bundle)).data as { authz?: { sensitivity_levels?: unknown } };
    levels = data.authz?.sensitivity_levels;
  } catch {
    return undefined;
  }
  if (!Array.isArray(levels) || !levels.every((l) => typeof l === 'string')) return undefined;
  if (levels.includes(level)) return undefined;
  return `clearance "${level}" is not a sensitivity level of the policy at ${bundle} (${levels.join(', ')}): the policy ranks it below every level, so the key gets no more than its roles' clearance`;
}
