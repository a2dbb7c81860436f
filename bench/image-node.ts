/**
 * The `node` of the release the container image runs, for the benchmarks that measure on it as well
 * (`scripts/node-image.mjs ensure`: fetched once into .cache/); `BENCH_NODE_IMAGE=0` skips it.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';

/** The image's `node`, or why there is none to measure on. */
export function imageNode(): { readonly node: string } | { readonly skipped: string } {
  if (process.env.BENCH_NODE_IMAGE === '0') return { skipped: 'skipped (BENCH_NODE_IMAGE=0)' };
  try {
    const node = execFileSync(process.execPath, ['scripts/node-image.mjs', 'ensure'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    return { node };
  } catch (err) {
    return { skipped: `not measured: ${String((err as Error).message).split('\n')[0]}` };
  }
}
