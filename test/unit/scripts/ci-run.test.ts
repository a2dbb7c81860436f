/**
 * .ci/run's verdict and summary, run on a copy with a fake npm (nothing installed, no suite run): a failure
 * of either suite fails CI, and each suite gets its summary line, also when it produced no results.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/policy.js';

/**
 * A fake npm: `ci` and `--version` succeed; `test` and `run test:node-image` exit with $MAIN / $IMAGE, and
 * write a results file unless they fail and $WRITE is "none" (a failure before vitest).
 */
const FAKE_NPM = `#!/bin/sh
case "$1" in
  --version) echo 0.0.0; exit 0 ;;
  ci) exit 0 ;;
  test) exit_code="$MAIN"; file=.cache/vitest-results.json ;;
  run) exit_code="$IMAGE"; file=.cache/vitest-results-node-image.json ;;
esac
if [ "$WRITE" != none ] || [ "$exit_code" = 0 ]; then
  echo '{"numPassedTests":3,"numFailedTests":'"$exit_code"'}' > "$file"
fi
exit "$exit_code"
`;

describe('.ci/run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ci-run-'));
    mkdirSync(join(dir, '.ci'));
    copyFileSync(join(ROOT, '.ci', 'run'), join(dir, '.ci', 'run'));
    mkdirSync(join(dir, 'bin'));
    for (const [name, text] of [
      ['npm', FAKE_NPM],
      ['redis-server', '#!/bin/sh\n'],
    ] as const) {
      writeFileSync(join(dir, 'bin', name), text);
      chmodSync(join(dir, 'bin', name), 0o755);
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function ci(env: { MAIN: string; IMAGE: string; WRITE?: string }): Promise<{ code: number; out: string }> {
    return new Promise((done) => {
      execFile(
        'bash',
        [join(dir, '.ci', 'run')],
        { env: { ...process.env, ...env, PATH: `${join(dir, 'bin')}${delimiter}${process.env.PATH}` } },
        (err, stdout) => done({ code: err ? Number(err.code) : 0, out: stdout }),
      );
    });
  }

  const lines = (out: string) => out.split('\n').filter((l) => /^node /.test(l) && l.includes(': '));

  it('passes when both suites pass, with a line for each', async () => {
    const { code, out } = await ci({ MAIN: '0', IMAGE: '0' });
    expect(code).toBe(0);
    expect(lines(out)).toEqual([
      `node ${process.version}: 3 passed, 0 failed`,
      'node (image release): 3 passed, 0 failed',
    ]);
  });

  it('fails when the image suite fails before any test ran, and says so', async () => {
    const { code, out } = await ci({ MAIN: '0', IMAGE: '1', WRITE: 'none' });
    expect(code).toBe(1);
    expect(lines(out)).toEqual([
      `node ${process.version}: 3 passed, 0 failed`,
      'node (image release): no results (exit 1)',
    ]);
  });

  it('fails when the first suite fails, and says the image suite did not run', async () => {
    const failed = await ci({ MAIN: '1', IMAGE: '0' });
    expect(failed.code).toBe(1);
    expect(lines(failed.out)).toEqual([
      `node ${process.version}: 3 passed, 1 failed (exit 1)`,
      'node (image release): not run (the suite above failed)',
    ]);
    const early = await ci({ MAIN: '1', IMAGE: '0', WRITE: 'none' });
    expect(early.code).toBe(1);
    expect(lines(early.out)).toEqual([
      `node ${process.version}: no results (exit 1)`,
      'node (image release): not run (the suite above failed)',
    ]);
  });
});
