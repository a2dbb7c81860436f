/**
 * Test coverage of a policy folder: `opa test --coverage` (tools/policyc takes the same flag) reports the
 * lines of every module the passing tests evaluated and those they never reached. Test files are left out of
 * the figures: what matters is how much of the policy the tests exercise.
 *
 * @module
 */
import { ToolchainError } from './errors.mjs';
import { run } from './process.mjs';

/**
 * @typedef {{ file: string, percent: number, covered: number, notCovered: string[] }} FileCoverage
 * @typedef {{ percent: number, lines: number, files: FileCoverage[] }} Coverage
 */

/**
 * Runs the tests of `cwd` again with coverage (call it once they all passed) and summarises the report.
 * @param {string} bin opa or policyc @param {string} capsFile @param {string} cwd the policy folder
 * @returns {Promise<Coverage>}
 */
export async function measureCoverage(bin, capsFile, cwd) {
  const res = await run(bin, ['test', '--coverage', '--capabilities', capsFile, '.'], { cwd });
  let report;
  try {
    report = JSON.parse(res.stdout);
  } catch {
    throw new ToolchainError('policy coverage could not be measured', { output: res.stderr + res.stdout });
  }
  return summarise(report);
}

/**
 * The coverage of the report's non-test files: per file, its share of covered lines and the uncovered line
 * ranges (`41`, `97-99`), and the share over all of them.
 * @param {any} report `opa test --coverage` JSON @returns {Coverage}
 */
export function summarise(report) {
  const rows = (/** @type {any[] | undefined} */ ranges) =>
    (ranges ?? []).map((r) => ({ start: Number(r.start?.row), end: Number(r.end?.row) }));
  const count = (/** @type {{ start: number, end: number }[]} */ ranges) =>
    ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
  /** @type {FileCoverage[]} */
  const files = [];
  let covered = 0;
  let lines = 0;
  for (const [file, f] of Object.entries(report?.files ?? {})) {
    if (file.endsWith('_test.rego')) continue;
    const yes = count(rows(f.covered));
    const no = rows(f.not_covered);
    const total = yes + count(no);
    if (total === 0) continue;
    covered += yes;
    lines += total;
    files.push({
      file,
      percent: (100 * yes) / total,
      covered: yes,
      notCovered: no.map((r) => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`)),
    });
  }
  files.sort((a, b) => a.file.localeCompare(b.file));
  return { percent: lines === 0 ? 100 : (100 * covered) / lines, lines, files };
}
