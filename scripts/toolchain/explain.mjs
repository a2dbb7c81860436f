/**
 * Why a Rego unit test failed: reruns only the failing tests with `--var-values`, with which `opa test` and
 * tools/policyc alike trace them and print, for each failure, the failed expression with its file:line and the
 * values of its variables (OPA's PrettyReporter), and cuts that report into one explanation per test.
 *
 * The first run is never traced: tracing every test of policies/ takes several times the memory and a second
 * longer, for the few tests that fail.
 *
 * @module
 */
import { run } from './process.mjs';

/**
 * The explanation of each failing test, by `package.name` (as `opa test` names tests); a test the rerun does not
 * explain (an older opa without --var-values, a rerun that fails otherwise) is left out.
 * @param {string} bin opa or policyc @param {string} capsFile @param {string} cwd the policy folder
 * @param {readonly { package: string, name: string }[]} failing
 * @returns {Promise<Map<string, string>>}
 */
export async function explainFailures(bin, capsFile, cwd, failing) {
  if (failing.length === 0) return new Map();
  const res = await run(
    bin,
    ['test', '--var-values', '--capabilities', capsFile, '--run', runPattern(failing), '.'],
    { cwd },
  );
  return parseFailures(res.stdout);
}

/**
 * A `--run` pattern for these tests only. `opa test` matches it against the rule's path, where a second rule
 * of the same name, reported as `test_x#01`, is `data.pkg["test_x#01"]`: match the name as a whole word after
 * either form. @param {readonly { package: string, name: string }[]} tests
 */
function runPattern(tests) {
  const quote = (/** @type {string} */ s) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  const one = (/** @type {{ package: string, name: string }} */ t) =>
    `${quote(t.package)}(?:\\.|\\[")${quote(t.name.replace(/#\d+$/, ''))}\\b`;
  return `^(?:${[...new Set(tests.map(one))].join('|')})`;
}

/**
 * Cuts the FAILURES section of `opa test --var-values` (pretty) output into one text per failing test:
 * `data.pkg.test_x: FAIL (1ms)` starts a test's block, `SUMMARY` ends the section.
 * @param {string} stdout @returns {Map<string, string>}
 */
export function parseFailures(stdout) {
  const section = /^FAILURES\n-+\n([\s\S]*?)^SUMMARY$/m.exec(stdout)?.[1] ?? '';
  /** @type {Map<string, string>} */
  const byTest = new Map();
  /** @type {string | undefined} */
  let id;
  /** @type {string[]} */
  let lines = [];
  const flush = () => {
    const text = id === undefined ? '' : tidy(lines);
    if (id !== undefined && text) byTest.set(id, text);
  };
  for (const line of section.split('\n')) {
    const head = /^(\S.*): FAIL \([^)]*\)$/.exec(line);
    if (head) {
      flush();
      id = head[1];
      lines = [];
    } else {
      lines.push(line);
    }
  }
  flush();
  return byTest;
}

/**
 * One test's block, indented from column 0: leading tabs become two spaces, trailing blanks go, and the lines
 * under each `file:row:` sit two spaces under it (OPA pads an expression to its source column, which can be
 * far right in a one-line test). The columns within a block, where `|` points at a value, are kept.
 * @param {string[]} raw
 */
function tidy(raw) {
  const lines = raw.map((l) => l.replace(/^\s+/, (ws) => ws.replace(/\t/g, '  ')).trimEnd());
  while (lines[0] === '') lines.shift();
  while (lines.at(-1) === '') lines.pop();
  const indent = (/** @type {string} */ l) => l.length - l.trimStart().length;
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i]);
    out.push(line);
    if (!/^\s*\S+:\d+:$/.test(line)) continue;
    let end = i + 1;
    while (
      end < lines.length &&
      (lines[end] === '' || indent(/** @type {string} */ (lines[end])) > indent(line))
    )
      end++;
    const body = lines.slice(i + 1, end);
    const cut = Math.min(...body.filter(Boolean).map(indent));
    const pad = ' '.repeat(indent(line) + 2);
    for (const l of body) out.push(l ? pad + l.slice(cut) : '');
    i = end - 1;
  }
  const cut = Math.min(...out.filter(Boolean).map(indent));
  return out.map((l) => l.slice(cut)).join('\n');
}
