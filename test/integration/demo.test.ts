/**
 * The README's demo command, run as a user would (`npm run demo`), on free ports: it must start the
 * example server, the dev issuer and the sidecar, and make its allowed and denied calls.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/policy.js';

describe('npm run demo', () => {
  it('starts everything and shows one allowed and one denied call', async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'npm',
        ['run', '--silent', 'demo', '--', '--once', '--port', '0', '--admin-port', '0'],
        { cwd: ROOT, timeout: 240_000 },
        (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^ {2}guest {4}TOKEN=eyJ/m);
    expect(out.stdout).toMatch(/^ {2}analyst {2}TOKEN=eyJ/m);
    expect(out.stdout).toMatch(/^ {2}admin {4}TOKEN=eyJ/m);
    expect(out.stdout).toMatch(/^ALLOWED analyst → read_customer: .*c-1/m);
    expect(out.stdout).toMatch(/^DENIED {2}analyst → delete_customer: MCP error -32003: Forbidden: /m);
  });
});
