/**
 * The command line of scripts/policy-toolchain.mjs: `ensure | build | test | fmt` and their options, what each
 * prints, and the exit codes (0 ok, 1 failure or ToolchainError, 2 no command). `runCli` is what the entry
 * file calls when it is executed.
 *
 * @module
 */
import { buildPolicy, fmtPolicy, testPolicy } from './commands.mjs';
import { DEFAULT_SRC } from './config.mjs';
import { ToolchainError } from './errors.mjs';
import { shortPath } from './files.mjs';
import { describe, ensureToolchain } from './opa.mjs';

const usage = `usage: node scripts/policy-toolchain.mjs <command> [options]
  ensure                                    find or build a policy toolchain and print which one
  build [--src DIR] [--out DIR] [--revision R] [-e ENTRYPOINT ...] [--no-input-schema]
        [--signing-key KEY [--signing-alg ALG] [--claims-file FILE] [--verification-key-id ID]]
                                            compile DIR (default ${DEFAULT_SRC}) to OUT/bundle.tar.gz and OUT/bundle/
                                            after type-checking its Rego against the policy input's schema
                                            (schema/policy-input.json; --no-input-schema skips that)
  test  [--src DIR] [-v] [--coverage [--threshold PCT]] [--no-input-schema]
                                            run the Rego unit tests (*_test.rego); a failing one is shown
                                            with the expression that failed, its values and its print()s;
                                            --coverage: then the share of policy lines they reach and the
                                            lines never reached (--threshold: fail below PCT %)
  fmt   [--check|--write] [--src DIR]       opa fmt (Rego v1); --check (default) fails on unformatted files
env: OPA_BIN (an opa executable), POLICY_REVISION (bundle revision)`;

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ src?: string, out?: string, revision?: string, entrypoints: string[], verbose: boolean, mode: 'check' | 'write', signing?: import('./commands.mjs').SigningOptions, coverage?: boolean, threshold?: number, inputSchema?: false }} */
  const o = { entrypoints: [], verbose: false, mode: 'check' };
  for (let i = 0; i < argv.length; i++) {
    const arg = /** @type {string} */ (argv[i]);
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new ToolchainError(`${flag} needs a value\n${usage}`);
      return v;
    };
    switch (flag) {
      case '--src':
        o.src = value();
        break;
      case '--out':
      case '-o':
        o.out = value();
        break;
      case '--revision':
        o.revision = value();
        break;
      case '--signing-key':
        o.signing = { ...o.signing, key: value() };
        break;
      case '--signing-alg':
        o.signing = { key: '', ...o.signing, alg: value() };
        break;
      case '--claims-file':
        o.signing = { key: '', ...o.signing, claimsFile: value() };
        break;
      case '--verification-key-id':
        o.signing = { key: '', ...o.signing, keyId: value() };
        break;
      case '-e':
      case '--entrypoint':
        o.entrypoints.push(value());
        break;
      case '--no-input-schema':
        o.inputSchema = false;
        break;
      case '--coverage':
        o.coverage = true;
        break;
      case '--threshold': {
        const v = value();
        const pct = Number(v);
        if (!/^\d+(\.\d+)?$/.test(v) || pct > 100)
          throw new ToolchainError(`--threshold takes a percentage from 0 to 100, not ${v}`);
        o.threshold = pct;
        o.coverage = true;
        break;
      }
      case '-v':
      case '--verbose':
        o.verbose = true;
        break;
      case '--check':
        o.mode = 'check';
        break;
      case '--write':
      case '-w':
        o.mode = 'write';
        break;
      default:
        throw new ToolchainError(`unknown option ${arg}\n${usage}`);
    }
  }
  return o;
}

/**
 * Prints the coverage (files not fully covered, with the lines never reached) and judges the threshold.
 * @param {import('./coverage.mjs').Coverage} c @param {number | undefined} threshold @returns {number} exit code
 */
function reportCoverage(c, threshold) {
  const pct = (/** @type {number} */ p) => `${(Math.floor(p * 10) / 10).toFixed(1)}%`;
  const width = Math.max(0, ...c.files.map((f) => f.file.length));
  process.stdout.write(
    `policy coverage: ${pct(c.percent)} of ${c.lines} lines in ${c.files.length} file(s), tests left out\n`,
  );
  for (const f of c.files) {
    if (f.notCovered.length === 0) continue;
    process.stdout.write(
      `  ${f.file.padEnd(width)}  ${pct(f.percent).padStart(6)}  never reached: ${f.notCovered.join(', ')}\n`,
    );
  }
  if (threshold !== undefined && c.percent < threshold) {
    process.stderr.write(`policy coverage: ${pct(c.percent)} is below the threshold of ${threshold}%\n`);
    return 1;
  }
  return 0;
}

/** Indents every line of `text` under a test's FAIL line. @param {string} text */
const indent = (text) => text.replace(/^/gm, '      ');

/** @param {string[]} argv @returns {Promise<number>} exit code */
export async function main(argv) {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return command ? 0 : 2;
  }
  const o = parseArgs(rest);
  switch (command) {
    case 'ensure': {
      const tc = await ensureToolchain();
      process.stdout.write(`policy toolchain: ${describe(tc)}\n`);
      return 0;
    }
    case 'build': {
      const r = await buildPolicy(o);
      const at = shortPath(r.bundle);
      process.stdout.write(
        `policy build: ${at} revision ${r.revision} (${r.files.join(', ')}) via ${r.toolchain.kind}\n`,
      );
      return 0;
    }
    case 'test': {
      const r = await testPolicy(o);
      for (const t of r.results) {
        const where = `${t.file}:${t.row}`;
        const id = `${t.package}.${t.name}`;
        if (t.error) process.stdout.write(`ERROR ${id} (${where}): ${t.error}\n`);
        else if (t.fail) process.stdout.write(`FAIL  ${id} (${where})\n`);
        else if (o.verbose)
          process.stdout.write(`${t.skip ? 'SKIP' : 'PASS'}  ${id} (${t.durationMs.toFixed(2)} ms)\n`);
        // Where it failed (file:line, the expression, its values), then what it printed; each line indented.
        if (t.explanation) process.stdout.write(`${indent(t.explanation)}\n`);
        if (t.output && (o.verbose || t.fail || t.error)) {
          // The last printed line ends its line even when print left it open.
          process.stdout.write(`${indent(t.output.endsWith('\n') ? t.output.slice(0, -1) : t.output)}\n`);
        }
      }
      process.stdout.write(`policy test: ${r.passed} passed, ${r.failed + r.errored} failed`);
      process.stdout.write(`${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
      if (r.results.length === 0) {
        process.stderr.write(`policy test: no tests found in ${o.src ?? DEFAULT_SRC}\n`);
        return 1;
      }
      if (r.failed + r.errored > 0) return 1;
      return r.coverage ? reportCoverage(r.coverage, o.threshold) : 0;
    }
    case 'fmt': {
      const r = await fmtPolicy(o);
      for (const f of r.files) process.stdout.write(`${f}\n`);
      if (o.mode === 'write') {
        process.stderr.write(`policy fmt: ${r.files.length} file(s) rewritten\n`);
        return 0;
      }
      if (r.files.length > 0) {
        // The command to fix it names the folder checked, so it fixes that folder, not the default one.
        const fix = o.src ? `npm run policy:fmt -- --write --src ${o.src}` : 'npm run policy:fmt -- --write';
        process.stderr.write(`policy fmt: ${r.files.length} file(s) not formatted; run: ${fix}\n`);
        return 1;
      }
      return 0;
    }
    default:
      throw new ToolchainError(`unknown command ${command}\n${usage}`);
  }
}

/**
 * Runs `main` and sets the process exit code; a ToolchainError is printed as the failing tool's output and
 * its message, anything else with its stack. @param {string[]} argv
 */
export function runCli(argv) {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      if (err instanceof ToolchainError) {
        if (err.output) process.stderr.write(err.output.endsWith('\n') ? err.output : `${err.output}\n`);
        process.stderr.write(`policy toolchain: error: ${err.message}\n`);
      } else {
        process.stderr.write(`policy toolchain: ${err?.stack ?? err}\n`);
      }
      process.exitCode = 1;
    },
  );
}
