/**
 * The demo's command line (examples/demo-args.ts): `--help` prints the usage (exit 0); an unknown flag, a
 * port that is no port or a log level that is none is one line saying so and the usage line (exit 2),
 * not a stack trace or a configuration error about `authn.resource`.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEMO_USAGE, DEMO_USAGE_LINE, parseDemoArgs } from '../../../examples/demo-args.js';
import { ROOT } from '../../helpers/policy.js';

describe('parseDemoArgs', () => {
  it('takes the flags, else the DEMO_* variables, else the defaults', () => {
    expect(parseDemoArgs([], {})).toEqual({
      kind: 'run',
      options: { once: false, port: 8080, adminPort: 9090, logLevel: 'warn' },
    });
    expect(
      parseDemoArgs(['--once', '--port', '0', '--admin-port', '0', '--log-level', 'info'], {
        DEMO_PORT: '1',
      }),
    ).toEqual({ kind: 'run', options: { once: true, port: 0, adminPort: 0, logLevel: 'info' } });
    expect(
      parseDemoArgs([], { DEMO_PORT: '18080', DEMO_ADMIN_PORT: '19090', DEMO_LOG_LEVEL: 'debug' }),
    ).toEqual({ kind: 'run', options: { once: false, port: 18080, adminPort: 19090, logLevel: 'debug' } });
    expect(parseDemoArgs(['--port', '65535'], {})).toMatchObject({ options: { port: 65535 } });
  });

  it('answers --help, and says what is wrong with a flag or value', () => {
    expect(parseDemoArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseDemoArgs(['-h', '--bogus'], {})).toEqual({
      kind: 'error',
      message: "Unknown option '--bogus'",
    });
    const error = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const r = parseDemoArgs(args, env);
      return r.kind === 'error' ? r.message : r.kind;
    };
    expect(error(['--port', 'abc'])).toBe('--port must be a port number, 0-65535 (is "abc")');
    expect(error(['--port', '65536'])).toBe('--port must be a port number, 0-65535 (is "65536")');
    expect(error(['--port=-1'])).toBe('--port must be a port number, 0-65535 (is "-1")');
    // Node's advice after the first sentence is left out.
    expect(error(['--port', '-1'])).toBe("Option '--port' argument is ambiguous");
    expect(error(['--port', '8e3'])).toBe('--port must be a port number, 0-65535 (is "8e3")');
    expect(error(['--admin-port', ' 90'])).toBe('--admin-port must be a port number, 0-65535 (is " 90")');
    expect(error([], { DEMO_ADMIN_PORT: 'x' })).toBe(
      'DEMO_ADMIN_PORT must be a port number, 0-65535 (is "x")',
    );
    expect(error(['--port'])).toBe("Option '--port <value>' argument missing");
    expect(error(['extra'])).toBe("Unexpected argument 'extra'");
    expect(error(['--port', '9090'])).toBe('the sidecar and the admin listener cannot share port 9090');
    expect(error(['--log-level', 'loud'])).toBe(
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent (is "loud")',
    );
  });
});

describe('examples/demo.ts', () => {
  const demo = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'examples/demo.ts', ...args],
        { cwd: ROOT, timeout: 60_000 },
        (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('prints its usage for --help and exits 0', async () => {
    const r = await demo('--help');
    expect(r).toEqual({ code: 0, stdout: DEMO_USAGE, stderr: '' });
    expect(r.stdout).toMatch(/^usage: npm run demo -- \[--once\] \[--port <n>\]/);
  });

  it('exits 2 with one line and the usage line for an unknown flag or a bad port', async () => {
    expect(await demo('--bogus')).toEqual({
      code: 2,
      stdout: '',
      stderr: `mcp-authz demo: Unknown option '--bogus'\n${DEMO_USAGE_LINE}\n`,
    });
    expect(await demo('--port', 'abc')).toEqual({
      code: 2,
      stdout: '',
      stderr: `mcp-authz demo: --port must be a port number, 0-65535 (is "abc")\n${DEMO_USAGE_LINE}\n`,
    });
  });
});
